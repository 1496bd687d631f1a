import CustodyCore
import SwiftUI

/// The screens a role works with. Navigation only: custody-core checks every action itself and
/// its refusal is shown as it is.
enum Screen: Hashable {
    case receiving
    case picking
    case counts
    case returns
    case approvals
    /// What the ledger could not reconcile; managers only (core lets only them resolve).
    case conflicts
    case route
    case sync
    /// Shown only when core says the person may see it (managers and compliance).
    case stateSubmissions
}

extension Role {
    var screens: [Screen] {
        switch self {
        case .floorStaff:
            return [.receiving, .picking, .counts, .returns, .sync]
        case .driver:
            return [.route, .sync]
        case .manager:
            // Routes: the office's view of deliveries (core lets managers confirm stops too).
            return [.receiving, .picking, .counts, .returns, .approvals, .conflicts, .route, .sync]
        case .admin:
            // Admins run devices and accounts, not stock: core refuses them every stock action,
            // count and approval (as on Android).
            return [.sync]
        case .compliance:
            return [.counts, .approvals, .sync]
        }
    }

    /// Whether to offer opening and closing counts (core lets only managers; it refuses anyone
    /// else anyway).
    var managesCounts: Bool {
        self == .manager
    }

    var title: String {
        switch self {
        case .floorStaff: return "Floor staff"
        case .driver: return "Driver"
        case .manager: return "Manager"
        case .compliance: return "Compliance"
        case .admin: return "Admin"
        }
    }
}

@MainActor
struct HomeView: View {
    @EnvironmentObject private var model: AppModel
    let user: SignedInUser
    /// Core's answer: may this person see the state submissions screen.
    @State private var seesState = false

    var body: some View {
        NavigationStack {
            List {
                Section {
                    SyncSummaryRow()
                }
                Section("\(user.name) · \(user.role.title)") {
                    ForEach(user.role.screens + (seesState ? [.stateSubmissions] : []), id: \.self) { screen in
                        NavigationLink(value: screen) {
                            label(for: screen)
                        }
                    }
                }
            }
            .navigationTitle(model.identity?.facilityName ?? "Custody")
            .task(id: user.id) {
                seesState = (try? await model.call { client in try client.maySeeStateSubmissions() }) ?? false
            }
            .navigationDestination(for: Screen.self) { screen in
                destination(for: screen)
            }
            .navigationDestination(for: CountSessionSummary.self) { session in
                CountingView(sessionId: session.id, user: user)
            }
            .navigationDestination(for: OutboundDestination.self) { destination in
                switch destination {
                case .order(let id):
                    PickView(orderId: id)
                case .route(let id):
                    RouteView(manifestId: id)
                case .stop(let manifestId, let number):
                    StopView(manifestId: manifestId, number: number)
                }
            }
            .toolbar {
                ToolbarItem(placement: .navigationBarTrailing) {
                    Button("Sign out") {
                        Task { await model.signOut() }
                    }
                }
            }
        }
    }

    @ViewBuilder
    private func label(for screen: Screen) -> some View {
        switch screen {
        case .receiving:
            Label("Receiving", systemImage: "shippingbox")
        case .picking:
            Label("Pick & pack", systemImage: "cart")
        case .counts:
            Label("Counts", systemImage: "number.square")
        case .returns:
            Label("Returns", systemImage: "arrow.uturn.backward.circle")
        case .approvals:
            Label("Approvals", systemImage: "checkmark.seal")
        case .conflicts:
            Label("Conflicts", systemImage: "exclamationmark.triangle")
        case .route:
            Label(user.role == .driver ? "My route" : "Routes", systemImage: "box.truck")
        case .sync:
            Label("Sync", systemImage: "arrow.triangle.2.circlepath")
        case .stateSubmissions:
            Label("State submissions", systemImage: "building.columns")
        }
    }

    @ViewBuilder
    private func destination(for screen: Screen) -> some View {
        switch screen {
        case .receiving:
            ReceivingView()
        case .picking:
            PickOrdersView()
        case .counts:
            CountSessionsView(user: user)
        case .returns:
            ReturnsView()
        case .approvals:
            ApprovalsView()
        case .conflicts:
            ConflictsView()
        case .route:
            RoutesView()
        case .sync:
            SyncStatusView()
        case .stateSubmissions:
            StateSubmissionsView()
        }
    }
}
