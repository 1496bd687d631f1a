import CustodyCore
import SwiftUI

/// What the ledger's fold could not reconcile (two phones moved a package to different places,
/// a tag received twice, stock below zero…), for a manager: the open conflicts first, each with
/// the decision its kind takes, then the resolved ones as history (who, when, what and why). A
/// resolution is a ledger event that syncs like everything else; core checks who may resolve, the
/// note and that the decision fits, and its refusal is shown as it is (docs/decisions/0022).
@MainActor
struct ConflictsView: View {
    @EnvironmentObject private var model: AppModel
    @State private var lines: [ConflictLine] = []
    @State private var error: String?

    var body: some View {
        List {
            if let error = error {
                Text(error).foregroundColor(.red)
            }
            let open = lines.filter { $0.conflict.resolved == nil }
            let resolved = lines.filter { $0.conflict.resolved != nil }
            Section("Open") {
                if open.isEmpty && error == nil {
                    Text("Nothing to decide.").foregroundColor(.secondary)
                }
                ForEach(open, id: \.conflict.eventId) { line in
                    NavigationLink {
                        ConflictDetailView(conflict: line.conflict)
                    } label: {
                        ConflictRow(line: line)
                    }
                }
            }
            if !resolved.isEmpty {
                Section("Resolved") {
                    ForEach(resolved, id: \.conflict.eventId) { line in
                        ConflictRow(line: line)
                    }
                }
            }
        }
        .navigationTitle("Conflicts")
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task(id: model.revision(.inventory)) {
            await load()
        }
    }

    private func load() async {
        do {
            lines = try await model.call { client in try client.conflicts() }
            error = nil
        } catch {
            self.error = custodyMessage(error)
        }
    }
}

extension ConflictKind {
    var title: String {
        switch self {
        case .negativeStock: return "Negative stock"
        case .shippedTwice: return "Shipped twice"
        case .quarantinedPicked: return "Quarantined package picked"
        case .concurrentMove: return "Moved to two places"
        case .duplicateReceipt: return "Received twice"
        case .unknownPackage: return "Unknown package"
        case .invalidTransition: return "Does not fit the package's state"
        case .unitMismatch: return "Unit mismatch"
        }
    }
}

extension Resolution {
    var words: String {
        switch self {
        case .locatedAt(let location): return "the package is at \(location)"
        case .receiptVoid: return "the second receipt is void"
        case .acknowledged: return "acknowledged after investigation"
        }
    }
}

struct ConflictRow: View {
    let line: ConflictLine

    var body: some View {
        let conflict = line.conflict
        VStack(alignment: .leading, spacing: 4) {
            HStack {
                Text(conflict.kind.title).bold()
                Spacer()
                Text(conflict.tag).font(.caption.monospaced())
            }
            Text(conflict.detail).font(.caption)
            if let done = conflict.resolved {
                Text("Resolved by \(line.resolvedBy ?? "someone"): \(done.resolution.words)")
                    .font(.caption)
                    .foregroundColor(.green)
                Text(done.note).font(.caption).foregroundColor(.secondary)
            }
        }
    }
}

@MainActor
struct ConflictDetailView: View {
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss
    let conflict: Conflict
    @State private var location = ""
    @State private var note = ""
    @State private var error: String?
    @State private var working = false

    var body: some View {
        Form {
            Section(conflict.kind.title) {
                LabeledContent("Package", value: conflict.tag)
                Text(conflict.detail)
            }
            Section("Decision") {
                switch conflict.kind {
                case .concurrentMove:
                    TextField("Where the package is (scan its LOC: label)", text: $location)
                case .duplicateReceipt:
                    Text("The second receipt is void; correct the quantity with an adjustment if needed.")
                default:
                    Text("Acknowledge after investigation; a count correction is an adjustment of its own.")
                }
                TextField("What you found and checked", text: $note, axis: .vertical)
                Button("Resolve") {
                    Task { await resolve() }
                }
                .disabled(working)
            }
            if let error = error {
                Section {
                    Text(error).foregroundColor(.red)
                }
            }
        }
        .navigationTitle("Conflict")
        .background(
            // A LOC: label scanned here says where the package is; core reads the scan.
            ScannerInput(active: conflict.kind == .concurrentMove) { raw in
                if case .location(let name)? = try? parseScan(raw: raw) {
                    location = name
                } else {
                    ScanFeedback.play(.bad("Scan a location label (LOC:) to say where the package is"))
                }
            }
            .frame(width: 0, height: 0)
        )
    }

    private var resolution: Resolution {
        switch conflict.kind {
        case .concurrentMove: return .locatedAt(location: location.trimmingCharacters(in: .whitespaces))
        case .duplicateReceipt: return .receiptVoid
        default: return .acknowledged
        }
    }

    private func resolve() async {
        let conflict = self.conflict
        let resolution = self.resolution
        let note = self.note
        working = true
        do {
            _ = try await model.call { client in
                try client.resolveConflict(tag: conflict.tag, eventId: conflict.eventId, kind: conflict.kind, resolution: resolution, note: note)
            }
            ScanFeedback.play(.good("Resolved: \(resolution.words)"))
            dismiss()
        } catch {
            self.error = custodyMessage(error)
            ScanFeedback.play(.failure(error))
        }
        working = false
    }
}
