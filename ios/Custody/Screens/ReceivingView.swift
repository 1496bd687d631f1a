import CustodyCore
import SwiftUI
import UniformTypeIdentifiers

/// Receiving against the manifest: pick an open manifest (the state's inbox, a session another
/// phone opened, or a manifest file), then receive it in `ReceivingSessionView`. Every rule and
/// every sentence shown is core's.
@MainActor
struct ReceivingView: View {
    @EnvironmentObject private var model: AppModel
    @State private var sessions: [ReceivingSessionSummary] = []
    @State private var error: String?
    @State private var importing = false
    @State private var opened: String?

    var body: some View {
        List {
            if let error = error {
                Text(error).foregroundColor(.red)
            }
            Section {
                NavigationLink("Inbox from the state") {
                    ReceivingInboxView()
                }
                Button("Import a manifest file") { importing = true }
            }
            Section("Open on this phone") {
                if sessions.filter({ !$0.completed }).isEmpty {
                    Text("No manifest is being received. Pick one from the inbox, or import its file.")
                        .foregroundColor(.secondary)
                }
                ForEach(sessions.filter { !$0.completed }, id: \.id) { session in
                    NavigationLink {
                        ReceivingSessionView(sessionId: session.id)
                    } label: {
                        VStack(alignment: .leading) {
                            Text("\(session.manifestNumber) · \(session.shipperName)")
                            Text("\(session.packages) packages").font(.caption).foregroundColor(.secondary)
                        }
                    }
                }
            }
            if let opened = opened {
                Section {
                    NavigationLink("Receive manifest \(opened)") {
                        ReceivingSessionView(sessionId: opened)
                    }
                }
            }
        }
        .navigationTitle("Receiving")
        .fileImporter(isPresented: $importing, allowedContentTypes: [.json, .plainText]) { result in
            Task { await importFile(result) }
        }
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task {
            await load()
        }
    }

    private func importFile(_ result: Result<URL, Error>) async {
        do {
            let url = try result.get()
            let scoped = url.startAccessingSecurityScopedResource()
            defer {
                if scoped { url.stopAccessingSecurityScopedResource() }
            }
            let json = try String(contentsOf: url, encoding: .utf8)
            let id = try await model.call { client in try client.openReceiving(manifestJson: json) }
            opened = id
            error = nil
            await load()
        } catch {
            self.error = custodyMessage(error)
        }
    }

    private func load() async {
        do {
            sessions = try await model.call { client in try client.receivingSessions() }
            error = nil
        } catch {
            self.error = custodyMessage(error)
        }
    }
}

/// One receiving session: scan each package (and its GS1 label), weigh it on a named scale or
/// type the weight with the reason, inspect, accept or reject; a manager decides flagged packages
/// with a note; completion puts the accepted packages in the intake location and shows the
/// state-acceptance task.
@MainActor
struct ReceivingSessionView: View {
    let sessionId: String
    @EnvironmentObject private var model: AppModel
    @State private var progress: ReceivingProgress?
    @State private var flags: [String: [String]] = [:]
    @State private var discrepancies: [ReceivingDiscrepancy] = []
    @State private var scales: [String] = []
    @State private var scale: String?
    @State private var current: String?
    @State private var bay = "Receiving bay"
    @State private var intake = "Intake"
    @State private var weight = ""
    @State private var reason = ""
    @State private var note = ""
    @State private var tasks: [String] = []
    @State private var completed = false
    @State private var outcome: ScanOutcome?
    @FocusState private var typing: Bool

    var body: some View {
        Form {
            Section {
                ScanBanner(outcome: outcome)
                    .listRowInsets(EdgeInsets())
                if let progress = progress {
                    Text("Manifest \(progress.manifestNumber) · \(progress.shipperName) · scanning at \(bay)")
                    Text("\(progress.matched.count) of \(progress.packageCount) scanned").font(.caption)
                }
            }
            if completed {
                Section("Completed") {
                    ForEach(tasks, id: \.self) { task in
                        Text(task).foregroundColor(.accentColor)
                    }
                }
            } else {
                if let tag = current {
                    Section("Package \(tag)") {
                        Picker("Scale", selection: $scale) {
                            ForEach(scales, id: \.self) { name in
                                Text(name).tag(Optional(name))
                            }
                            Text("Type by hand").tag(String?.none)
                        }
                        TextField("Weight (g)", text: $weight)
                            .keyboardType(.decimalPad)
                            .focused($typing)
                        if scale == nil {
                            TextField("Why no scale", text: $reason).focused($typing)
                        }
                        Button("Record weight") { Task { await weigh(tag) } }
                        TextField("Note (inspection, or a manager's reason to accept)", text: $note).focused($typing)
                        Button("Inspected") { Task { await inspect(tag) } }
                        Button("Accept") { Task { await decide(tag, reject: nil) } }
                        ForEach([RejectReason.damaged, .wrongItem, .short, .notOnManifest], id: \.self) { why in
                            Button("Reject: \(String(describing: why))") {
                                Task { await decide(tag, reject: why) }
                            }
                        }
                    }
                }
                Section("Before completing") {
                    ForEach(discrepancies.filter { !$0.resolved }, id: \.text) { d in
                        Text(d.text).foregroundColor(.red)
                    }
                    if discrepancies.contains(where: { $0.text.contains("record the reason") }) {
                        TextField("Why the weight differs", text: $reason).focused($typing)
                        Button("Record the reason") {
                            Task { await explainWeight() }
                        }
                    }
                    TextField("Intake location", text: $intake).focused($typing)
                    Button("Complete receiving") { Task { await complete() } }
                }
            }
            if let progress = progress {
                Section("Packages") {
                    ForEach(progress.matched + progress.missing, id: \.self) { tag in
                        Button {
                            current = tag
                        } label: {
                            VStack(alignment: .leading) {
                                Text(tag + (progress.missing.contains(tag) ? "  not scanned" : "  ✓")).font(.body.monospaced())
                                ForEach(flags[tag] ?? [], id: \.self) { flag in
                                    Text(flag).font(.caption).foregroundColor(.red)
                                }
                            }
                        }
                    }
                    ForEach(progress.unexpected, id: \.self) { tag in
                        Button("\(tag)  not on this manifest: set aside") { current = tag }
                            .foregroundColor(.red)
                    }
                }
            }
        }
        .navigationTitle("Receive")
        .background(
            ScannerInput(active: !typing) { raw in
                Task { await scan(raw) }
            }
            .frame(width: 0, height: 0)
        )
        .task {
            await load()
        }
    }

