import CustodyCore
import SwiftUI

/// Receiving, until core's receiving workflow (manifest matching, COA and scale checks) lands:
/// fill in what the next packages are, then scan each tag; each scan records a receipt into the
/// intake location, or says why not.
@MainActor
struct ReceivingView: View {
    @EnvironmentObject private var model: AppModel
    @State private var manifest = ""
    @State private var item = ""
    @State private var batch = ""
    @State private var quantity = ""
    @State private var expiresOn = ""
    @State private var location = "Intake"
    @State private var outcome: ScanOutcome?
    @State private var received: [LedgerEvent] = []
    @FocusState private var field: Field?

    private enum Field: Hashable {
        case manifest, item, batch, quantity, expiresOn, location
    }

    var body: some View {
        Form {
            Section {
                NavigationLink("Inbox from the state") {
                    ReceivingInboxView()
                }
            }
            Section {
                if outcome == nil {
                    Text("Fill in what the next packages are, then scan each package tag.")
                        .foregroundColor(.secondary)
                } else {
                    ScanBanner(outcome: outcome)
                        .listRowInsets(EdgeInsets())
                }
            }
            Section("What the next packages are") {
                TextField("Manifest number (optional)", text: $manifest)
                    .focused($field, equals: .manifest)
                TextField("Item", text: $item)
                    .focused($field, equals: .item)
                TextField("Batch", text: $batch)
                    .focused($field, equals: .batch)
                TextField("Quantity per package (e.g. 453.6 g, 24 each)", text: $quantity)
                    .keyboardType(.numbersAndPunctuation)
                    .focused($field, equals: .quantity)
                TextField("Expires (YYYY-MM-DD, optional)", text: $expiresOn)
                    .keyboardType(.numbersAndPunctuation)
                    .focused($field, equals: .expiresOn)
                TextField("Intake location", text: $location)
                    .focused($field, equals: .location)
            }
            .autocorrectionDisabled()
            .textInputAutocapitalization(.never)
            if !received.isEmpty {
                Section("Received on this screen") {
                    ForEach(received, id: \.id) { event in
                        VStack(alignment: .leading) {
                            Text(event.tag).font(.body.monospaced())
                            Text(summary(of: event.body)).font(.caption).foregroundColor(.secondary)
                        }
                    }
                }
            }
        }
        .navigationTitle("Receiving")
        .background(
            ScannerInput(active: field == nil) { raw in
                Task { await receive(raw) }
            }
            .frame(width: 0, height: 0)
        )
        .toolbar {
            ToolbarItem(placement: .keyboard) {
                Button("Done") { field = nil }
            }
        }
    }

    private func receive(_ raw: String) async {
        let form = (manifest, item, batch, quantity, expiresOn, location)
        do {
            let event = try await model.call { client in
                try client.receive(
                    tag: raw,
                    item: form.1,
                    batch: form.2,
                    quantity: try parseQuantity(text: form.3, unit: nil),
                    location: form.5,
                    expiresOn: form.4,
                    manifest: form.0
                )
            }
            received.insert(event, at: 0)
            outcome = .good("\(event.tag) received: \(summary(of: event.body))")
        } catch {
            outcome = .failure(error)
        }
        if let outcome = outcome {
            ScanFeedback.play(outcome)
        }
    }

    private func summary(of change: EventBody) -> String {
        guard case .received(let item, let batch, let quantity, let location, _, _) = change else {
            return ""
        }
        return "\(item) · batch \(batch) · \(quantity.display) · \(location)"
    }
}

extension Quantity {
    /// As core formats it (`12.30 g`, `3 each`).
    var display: String {
        (try? formatQuantity(quantity: self)) ?? "\(amount) \(unit)"
    }
}
