import CustodyCore
import SwiftUI

/// Online or offline, how many changes wait, when the phone last synced and what went wrong:
/// never a silent failure.
@MainActor
struct SyncStatusView: View {
    @EnvironmentObject private var model: AppModel
    @State private var error: String?

    var body: some View {
        List {
            Section {
                SyncSummaryRow()
                if let status = model.syncStatus {
                    LabeledContent("Waiting to sync", value: "\(status.pending)")
                    if status.rejected > 0 {
                        LabeledContent("Refused by the server", value: "\(status.rejected)")
                    }
                    LabeledContent("Last synced") {
                        RelativeTime(date: status.lastSuccess)
                    }
                    LabeledContent("Last attempt") {
                        RelativeTime(date: status.lastAttempt)
                    }
                    if let lastError = status.lastError {
                        Text(lastError).foregroundColor(.red)
                    }
                }
            }
            Section {
                Button {
                    Task { await sync() }
                } label: {
                    if model.syncing {
                        ProgressView()
                    } else {
                        Text("Sync now")
                    }
                }
                .disabled(model.syncing)
                if let error = error {
                    Text(error).foregroundColor(.red)
                }
                if let report = model.lastReport {
                    Text("Last sync: \(report.accepted) sent and accepted, \(report.rejected) refused, \(report.pulled) received.")
                        .font(.caption)
                    ForEach(report.docRefusals, id: \.docId) { refusal in
                        Text(refusal.reason).font(.caption).foregroundColor(.red)
                    }
                }
            }
            if let identity = model.identity {
                Section("This phone") {
                    LabeledContent("Facility", value: identity.facilityName)
                    LabeledContent("Licence", value: identity.facility)
                    LabeledContent("Server", value: identity.serverUrl)
                    LabeledContent("Device", value: identity.deviceId)
                    LabeledContent("Core", value: coreVersion())
                }
            }
        }
        .navigationTitle("Sync")
    }

    private func sync() async {
        error = await model.syncNow()
    }
}

/// One line: online or offline, and how many changes wait.
@MainActor
struct SyncSummaryRow: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        HStack {
            if let status = model.syncStatus {
                Image(systemName: status.online ? "checkmark.icloud.fill" : "icloud.slash.fill")
                    .foregroundColor(status.online ? .green : .orange)
                Text(status.online ? "Online" : "Offline")
                Spacer()
                Text(status.pending == 0 ? "All synced" : "\(status.pending) waiting")
                    .foregroundColor(status.pending == 0 ? .secondary : .orange)
            } else {
                Text("Sync status unknown").foregroundColor(.secondary)
            }
        }
    }
}

/// "3 minutes ago", kept current; "never" when there is no date.
struct RelativeTime: View {
    let date: Date?

    var body: some View {
        if let date = date {
            TimelineView(.periodic(from: .now, by: 30)) { context in
                Text(RelativeTime.formatter.localizedString(for: date, relativeTo: context.date))
            }
        } else {
            Text("never")
        }
    }

    private static let formatter: RelativeDateTimeFormatter = {
        let formatter = RelativeDateTimeFormatter()
        formatter.unitsStyle = .full
        return formatter
    }()
}
