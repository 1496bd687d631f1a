import CustodyCore
import SwiftUI

/// Shared handhelds: each person scans their badge and types their PIN. Core checks them: the
/// first time a person signs in on this phone it asks the server (which registers a signing key
/// for them here); after that their PIN opens that key on the phone, offline. Nobody stays signed
/// in across an app restart, and a sync signs out a person who was deactivated or got a new PIN.
@MainActor
struct SignInView: View {
    @EnvironmentObject private var model: AppModel
    @State private var badge = ""
    @State private var pin = ""
    @State private var error: String?
    /// How core is checking the sign-in under way; nil when nothing runs.
    @State private var checking: SignInCheck?
    /// The last try had to reach the server and could not (core's `.Offline`).
    @State private var needsNetwork = false
    @FocusState private var field: Field?

    private enum Field {
        case badge
        case pin
    }

    /// With the key this phone holds (the PIN opens it), or with the server (no key here yet).
    private enum SignInCheck {
        case onPhone
        case withServer

        var prompt: String {
            switch self {
            case .onPhone:
                return "Checking your PIN…"
            case .withServer:
                return "Checking your badge and PIN with the server…"
            }
        }
    }

    private var working: Bool { checking != nil }

    var body: some View {
        NavigationStack {
            Form {
                if let notice = model.signedOutNotice {
                    Section {
                        Text(notice)
                    }
                }
                Section {
                    TextField("Scan or type your badge", text: $badge)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                        .focused($field, equals: .badge)
                        .submitLabel(.next)
                        .onSubmit { field = .pin }
                        .disabled(working)
                    SecureField("PIN", text: $pin)
                        .keyboardType(.numberPad)
                        .focused($field, equals: .pin)
                        .submitLabel(.go)
                        .onSubmit { Task { await signIn() } }
                        .disabled(working)
                } footer: {
                    Text("Scan your badge with the scanner, then type your PIN.")
                }
                if let checking = checking {
                    Section {
                        HStack(spacing: 12) {
                            ProgressView()
                            Text(checking.prompt)
                        }
                        if checking == .withServer {
                            Text("This needs the network; later sign-ins on this phone work without it.")
                                .font(.footnote)
                        }
                    }
                }
                if let error = error {
                    Section {
                        Text(error).foregroundColor(.red)
                        if needsNetwork {
                            Text("Connect this phone to the network (Wi-Fi or mobile data), then enter your PIN again.")
                        }
                    }
                }
                Section {
                    Button("Sign in") {
                        Task { await signIn() }
                    }
                    .disabled(working)
                }
                if let identity = model.identity {
                    Section("This phone") {
                        LabeledContent("Facility", value: identity.facilityName)
                        LabeledContent("Licence", value: identity.facility)
                    }
                }
            }
            .navigationTitle("Sign in")
            .background(
                // A badge scan lands here while no field is being edited and no check runs.
                ScannerInput(active: field == nil && !working) { raw in
                    badge = raw
                    pin = ""
                    error = nil
                    needsNetwork = false
                    field = .pin
                }
                .frame(width: 0, height: 0)
            )
        }
    }

    private func signIn() async {
        guard !working else { return }
        // The PIN goes to core once; the field is empty whatever comes back.
        let typed = pin
        pin = ""
        error = nil
        needsNetwork = false
        checking = await model.signsInHere(badge: badge) ? .onPhone : .withServer
        do {
            try await model.signIn(badge: badge, pin: typed)
        } catch {
            // Core's sentence as it is: a wrong PIN (with the tries left), no network when the
            // server must be asked, too many tries on the server.
            self.error = custodyMessage(error)
            if let custodyError = error as? CustodyError, case .Offline = custodyError {
                needsNetwork = true
            }
            field = .pin
            ScanFeedback.play(.bad(self.error ?? ""))
        }
        checking = nil
    }
}
