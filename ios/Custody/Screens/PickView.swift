import CustodyCore
import SwiftUI

/// Where the outbound screens push: an order's pick list, a route, a stop of a route.
enum OutboundDestination: Hashable {
    case order(String)
    case route(String)
    case stop(manifestId: String, number: UInt32)
}

/// The orders on this phone. A medical order shows only its redacted patient reference, never the
/// patient. Managers make the pick list of an order that has none (core refuses anyone else).
@MainActor
struct PickOrdersView: View {
    @EnvironmentObject private var model: AppModel
    @State private var orders: [OrderSummary] = []
    @State private var error: String?
    @State private var outcome: ScanOutcome?

    var body: some View {
        List {
            if let error = error {
                Text(error).foregroundColor(.red)
            }
            if let outcome = outcome {
                ScanBanner(outcome: outcome)
                    .listRowInsets(EdgeInsets())
            }
            if orders.isEmpty && error == nil {
                Text("No orders on this phone yet. A manager enters them; sync to see them.")
                    .foregroundColor(.secondary)
            }
            ForEach(orders, id: \.id) { order in
                if order.status == .open {
                    HStack {
                        summary(order)
                        Spacer()
                        Button("Make pick list") {
                            Task { await generate(order.id) }
                        }
                        .buttonStyle(.bordered)
                    }
                } else {
                    NavigationLink(value: OutboundDestination.order(order.id)) {
                        summary(order)
                    }
                }
            }
        }
        .navigationTitle("Pick & pack")
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task(id: model.revision(.outbound)) {
            await load()
        }
    }

    private func summary(_ order: OrderSummary) -> some View {
        VStack(alignment: .leading, spacing: 4) {
            Text("\(order.number) · \(order.recipient.name)").font(.headline)
            Text("\(order.status.title) · \(order.lines.count) lines · wanted \(order.requestedOn)")
                .font(.caption)
                .foregroundColor(.secondary)
            if let ref = order.patientRef {
                Text("Medical · patient \(ref)").font(.caption)
            }
        }
    }

    private func load() async {
        do {
            orders = try await model.call { client in try client.orders() }.filter { $0.status != .cancelled }
            error = nil
        } catch {
            self.error = custodyMessage(error)
        }
    }

    private func generate(_ id: String) async {
        do {
            let list = try await model.call { client in try client.generatePickList(orderId: id) }
            show(.good("Pick list ready: \(list.lines.count) packages to pick for order \(list.order.number)"))
            await load()
        } catch {
            show(.failure(error))
        }
    }

    private func show(_ result: ScanOutcome) {
        outcome = result
        ScanFeedback.play(result)
    }
}

extension OrderStatus {
    var title: String {
        switch self {
        case .open: return "Waiting for a pick list"
        case .allocated: return "To pick and pack"
        case .packed: return "Packed"
        case .cancelled: return "Cancelled"
        }
    }
}

/// One order's pick list. Scan each package on it: core checks it is the one allocated and says
/// why not in red; a split line asks for the weight taken off the package first. To pack, type the
/// container number and scan each picked package, then its gross weight. Core's packing check
/// (which writes nothing) lists what is still missing; "Finish packing", core's final check, is
/// offered once that list is empty.
@MainActor
struct PickView: View {
    @EnvironmentObject private var model: AppModel
    let orderId: String

    @State private var list: PickList?
    @State private var loadError: String?
    @State private var outcome: ScanOutcome?
    @State private var container = ""
    /// The split line whose weight is awaited.
    @State private var weighing: PickLine?
    /// The picked package (its tag in the tote) whose gross weight is awaited.
    @State private var packing: PickLine?
    @State private var amount = ""
    /// Core's packing check for an allocated order: what the final check would still refuse, one
    /// entry each; empty when packing can finish.
    @State private var missing: [String] = []
    @State private var working = false
    @FocusState private var field: Field?

    private enum Field: Hashable {
        case container, amount
    }

