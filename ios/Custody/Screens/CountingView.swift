import CustodyCore
import SwiftUI

/// Blind counting: scan a location label (`LOC:…`), then each package there, and enter its
/// weight or units. Counters never see the expected quantity; core adds several people's counts
/// together and decides matches, recounts and discrepancies.
@MainActor
struct CountingView: View {
    @EnvironmentObject private var model: AppModel
    let sessionId: String
    let user: SignedInUser

    @State private var session: CountSession?
    /// This person's counts this round, summed by core over their devices.
    @State private var myCounts: [CountScanResult] = []
    @State private var loadError: String?
    @State private var location: String?
    @State private var pendingTag: String?
    @State private var amount = ""
    @State private var replace = false
    @State private var outcome: ScanOutcome?
    @State private var closeOutcome: CloseOutcome?
    @State private var working = false
    @FocusState private var amountFocused: Bool

    var body: some View {
        List {
            if let loadError = loadError {
                Text(loadError).foregroundColor(.red)
            }
            Section {
                LabeledContent("Location", value: location ?? "Scan a location label")
                if let session = session {
                    LabeledContent("Status", value: "\(session.summary.status.title), round \(session.summary.round)")
                }
                if let outcome = outcome {
                    ScanBanner(outcome: outcome)
                        .listRowInsets(EdgeInsets())
                }
            }
            if let tag = pendingTag {
                entrySection(tag: tag)
            }
            if let session = session, !session.recount.isEmpty {
                Section("To recount in round 2") {
                    ForEach(session.recount, id: \.self) { tag in
                        Text(tag).font(.body.monospaced())
                    }
                }
            }
            if !myCounts.isEmpty {
                Section("Your counts this round") {
                    ForEach(Array(myCounts.enumerated()), id: \.offset) { _, line in
                        HStack {
                            Text(line.tag).font(.caption.monospaced())
                            Spacer()
                            Text(line.yourCount.display)
                        }
                    }
                }
            }
            if user.role.managesCounts {
                managerSection
            }
        }
        .navigationTitle(session?.summary.name ?? "Count")
        .background(
            ScannerInput(active: !amountFocused) { raw in
                Task { await handle(raw) }
            }
            .frame(width: 0, height: 0)
        )
        .task(id: model.revision(.countSessions)) {
            await load()
        }
    }

    // ---- sections -----------------------------------------------------------------------------

    private func entrySection(tag: String) -> some View {
        let scoped = session?.inScope.first { $0.tag == tag }
        let unit = scoped.map { countUnit(unit: $0.unit) }
        return Section("Count this package") {
            Text(tag).font(.body.monospaced())
            if let scoped = scoped {
                Text(scoped.item).foregroundColor(.secondary)
            }
            HStack {
                TextField(unit == nil ? "Amount and unit (e.g. 3 each)" : "Amount", text: $amount)
                    .keyboardType(.numbersAndPunctuation)
                    .focused($amountFocused)
                    .submitLabel(.done)
                    .onSubmit { Task { await save(tag: tag, unit: unit) } }
                if let unit = unit {
                    Text(unitSymbol(unit: unit))
                }
            }
            Toggle("Replace my earlier count of it", isOn: $replace)
            Button("Save count") {
                Task { await save(tag: tag, unit: unit) }
            }
            .disabled(working)
            Button("Cancel", role: .cancel) {
                pendingTag = nil
                amountFocused = false
            }
        }
    }

    @ViewBuilder
    private var managerSection: some View {
        Section("Manager") {
            Button("Close this round") {
                Task { await closeRound() }
            }
            .disabled(working || session?.summary.status == .closed)
            switch closeOutcome {
            case .recountNeeded(let lines):
                Text("\(lines.count) package(s) go to a recount by someone else.")
                varianceLines(lines)
            case .closed(let lines, let discrepancies):
                Text(discrepancies.isEmpty ? "Closed with no discrepancy." : "Closed. Quarantined as discrepancies: \(discrepancies.joined(separator: ", "))")
                varianceLines(lines)
            case nil:
                EmptyView()
            }
        }
    }

    private func varianceLines(_ lines: [VarianceLine]) -> some View {
        ForEach(Array(lines.enumerated()), id: \.offset) { _, line in
            VStack(alignment: .leading, spacing: 2) {
                Text(line.tag).font(.caption.monospaced())
                Text("expected \(line.expected.display) · counted \(line.counted.display) · difference \(line.difference.display)")
                    .font(.caption)
                if case .changedDuringCount(let note) = line.outcome {
                    Text(note).font(.caption).foregroundColor(.orange)
                }
            }
        }
    }

    // ---- actions ------------------------------------------------------------------------------

    private func load() async {
        let id = sessionId
        do {
            session = try await model.call { client in try client.countSession(sessionId: id) }
            myCounts = try await model.call { client in try client.yourCounts(sessionId: id) }
            loadError = nil
        } catch {
            loadError = custodyMessage(error)
        }
    }

    private func handle(_ raw: String) async {
        let id = sessionId
        // Core reads the scan (tag, GS1 barcode or location label); what it cannot read (an
        // empty LOC: label, garbage) is shown in core's own words, as on Android.
        let scanned: ScannedCode
        do {
            scanned = try parseScan(raw: raw)
        } catch {
            show(.failure(error))
            return
        }
        if case .location(let name) = scanned {
            do {
                // Core checks the name (the packages are not shown: the count is blind), and the
                // first location scan joins this person to the count.
                _ = try await model.call { client in try client.packagesAt(location: name) }
                if !joined {
                    try await model.call { client in try client.joinCount(sessionId: id) }
                }
                location = name
                pendingTag = nil
                show(.good("Location \(name): scan each package here."))
            } catch {
                show(.failure(error))
            }
            return
        }
        guard location != nil else {
            show(.bad("Scan the location label (LOC:…) first, then the packages on it."))
            return
        }
        do {
            let tag = try normalizePackageTag(raw: raw)
            pendingTag = tag
            amount = ""
            replace = false
            outcome = nil
            amountFocused = true
        } catch {
            show(.failure(error))
        }
    }

    private func save(tag: String, unit: UnitOfMeasure?) async {
        guard let location = location else { return }
        let id = sessionId
        let amount = self.amount
        let replace = self.replace
        working = true
        do {
            let result = try await model.call { client -> CountScanResult in
                // In the count unit when there is one; otherwise the text names its unit.
                let quantity = try parseQuantity(text: amount, unit: unit)
                if replace {
                    return try client.countCorrect(sessionId: id, rawTag: tag, location: location, quantity: quantity)
                }
                return try client.countScan(sessionId: id, rawTag: tag, location: location, quantity: quantity)
            }
            pendingTag = nil
            amountFocused = false
            show(.good("\(result.item): your count \(result.yourCount.display)"))
        } catch {
            show(.failure(error))
        }
        working = false
    }

    private func closeRound() async {
        let id = sessionId
        working = true
        do {
            closeOutcome = try await model.call { client in try client.closeCount(sessionId: id) }
        } catch {
            show(.failure(error))
        }
        working = false
    }

    private var joined: Bool {
        guard let session = session, let device = model.identity?.deviceId else { return false }
        return session.participants.contains { $0.userId == user.id && $0.deviceId == device }
    }

    private func show(_ result: ScanOutcome) {
        outcome = result
        ScanFeedback.play(result)
    }
}
