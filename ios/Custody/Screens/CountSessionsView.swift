import CustodyCore
import SwiftUI

/// Count sessions on this phone, newest first; managers open new ones.
@MainActor
struct CountSessionsView: View {
    @EnvironmentObject private var model: AppModel
    let user: SignedInUser
    @State private var sessions: [CountSessionSummary] = []
    @State private var error: String?
    @State private var opening = false

    var body: some View {
        List {
            if let error = error {
                Text(error).foregroundColor(.red)
            }
            if sessions.isEmpty && error == nil {
                Text("No counts on this phone yet. A manager opens one; sync to see it.")
                    .foregroundColor(.secondary)
            }
            ForEach(sessions, id: \.id) { session in
                NavigationLink(value: session) {
                    VStack(alignment: .leading, spacing: 4) {
                        Text(session.name).font(.headline)
                        Text("\(session.status.title) · round \(session.round) · \(session.packagesInScope) packages · opened by \(session.openedBy)")
                            .font(.caption)
                            .foregroundColor(.secondary)
                    }
                }
            }
        }
        .navigationTitle("Counts")
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task(id: model.revision(.countSessions)) {
            await load()
        }
        .toolbar {
            if user.role.managesCounts {
                ToolbarItem(placement: .navigationBarTrailing) {
                    Button("New count") { opening = true }
                }
            }
        }
        .sheet(isPresented: $opening) {
            NewCountView()
        }
    }

    private func load() async {
        do {
            sessions = try await model.call { client in try client.countSessions() }
            error = nil
        } catch {
            self.error = custodyMessage(error)
        }
    }
}

extension CountStatus {
    var title: String {
        switch self {
        case .counting: return "Counting"
        case .recount: return "Recount"
        case .closed: return "Closed"
        }
    }
}

/// Opens a blind count over some locations and/or product categories (managers).
@MainActor
struct NewCountView: View {
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss
    @State private var name = ""
    @State private var locations = ""
    @State private var categories = ""
    @State private var error: String?

    var body: some View {
        NavigationStack {
            Form {
                TextField("Name (e.g. Vault A weekly)", text: $name)
                Section {
                    TextEditor(text: $locations).frame(minHeight: 80)
                } header: {
                    Text("Locations, one per line")
                }
                Section {
                    TextEditor(text: $categories).frame(minHeight: 80)
                } header: {
                    Text("Product categories, one per line")
                }
                if let error = error {
                    Text(error).foregroundColor(.red)
                }
            }
            .autocorrectionDisabled()
            .navigationTitle("New count")
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("Cancel") { dismiss() }
                }
                ToolbarItem(placement: .confirmationAction) {
                    Button("Open") { Task { await open() } }
                }
            }
        }
    }

    private func open() async {
        let scope = CountScope(locations: lines(locations), categories: lines(categories))
        let name = self.name
        do {
            _ = try await model.call { client in try client.openCount(name: name, scope: scope) }
            dismiss()
        } catch {
            self.error = custodyMessage(error)
        }
    }

    private func lines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).map(String.init)
    }
}