    var body: some View {
        List {
            if let loadError = loadError {
                Text(loadError).foregroundColor(.red)
            }
            Section {
                if let list = list {
                    LabeledContent("Customer", value: list.order.recipient.name)
                    if let ref = list.order.patientRef {
                        LabeledContent("Medical order", value: "patient \(ref)")
                    }
                    LabeledContent("Progress", value: progress(list))
                    Text(prompt(list)).font(.headline)
                }
                if let outcome = outcome {
                    ScanBanner(outcome: outcome)
                        .listRowInsets(EdgeInsets())
                }
            }
            if list?.order.status == .allocated {
                Section("Packing") {
                    TextField("Container number", text: $container)
                        .focused($field, equals: .container)
                        .autocorrectionDisabled()
                        .textInputAutocapitalization(.never)
                }
            }
            if let line = weighing {
                weightSection(line)
            }
            if let line = packing {
                packSection(line)
            }
            if let list = list, !list.pickedTwice.isEmpty {
                Section("Picked on two phones before they synced: check the tote") {
                    ForEach(list.pickedTwice, id: \.self) { tag in
                        Text(tag).font(.body.monospaced())
                    }
                }
            }
            if let list = list {
                Section("Pick list") {
                    ForEach(list.lines, id: \.tag) { line in
                        lineRow(line)
                    }
                }
                if !missing.isEmpty {
                    Section("Still missing before packing can finish") {
                        ForEach(missing, id: \.self) { item in
                            Text(item).foregroundColor(.red)
                        }
                    }
                }
                if !list.containers.isEmpty {
                    Section("Containers") {
                        ForEach(list.containers, id: \.number) { box in
                            LabeledContent("Container \(box.number)", value: box.tags.joined(separator: ", "))
                        }
                    }
                }
                if list.order.status == .allocated {
                    Section {
                        Button("Finish packing") {
                            Task { await finish() }
                        }
                        .disabled(working || !missing.isEmpty)
                    }
                }
            }
        }
        .navigationTitle(list.map { "Order \($0.order.number)" } ?? "Order")
        .background(
            ScannerInput(active: field == nil) { raw in
                Task { await handle(raw) }
            }
            .frame(width: 0, height: 0)
        )
        .task(id: model.revision(.outbound)) {
            await load()
        }
    }

    // ---- sections -----------------------------------------------------------------------------

    private func lineRow(_ line: PickLine) -> some View {
        HStack(alignment: .top, spacing: 12) {
            Image(systemName: line.container != nil ? "shippingbox.fill" : (line.pickedTag != nil ? "checkmark.circle.fill" : "circle"))
                .foregroundColor(line.pickedTag != nil ? .green : .secondary)
            VStack(alignment: .leading, spacing: 2) {
                Text("\(line.item) · \(line.quantity.display)").font(.headline)
                Text("\(line.tag) · \(line.location)").font(.caption.monospaced())
                if let expires = line.expiresOn {
                    Text("Expires \(expires)").font(.caption)
                }
                if let newTag = line.splitInto {
                    Text("Split: weigh out \(line.quantity.display) into new tag \(newTag)").font(.caption)
                }
                if let original = line.substituteFor {
                    Text("Approved substitute for \(original)").font(.caption)
                }
                if let who = line.pickedBy {
                    Text("Picked by \(who)" + (line.container.map { " · container \($0)" } ?? ""))
                        .font(.caption)
                        .foregroundColor(.secondary)
                }
            }
        }
    }

    private func weightSection(_ line: PickLine) -> some View {
        Section("Weigh out \(line.quantity.display)") {
            Text("\(line.item): take it from \(line.tag) and label it \(line.splitInto ?? "")")
            HStack {
                TextField("Weight taken", text: $amount)
                    .keyboardType(.decimalPad)
                    .focused($field, equals: .amount)
                    .submitLabel(.done)
                    .onSubmit { Task { await enterWeight(line) } }
                Text(unitSymbol(unit: countUnit(unit: line.quantity.unit)))
            }
            Button("Pick") {
                Task { await enterWeight(line) }
            }
            .disabled(working)
            Button("Cancel", role: .cancel) {
                weighing = nil
                field = nil
            }
        }
    }

    private func packSection(_ line: PickLine) -> some View {
        Section("Into container \(container.trimmingCharacters(in: .whitespaces))") {
            Text("\(line.item) · \(line.pickedTag ?? line.tag)")
            if let previous = line.container, previous != container.trimmingCharacters(in: .whitespaces) {
                Text("Already in container \(previous): this moves it.").foregroundColor(.orange)
            }
            HStack {
                TextField("Gross weight", text: $amount)
                    .keyboardType(.decimalPad)
                    .focused($field, equals: .amount)
                    .submitLabel(.done)
                    .onSubmit { Task { await enterGrossWeight(line) } }
                Text("g")
            }
            Button("Pack") {
                Task { await enterGrossWeight(line) }
            }
            .disabled(working)
            Button("Cancel", role: .cancel) {
                packing = nil
                field = nil
            }
        }
    }

    // ---- actions ------------------------------------------------------------------------------

    private func load() async {
        let id = orderId
        do {
            let fresh = try await model.call { client in try client.pickList(orderId: id) }
            list = fresh
            loadError = nil
            await check(fresh)
        } catch {
            loadError = custodyMessage(error)
        }
    }

    /// Core's packing check (it writes nothing), read with the order. If it cannot be read the list
    /// is empty: "Finish packing" stays offered, and core's final check says what is wrong.
    private func check(_ list: PickList) async {
        guard list.order.status == .allocated else {
            missing = []
            return
        }
        let id = orderId
        missing = (try? await model.call { client in try client.packingCheck(orderId: id) }) ?? []
    }

