import CustodyCore
import SwiftUI

/// First start: a manager gives this phone a one-time enrolment code for the facility's server.
@MainActor
struct EnrolView: View {
    @EnvironmentObject private var model: AppModel
    @State private var serverUrl = ""
    @State private var code = ""
    @State private var deviceName = ""
    @State private var working = false
    @State private var error: String?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    TextField("Server address (https://…)", text: $serverUrl)
                        .keyboardType(.URL)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                    TextField("Enrolment code", text: $code)
                        .textInputAutocapitalization(.characters)
                        .autocorrectionDisabled()
                    TextField("Name of this phone (e.g. Vault handheld 2)", text: $deviceName)
                } footer: {
                    Text("A manager issues the code. This phone then syncs the people who may sign in here.")
                }
                if let error = error {
                    Section {
                        Text(error).foregroundColor(.red)
                    }
                }
                Section {
                    Button {
                        Task { await enrol() }
                    } label: {
                        if working {
                            ProgressView()
                        } else {
                            Text("Enrol this phone")
                        }
                    }
                    .disabled(working)
                }
            }
            .navigationTitle("Enrol")
        }
    }

    private func enrol() async {
        working = true
        error = nil
        do {
            try await model.enrol(serverUrl: serverUrl, code: code, deviceName: deviceName)
        } catch {
            self.error = custodyMessage(error)
        }
        working = false
    }
}
