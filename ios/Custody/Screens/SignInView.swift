import CustodyCore
import SwiftUI

/// Shared handhelds: each person scans their badge and types their PIN. Works offline against the
/// roster from the last sync.
@MainActor
struct SignInView: View {
    @EnvironmentObject private var model: AppModel
    @State private var badge = ""
    @State private var pin = ""
    @State private var error: String?
    @State private var working = false
    @FocusState private var field: Field?

    private enum Field {
        case badge
        case pin
    }

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    TextField("Scan or type your badge", text: $badge)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                        .focused($field, equals: .badge)
                        .submitLabel(.next)
                        .onSubmit { field = .pin }
                    SecureField("PIN", text: $pin)
                        .keyboardType(.numberPad)
                        .focused($field, equals: .pin)
                        .submitLabel(.go)
                        .onSubmit { Task { await signIn() } }
                } footer: {
                    Text("Scan your badge with the scanner, then type your PIN.")
                }
                if let error = error {
                    Section {
                        Text(error).foregroundColor(.red)
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
                // A badge scan lands here while no field is being edited.
                ScannerInput(active: field == nil) { raw in
                    badge = raw
                    field = .pin
                }
                .frame(width: 0, height: 0)
            )
        }
    }

    private func signIn() async {
        working = true
        error = nil
        do {
            try await model.signIn(badge: badge, pin: pin)
            pin = ""
        } catch {
            pin = ""
            self.error = custodyMessage(error)
            ScanFeedback.play(.bad(self.error ?? ""))
        }
        working = false
    }
}