    /// Which call a scan is: a package already picked for this order goes to packing, the source
    /// of a split line waits for its weight, anything else is a pick for core to check.
    private func handle(_ raw: String) async {
        weighing = nil
        packing = nil
        guard let list = list else { return }
        // Core reads the scan; text that is not a package tag goes to core's pick as it came, and
        // core says what it is instead.
        guard case .package(let tag)? = try? parseScan(raw: raw) else {
            await pick(raw, quantity: nil)
            return
        }
        if let line = list.lines.first(where: { $0.pickedTag == tag }) {
            let box = container.trimmingCharacters(in: .whitespaces)
            guard !box.isEmpty else {
                show(.bad("\(line.item) is picked. Type the container number, then scan \(tag) again to pack it."))
                return
            }
            packing = line
            amount = ""
            field = .amount
            show(.good("Packing \(line.item) into container \(box): enter the gross weight"))
            return
        }
        if let line = list.lines.first(where: { $0.tag == tag && $0.splitInto != nil && $0.pickedTag == nil }) {
            weighing = line
            amount = ""
            field = .amount
            show(.good("\(line.item) is split: weigh out \(line.quantity.display), put it under tag \(line.splitInto ?? ""), enter the weight"))
            return
        }
        await pick(tag, quantity: nil)
    }

    private func enterWeight(_ line: PickLine) async {
        let text = amount
        let unit = countUnit(unit: line.quantity.unit)
        do {
            let quantity = try typedQuantity(text, unit: unit)
            await pick(line.tag, quantity: quantity)
        } catch {
            show(.failure(error))
        }
    }

    private func pick(_ raw: String, quantity: Quantity?) async {
        let id = orderId
        working = true
        defer { working = false }
        do {
            let result = try await model.call { client in try client.pickScan(orderId: id, raw: raw, quantity: quantity) }
            let item = list?.lines.first(where: { $0.line == result.line })?.item ?? result.tag
            weighing = nil
            field = nil
            await load()
            let split = result.splitFrom.map { " (split from \($0))" } ?? ""
            let left: String
            switch result.remaining {
            case 0: left = "everything is picked; pack it"
            case 1: left = "1 more to pick"
            default: left = "\(result.remaining) more to pick"
            }
            show(.good("Picked \(item): \(result.tag)\(split), \(result.quantity.display); \(left)"))
        } catch {
            // A refusal changes nothing; a weight typed for a split line stays to be corrected.
            show(.failure(error))
        }
    }

    private func enterGrossWeight(_ line: PickLine) async {
        let id = orderId
        let tag = line.pickedTag ?? line.tag
        let box = container.trimmingCharacters(in: .whitespaces)
        let text = amount
        working = true
        defer { working = false }
        do {
            let weight = try typedQuantity(text, unit: .g)
            try await model.call { client in
                try client.pack(orderId: id, raw: tag, container: box, grossWeight: weight)
            }
            packing = nil
            field = nil
            await load()
            show(.good("\(line.item) in container \(box) (\(weight.display) gross)"))
        } catch {
            show(.failure(error))
        }
    }

    private func finish() async {
        let id = orderId
        working = true
        defer { working = false }
        do {
            list = try await model.call { client in try client.finishPacking(orderId: id) }
            missing = []
            let count = list?.containers.count ?? 0
            show(.good("Order \(list?.order.number ?? "") packed: \(count) container\(count == 1 ? "" : "s"), ready for a manifest"))
        } catch {
            // Core's sentence on the red panel as it is; the checklist read again.
            show(.failure(error))
            await load()
        }
    }

    // ---- helpers ------------------------------------------------------------------------------

    private func progress(_ list: PickList) -> String {
        let picked = list.lines.filter { $0.pickedTag != nil }.count
        let packed = list.lines.filter { $0.container != nil }.count
        return "\(picked) of \(list.lines.count) picked · \(packed) packed"
    }

    private func prompt(_ list: PickList) -> String {
        switch list.order.status {
        case .open: return "No pick list yet: a manager makes it"
        case .packed: return "Packed: ready for a manifest"
        case .cancelled: return "This order was cancelled"
        case .allocated:
            if list.lines.contains(where: { $0.pickedTag == nil }) {
                return "Scan each package on the list"
            }
            if list.lines.contains(where: { $0.container == nil }) {
                return "Type the container number, then scan each package into it"
            }
            if !missing.isEmpty {
                return "Not ready to finish: see what is still missing"
            }
            return "Everything is packed: finish packing"
        }
    }

    /// A plain number is read in `unit` ("3.5" -> 3.5 g); a number with a unit as typed
    /// ("0.5 oz"): core's reader.
    private func typedQuantity(_ text: String, unit: UnitOfMeasure) throws -> Quantity {
        try parseQuantity(text: text, unit: unit)
    }

    private func show(_ result: ScanOutcome) {
        outcome = result
        ScanFeedback.play(result)
    }
}
