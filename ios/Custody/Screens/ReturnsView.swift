import CustodyCore
import SwiftUI

/// Return check-in at the vault: what core's `returnsDue` says is due back, in its order: refused
/// on a truck, then packages picked (perhaps packed into a container) for an order a manager
/// cancelled, which never left and go back to a shelf (named by order and container, with no
/// manifest or stop), then what went out with no outcome on this phone yet (still out). Where
/// returns go is a `LOC:` label scanned here, or typed (the last one used to start with); then a
/// scan per package. Core checks each one (`returnCheckIn`): green "Back in ...", and the row goes;
/// a delivered package, one that never went out, one picked for an order still open, or someone
/// who may not check returns in is red in core's words, and nothing changes.
@MainActor
struct ReturnsView: View {
    @EnvironmentObject private var model: AppModel
    /// Where returned packages went last on this device.
    @AppStorage("custody.returnsLocation") private var lastLocation = ""
    @State private var location = ""
    @State private var due: [ReturnDue] = []
    @State private var checkedIn: [CheckedIn] = []
    @State private var loadError: String?
    @State private var outcome: ScanOutcome?
    @FocusState private var locationFocused: Bool

    /// A package checked back in on this screen.
    private struct CheckedIn: Identifiable {
        let tag: String
        let item: String
        let location: String
        var id: String { tag }
    }

    static let noLocation = "Choose where returns go first: scan the location label (LOC:...) or type it, then scan the package again."
    static let gs1NotAPackage = "That is a product barcode (GS1), not a package tag; scan the package's Metrc tag."

    var body: some View {
        List {
            Section {
                LabeledContent("Due back", value: summary)
                TextField("Returns go to (scan a LOC: label or type)", text: $location)
                    .focused($locationFocused)
                    .autocorrectionDisabled()
                    .textInputAutocapitalization(.never)
                    .submitLabel(.done)
                    .onSubmit { locationFocused = false }
                Text(prompt).font(.headline)
                if let outcome = outcome {
                    ScanBanner(outcome: outcome)
                        .listRowInsets(EdgeInsets())
                }
            }
            if let loadError = loadError {
                Text(loadError).foregroundColor(.red)
            }
            Section("Due back") {
                if due.isEmpty && loadError == nil {
                    Text("Nothing is due back from the trucks or from cancelled orders. Sync to see what the drivers and the office recorded.")
                        .foregroundColor(.secondary)
                }
                ForEach(due, id: \.tag) { row in
                    dueRow(row)
                }
            }
            if !checkedIn.isEmpty {
                Section("Checked in here") {
                    ForEach(checkedIn) { line in
                        Label("\(line.item) · \(line.tag) → \(line.location)", systemImage: "checkmark.circle.fill")
                            .foregroundColor(.green)
                    }
                }
            }
        }
        .navigationTitle("Returns")
        .background(
            ScannerInput(active: !locationFocused) { raw in
                Task { await handle(raw) }
            }
            .frame(width: 0, height: 0)
        )
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task(id: model.revision(.outbound)) {
            await load()
        }
        .onAppear {
            if location.isEmpty {
                location = lastLocation
            }
        }
        .toolbar {
            ToolbarItem(placement: .keyboard) {
                Button("Done") { locationFocused = false }
            }
        }
    }

    // ---- rows ---------------------------------------------------------------------------------

    private func dueRow(_ row: ReturnDue) -> some View {
        HStack(alignment: .top, spacing: 12) {
            Image(systemName: icon(row.kind))
                .foregroundColor(colour(row.kind))
            VStack(alignment: .leading, spacing: 2) {
                Text("\(row.item) · \(row.quantity.display)").font(.headline)
                Text(tagLine(row)).font(.caption.monospaced())
                Text(origin(row)).font(.caption)
                Text(statusText(row.kind))
                    .font(.caption.bold())
                    .foregroundColor(colour(row.kind))
                Text(row.reason)
                    .font(.caption)
                    .foregroundColor(.secondary)
            }
        }
    }

    private func statusText(_ kind: ReturnKind) -> String {
        switch kind {
        case .refused: return "Refused"
        case .orderCancelled: return "Order cancelled — back to a shelf"
        case .notConfirmed: return "Still out · no outcome yet"
        }
    }

