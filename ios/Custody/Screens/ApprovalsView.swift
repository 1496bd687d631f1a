import CustodyCore
import SwiftUI

/// Adjustment requests waiting for a decision. Core says, per request, whether the signed-in
/// person may decide it (a counter never approves their own count) and why not.
@MainActor
struct ApprovalsView: View {
    @EnvironmentObject private var model: AppModel
    @State private var pending: [PendingApproval] = []
    @State private var error: String?

    var body: some View {
        List {
            if let error = error {
                Text(error).foregroundColor(.red)
            }
            if pending.isEmpty && error == nil {
                Text("Nothing waits for a decision.").foregroundColor(.secondary)
            }
            ForEach(pending, id: \.request.id) { approval in
                NavigationLink {
                    ApprovalDetailView(approval: approval)
                } label: {
                    ApprovalRow(approval: approval)
                }
            }
        }
        .navigationTitle("Approvals")
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task(id: model.revision(.adjustments)) {
            await load()
        }
    }

    private func load() async {
        do {
            pending = try await model.call { client in try client.pendingApprovals() }
            error = nil
        } catch {
            self.error = custodyMessage(error)
        }
    }
}

struct ApprovalRow: View {
    let approval: PendingApproval

    var body: some View {
        let request = approval.request
        VStack(alignment: .leading, spacing: 4) {
            HStack {
                Text(request.tag).font(.body.monospaced())
                Spacer()
                Text(request.delta.display).bold()
            }
            Text("\(request.reasonCode) · asked by \(request.requestedBy.name)")
                .font(.caption)
                .foregroundColor(.secondary)
            if let reason = approval.cannotDecide {
                Text(reason).font(.caption).foregroundColor(.orange)
            }
        }
    }
}

@MainActor
struct ApprovalDetailView: View {
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss
    let approval: PendingApproval
    @State private var note = ""
    @State private var error: String?
    @State private var working = false

    var body: some View {
        let request = approval.request
        Form {
            Section("Request") {
                LabeledContent("Package", value: request.tag)
                LabeledContent("Change", value: request.delta.display)
                LabeledContent("Reason", value: request.reasonCode)
                LabeledContent("Asked by", value: request.requestedBy.name)
                LabeledContent("Asked at") {
                    Text(request.requestedBy.at, style: .date) + Text(" ") + Text(request.requestedBy.at, style: .time)
                }
                if !request.note.isEmpty {
                    Text(request.note)
                }
                if !request.countedBy.isEmpty {
                    LabeledContent("Counted by", value: request.countedBy.joined(separator: ", "))
                }
            }
            if let reason = approval.cannotDecide {
                Section {
                    Text(reason).foregroundColor(.orange)
                }
            } else {
                Section("Decision") {
                    TextField("Note", text: $note, axis: .vertical)
                    Button("Approve") {
                        Task { await decide(approve: true) }
                    }
                    .disabled(working)
                    Button("Reject", role: .destructive) {
                        Task { await decide(approve: false) }
                    }
                    .disabled(working)
                }
            }
            if let error = error {
                Section {
                    Text(error).foregroundColor(.red)
                }
            }
        }
        .navigationTitle("Adjustment")
    }

    private func decide(approve: Bool) async {
        let id = approval.request.id
        let note = self.note
        working = true
        do {
            if approve {
                _ = try await model.call { client in try client.approveAdjustment(requestId: id, note: note) }
            } else {
                try await model.call { client in try client.rejectAdjustment(requestId: id, note: note) }
            }
            ScanFeedback.play(.good(approve ? "Approved" : "Rejected"))
            dismiss()
        } catch {
            self.error = custodyMessage(error)
            ScanFeedback.play(.failure(error))
        }
        working = false
    }
}