    /// A scan: a `LOC:` label sets where scanning happens, a tag is checked against the manifest,
    /// a GS1 label against the package scanned before it. Core reads and answers.
    private func scan(_ raw: String) async {
        do {
            switch try parseScan(raw: raw) {
            case .location(let name):
                bay = name
                show(.good("Scanning at \(name)"))
            case .gs1:
                guard let tag = current else {
                    show(.bad("Scan the package's tag first, then the label on it."))
                    return
                }
                let id = sessionId
                let mismatches = try await model.call { client in try client.receivingLabel(sessionId: id, rawTag: tag, rawLabel: raw) }
                await load()
                show(mismatches.isEmpty ? .good("The label on \(tag) matches the manifest") : .bad("\(tag): \(mismatches.joined(separator: "; ")). A manager decides it."))
            case .package:
                let (id, at) = (sessionId, bay)
                let verdict = try await model.call { client in try client.receivingScan(sessionId: id, raw: raw, location: at) }
                current = verdict.tag
                await load()
                show(verdict.kind == .matched ? .good(verdict.message) : .bad(verdict.message))
            }
        } catch {
            show(.failure(error))
        }
    }

    private func weigh(_ tag: String) async {
        let (id, text, chosen, why) = (sessionId, weight, scale, reason)
        await step({ client in
            let quantity = try parseQuantity(text: text, unit: .g)
            if let chosen = chosen {
                try client.recordWeight(sessionId: id, raw: tag, weight: quantity, scale: chosen)
            } else {
                try client.recordWeightByHand(sessionId: id, raw: tag, weight: quantity, reason: why)
            }
        }, ok: "Weighed \(tag)" + (chosen.map { " on \($0)" } ?? " (typed by hand)"))
    }

    private func inspect(_ tag: String) async {
        let (id, text) = (sessionId, note)
        await step({ client in try client.markInspected(sessionId: id, raw: tag, note: text) }, ok: "Inspected \(tag)")
    }

    /// Accepts (`reject` nil) or rejects; a flagged package only by a manager with a note (core decides).
    private func decide(_ tag: String, reject: RejectReason?) async {
        let (id, text) = (sessionId, note)
        await step({ client in try client.decidePackage(sessionId: id, raw: tag, reject: reject, note: text) }, ok: reject == nil ? "Accepted \(tag)" : "Rejected \(tag)")
    }

    private func explainWeight() async {
        let (id, why) = (sessionId, reason)
        await step({ client in try client.explainWeightDifference(sessionId: id, reason: why) }, ok: "Reason recorded")
    }

    private func complete() async {
        let (id, at) = (sessionId, intake)
        do {
            let events = try await model.call { client in try client.completeReceiving(sessionId: id, intake: at) }
            await load()
            show(.good("Received \(events.count) package\(events.count == 1 ? "" : "s") into \(at)"))
        } catch {
            await load()
            show(.failure(error))
        }
    }

    private func step(_ work: @escaping @Sendable (CustodyClient) throws -> Void, ok: String) async {
        do {
            try await model.call(work)
            await load()
            show(.good(ok))
        } catch {
            await load()
            show(.failure(error))
        }
    }

    private func show(_ answer: ScanOutcome) {
        outcome = answer
        ScanFeedback.play(answer)
    }

    private func load() async {
        let id = sessionId
        do {
            let read = try await model.call { client in
                (
                    try client.receivingProgress(sessionId: id),
                    try client.packageFlags(sessionId: id),
                    try client.receivingDiscrepancies(sessionId: id),
                    try client.receivingSettings().scales.filter { $0.usable }.map { $0.name },
                    try client.openStateTasks().filter { $0.sessionId == id }.map { $0.task },
                    try client.receivingSessions().first { $0.id == id }?.completed ?? false
                )
            }
            progress = read.0
            flags = Dictionary(uniqueKeysWithValues: read.1.map { ($0.tag, $0.flags) })
            discrepancies = read.2
            if scales != read.3 {
                scales = read.3
                scale = scales.first
            }
            tasks = read.4
            completed = read.5
        } catch {
            show(.failure(error))
        }
    }
}

extension Quantity {
    /// As core formats it (`12.30 g`, `3 each`).
    var display: String {
        (try? formatQuantity(quantity: self)) ?? "\(amount) \(unit)"
    }
}