    private func icon(_ kind: ReturnKind) -> String {
        switch kind {
        case .refused: return "arrow.uturn.backward.circle.fill"
        case .orderCancelled: return "xmark.bin"
        case .notConfirmed: return "box.truck"
        }
    }

    private func colour(_ kind: ReturnKind) -> Color {
        switch kind {
        case .refused: return .red
        case .orderCancelled: return .purple
        case .notConfirmed: return .orange
        }
    }

    /// "Tag …000031 · container C-7"; a pick never packed has no container.
    private func tagLine(_ row: ReturnDue) -> String {
        "Tag \(tagEnd(row.tag)) · " + (row.container.map { "container \($0)" } ?? "not in a container")
    }

    /// A cancelled order's pick never left: it is named by its order. A package from a truck by
    /// its manifest and stop (by its order too, should core ever list one without a manifest).
    private func origin(_ row: ReturnDue) -> String {
        guard row.kind != .orderCancelled, let manifest = row.manifestNumber else {
            return "Order \(row.orderNumber) · \(row.recipient)"
        }
        let stop = row.stop.map { " · stop \($0)" } ?? ""
        return "Manifest \(manifest)\(stop) · \(row.recipient)"
    }

    /// "2 refused · 1 from a cancelled order · 1 still out": the kinds there are, in core's order.
    private var summary: String {
        if due.isEmpty {
            return "Nothing is due back"
        }
        let refused = due.filter { $0.kind == .refused }.count
        let cancelled = due.filter { $0.kind == .orderCancelled }.count
        let stillOut = due.filter { $0.kind == .notConfirmed }.count
        var parts: [String] = []
        if refused > 0 {
            parts.append("\(refused) refused")
        }
        if cancelled > 0 {
            parts.append(cancelled == 1 ? "1 from a cancelled order" : "\(cancelled) from cancelled orders")
        }
        if stillOut > 0 {
            parts.append("\(stillOut) still out")
        }
        return parts.joined(separator: " · ")
    }

    private var prompt: String {
        let place = location.trimmingCharacters(in: .whitespacesAndNewlines)
        if place.isEmpty {
            return "Scan the location label (LOC:...) where returns go, or type it"
        }
        if due.isEmpty {
            return "Nothing is due back"
        }
        return "Scan each package coming back into \(place)"
    }

    /// The end of the tag, what a person finds on the label first.
    private func tagEnd(_ tag: String) -> String {
        tag.count <= 6 ? tag : "…" + String(tag.suffix(6))
    }

    // ---- actions ------------------------------------------------------------------------------

    private func load() async {
        do {
            due = try await model.call { client in try client.returnsDue() }
            loadError = nil
        } catch {
            loadError = custodyMessage(error)
        }
    }

    /// Core reads the scan: a location label chooses where returns go, a package tag is checked
    /// in there; what it cannot read is shown in its words.
    private func handle(_ raw: String) async {
        let scanned: ScannedCode
        do {
            scanned = try parseScan(raw: raw)
        } catch {
            show(.failure(error))
            return
        }
        let tag: String
        switch scanned {
        case .location(let name):
            location = name
            show(.good("Returns go to \(name): scan each package"))
            return
        case .gs1:
            show(.bad(ReturnsView.gs1NotAPackage))
            return
        case .package(let scannedTag):
            tag = scannedTag
        }
        let place = location.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !place.isEmpty else {
            show(.bad(ReturnsView.noLocation))
            return
        }
        do {
            let event = try await model.call { client in try client.returnCheckIn(raw: tag, location: place) }
            var placed = place
            if case .returned(let returnedTo, _) = event.body {
                placed = returnedTo
            }
            let item = due.first(where: { $0.tag == event.tag })?.item ?? event.tag
            lastLocation = placed
            location = placed
            checkedIn.insert(CheckedIn(tag: event.tag, item: item, location: placed), at: 0)
            await load()
            show(.good("Back in \(placed): \(item)"))
        } catch {
            // Core's refusal as it is; the list and the location stay as they were.
            show(.failure(error))
        }
    }

    private func show(_ result: ScanOutcome) {
        outcome = result
        ScanFeedback.play(result)
    }
}
