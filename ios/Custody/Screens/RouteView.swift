import CustodyCore
import SwiftUI

/// The manifests on this phone: a driver's phone holds only their own routes; a manager's shows
/// every route, as the office's progress view. A route a manager cancelled is listed after the
/// others, with who cancelled it and why.
@MainActor
struct RoutesView: View {
    @EnvironmentObject private var model: AppModel
    @State private var routes: [Route] = []
    @State private var error: String?

    var body: some View {
        List {
            if let error = error {
                Text(error).foregroundColor(.red)
            }
            if routes.isEmpty && error == nil {
                Text("No routes on this phone yet. A manager makes the manifest; sync to see it.")
                    .foregroundColor(.secondary)
            }
            ForEach(routes, id: \.id) { route in
                NavigationLink(value: OutboundDestination.route(route.id)) {
                    VStack(alignment: .leading, spacing: 4) {
                        Text("Manifest \(route.number)").font(.headline)
                        Text("\(route.vehicle.make) \(route.vehicle.model) · \(route.vehicle.plate) · \(route.driverName)")
                            .font(.caption)
                        Text("\(route.finishedStops) of \(route.stops.count) stops done · \(route.stateTitle)")
                            .font(.caption)
                            .foregroundColor(.secondary)
                        if let cancellation = route.cancellationText {
                            Text(cancellation)
                                .font(.caption.bold())
                                .foregroundColor(.red)
                        }
                    }
                }
            }
        }
        .navigationTitle("Routes")
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task(id: model.revision(.outbound)) {
            await load()
        }
    }

    private func load() async {
        do {
            let all = try await model.call { client in try client.manifests() }
            // Core's order, except that cancelled routes go last: nobody loads them.
            routes = all.filter { $0.cancelled == nil } + all.filter { $0.cancelled != nil }
            error = nil
        } catch {
            self.error = custodyMessage(error)
        }
    }
}

extension Route {
    var finishedStops: Int {
        stops.filter { $0.state != .pending }.count
    }

    var stateTitle: String {
        if cancelled != nil {
            return "cancelled"
        }
        if closed {
            return "closed"
        }
        return departedAt == nil ? "not departed" : "on the road"
    }

    /// "Cancelled by Sam Manager: van swap — do not load"; nil for a route that was not cancelled.
    var cancellationText: String? {
        cancelled.map { "Cancelled by \($0.by): \($0.reason) — do not load" }
    }
}

extension StopState {
    var title: String {
        switch self {
        case .pending: return "To deliver"
        case .done: return "Delivered"
        case .failed: return "Not made"
        }
    }
}

/// One route: the stops in route order with their state, and departure (every package shipped in
/// the ledger), which is not offered on a route a manager cancelled (core refuses it too).
/// Patients appear only as their redacted reference here.
@MainActor
struct RouteView: View {
    @EnvironmentObject private var model: AppModel
    let manifestId: String

    @State private var route: Route?
    @State private var loadError: String?
    @State private var outcome: ScanOutcome?
    @State private var working = false

    var body: some View {
        List {
            if let loadError = loadError {
                Text(loadError).foregroundColor(.red)
            }
            if let route = route {
                Section {
                    if let cancellation = route.cancellationText {
                        Label(cancellation, systemImage: "xmark.octagon.fill")
                            .font(.headline)
                            .foregroundColor(.red)
                    }
                    LabeledContent("Vehicle", value: "\(route.vehicle.make) \(route.vehicle.model) · \(route.vehicle.plate)")
                    LabeledContent("Driver", value: route.driverName)
                    LabeledContent("Progress", value: "\(route.finishedStops) of \(route.stops.count) stops done")
                    if let departed = route.departedAt {
                        LabeledContent("Departed", value: departed.formatted(date: .omitted, time: .shortened))
                    } else if route.cancelled == nil {
                        Button("Depart") {
                            Task { await depart() }
                        }
                        .disabled(working)
                    }
                    if let outcome = outcome {
                        ScanBanner(outcome: outcome)
                            .listRowInsets(EdgeInsets())
                    }
                }
                Section("Stops") {
                    ForEach(route.stops.sorted { $0.number < $1.number }, id: \.number) { stop in
                        NavigationLink(value: OutboundDestination.stop(manifestId: manifestId, number: stop.number)) {
                            stopRow(stop, cancelled: route.cancelled != nil)
                        }
                    }
                }
            }
        }
        .navigationTitle(route.map { "Manifest \($0.number)" } ?? "Route")
        .task(id: model.revision(.outbound)) {
            await load()
        }
    }

    private func stopRow(_ stop: RouteStop, cancelled: Bool) -> some View {
        VStack(alignment: .leading, spacing: 4) {
            Text("\(stop.number). \(stop.recipient.name)").font(.headline)
            Text(stop.recipient.address).font(.caption)
            Text("Expected \(stop.estimatedArrival.formatted(date: .omitted, time: .shortened)) · \(stop.packages.count) packages · order \(stop.orderNumber)")
                .font(.caption)
                .foregroundColor(.secondary)
            // The reference only: patient details are opened at the stop, on a tap.
            if let ref = stop.patientRef {
                Text("Medical · patient \(ref)").font(.caption)
            }
            Text(cancelled && stop.state == .pending ? notGoing : stopStateText(stop)).font(.caption.bold())
        }
    }

    private func load() async {
        let id = manifestId
        do {
            route = try await model.call { client in try client.route(manifestId: id) }
            loadError = nil
        } catch {
            loadError = custodyMessage(error)
        }
    }

    private func depart() async {
        let id = manifestId
        working = true
        defer { working = false }
        do {
            let events = try await model.call { client in try client.depart(manifestId: id) }
            outcome = .good("Departed: \(events.count) package\(events.count == 1 ? "" : "s") on the road")
            await load()
        } catch {
            outcome = .failure(error)
        }
        if let outcome = outcome {
            ScanFeedback.play(outcome)
        }
    }
}

/// A pending stop of a cancelled route.
let notGoing = "Not going: the route was cancelled"

func stopStateText(_ stop: RouteStop) -> String {
    switch stop.state {
    case .pending:
        return "To deliver"
    case .done:
        return "Delivered to \(stop.receiverName ?? "?") (licence \(stop.receiverLicence ?? "?"))"
    case .failed:
        return "Not made: \(stop.failedReason ?? "")"
    }
}

/// A stop: who received it (name, licence), each package delivered or refused with the
/// receiver's reason, the time and the GPS position; or "not made" with why. Works offline.
///
/// Patient details of a medical stop are fetched only when the driver taps "Show patient
/// details": core checks who may see them and logs every opening. They live in this view's state
/// only, so they go when the driver leaves the stop, and are dropped when the app goes to the
/// background.
@MainActor
struct StopView: View {
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss
    @Environment(\.scenePhase) private var scenePhase
    let manifestId: String
    let number: UInt32

    @StateObject private var location = StopLocation()
    @State private var route: Route?
    @State private var loadError: String?
    @State private var receiverName = ""
    @State private var receiverLicence = ""
    /// Tags the receiver refused, with the reason typed for each.
    @State private var refused: [String: String] = [:]
    @State private var reasonMissing: Set<String> = []
    @State private var failReason = ""
    @State private var patient: PatientDetails?
    @State private var outcome: ScanOutcome?
    @State private var working = false

    private var stop: RouteStop? {
        route?.stops.first { $0.number == number }
    }

    var body: some View {
        Form {
            if let loadError = loadError {
                Text(loadError).foregroundColor(.red)
            }
            if let outcome = outcome {
                Section {
                    ScanBanner(outcome: outcome)
                        .listRowInsets(EdgeInsets())
                }
            }
            if let stop = stop {
                Section {
                    Text(stop.recipient.name).font(.headline)
                    Text(stop.recipient.address)
                    LabeledContent("Licence", value: stop.recipient.licence)
                    LabeledContent("Order", value: stop.orderNumber)
                    LabeledContent("Expected", value: stop.estimatedArrival.formatted(date: .omitted, time: .shortened))
                    if !stop.plannedRoute.isEmpty {
                        LabeledContent("Route", value: stop.plannedRoute)
                    }
                }
                if let cancellation = route?.cancellationText {
                    // Nothing to deliver, confirm or fail, and no patient to open.
                    Section {
                        Label(cancellation, systemImage: "xmark.octagon.fill")
                            .foregroundColor(.red)
                    }
                    Section(stop.state == .pending ? notGoing : stopStateText(stop)) {
                        ForEach(stop.packages, id: \.tag) { package in
                            VStack(alignment: .leading) {
                                Text("\(package.item) · \(package.quantity.display)")
                                Text("\(package.tag) · container \(package.container)").font(.caption)
                            }
                        }
                    }
                } else if stop.state == .pending {
                    if let ref = stop.patientRef {
                        patientSection(stop, ref: ref)
                    }
                    confirmSections(stop)
                } else {
                    if let ref = stop.patientRef {
                        patientSection(stop, ref: ref)
                    }
                    Section(stopStateText(stop)) {
                        ForEach(stop.packages, id: \.tag) { package in
                            VStack(alignment: .leading) {
                                Text("\(package.item) · \(package.quantity.display)")
                                Text("\(package.tag) · \(outcomeText(package))").font(.caption)
                            }
                        }
                    }
                }
            }
        }
        .navigationTitle("Stop \(number)")
        .task(id: model.revision(.outbound)) {
            await load()
        }
        .onAppear { location.start() }
        .onDisappear {
            location.stop()
            patient = nil
        }
        .onChange(of: scenePhase) { phase in
            if phase != .active {
                patient = nil
            }
        }
    }

    // ---- sections -----------------------------------------------------------------------------

    private func patientSection(_ stop: RouteStop, ref: String) -> some View {
        Section("Medical delivery · patient \(ref)") {
            if let patient = patient {
                Text(patient.name).font(.headline)
                LabeledContent("Card", value: patient.cardNumber)
                Text(patient.address)
                Text(patient.phone)
                Button("Hide") { self.patient = nil }
            } else {
                Button("Show patient details") {
                    Task { await showPatient(stop) }
                }
                Text("Opening them is logged with your name.")
                    .font(.caption)
                    .foregroundColor(.secondary)
            }
        }
    }

    @ViewBuilder
    private func confirmSections(_ stop: RouteStop) -> some View {
        Section("Received by") {
            TextField("Receiver's name", text: $receiverName)
            TextField("Receiver's licence number", text: $receiverLicence)
                .autocorrectionDisabled()
                .textInputAutocapitalization(.characters)
        }
        Section("Packages: delivered unless marked refused") {
            ForEach(stop.packages, id: \.tag) { package in
                VStack(alignment: .leading, spacing: 6) {
                    Text(package.item).font(.headline)
                    Text("\(package.tag) · \(package.quantity.display) · container \(package.container)")
                        .font(.caption.monospaced())
                    Toggle("Refused by the receiver", isOn: refusedBinding(package.tag))
                    if refused[package.tag] != nil {
                        TextField("Why the receiver refused it", text: reasonBinding(package.tag))
                        if reasonMissing.contains(package.tag) {
                            Text("A reason is needed").font(.caption).foregroundColor(.red)
                        }
                    }
                }
            }
        }
        Section {
            Button("Confirm delivery") {
                Task { await confirm(stop) }
            }
            .disabled(working)
            LabeledContent("Position", value: location.gps.map { "±\($0.accuracyM) m" } ?? "no GPS fix yet")
        }
        Section("Stop cannot be made") {
            TextField("Why (closed, nobody to receive it…)", text: $failReason)
            Button("Record the stop as not made", role: .destructive) {
                Task { await fail(stop) }
            }
            .disabled(working)
        }
    }

    private func refusedBinding(_ tag: String) -> Binding<Bool> {
        Binding(
            get: { refused[tag] != nil },
            set: { isRefused in
                refused[tag] = isRefused ? (refused[tag] ?? "") : nil
                reasonMissing.remove(tag)
            }
        )
    }

    private func reasonBinding(_ tag: String) -> Binding<String> {
        Binding(
            get: { refused[tag] ?? "" },
            set: { text in
                refused[tag] = text
                reasonMissing.remove(tag)
            }
        )
    }

    // ---- actions ------------------------------------------------------------------------------

    private func load() async {
        let id = manifestId
        do {
            route = try await model.call { client in try client.route(manifestId: id) }
            loadError = nil
            // Confirmed on another phone, or the route cancelled, meanwhile: the patient is no
            // longer needed here.
            if stop?.state != .pending || route?.cancelled != nil {
                patient = nil
            }
        } catch {
            loadError = custodyMessage(error)
        }
    }

    /// A refused package needs the receiver's reason: checked here first to point at the empty
    /// field (core refuses it too). The name and licence are core's to check.
    private func confirm(_ stop: RouteStop) async {
        let unexplained = stop.packages.filter { package in
            guard let reason = refused[package.tag] else { return false }
            return reason.trimmingCharacters(in: .whitespaces).isEmpty
        }
        if !unexplained.isEmpty {
            reasonMissing = Set(unexplained.map(\.tag))
            let which = unexplained.map { "\($0.item) (\($0.tag))" }.joined(separator: ", ")
            show(.bad("Say why the receiver refused \(which)."))
            return
        }
        let confirmation = StopConfirmation(
            receiverName: receiverName.trimmingCharacters(in: .whitespaces),
            receiverLicence: receiverLicence.trimmingCharacters(in: .whitespaces),
            refused: stop.packages.compactMap { package in
                refused[package.tag].map { RefusedPackage(tag: package.tag, reason: $0.trimmingCharacters(in: .whitespaces)) }
            },
            gps: location.gps
        )
        let id = manifestId
        let number = self.number
        working = true
        defer { working = false }
        do {
            _ = try await model.call { client in
                try client.confirmStop(manifestId: id, stop: number, confirmation: confirmation)
            }
            let delivered = stop.packages.count - confirmation.refused.count
            let what = confirmation.refused.isEmpty
                ? "\(delivered) delivered"
                : "\(delivered) delivered, \(confirmation.refused.count) refused (keep them for return check-in)"
            ScanFeedback.play(.good(what))
            // Back to the route: the stop, and any patient shown on it, are left behind.
            dismiss()
        } catch {
            show(.failure(error))
        }
    }

    private func fail(_ stop: RouteStop) async {
        let id = manifestId
        let number = self.number
        let reason = failReason.trimmingCharacters(in: .whitespaces)
        let gps = location.gps
        working = true
        defer { working = false }
        do {
            try await model.call { client in
                try client.failStop(manifestId: id, stop: number, reason: reason, gps: gps)
            }
            ScanFeedback.play(.good("Stop \(stop.number) not made"))
            dismiss()
        } catch {
            show(.failure(error))
        }
    }

    private func showPatient(_ stop: RouteStop) async {
        let orderId = stop.orderId
        let purpose = "delivery: driver checks the patient at the door, stop \(stop.number) of manifest \(route?.number ?? "")"
        do {
            patient = try await model.call { client in try client.patient(orderId: orderId, purpose: purpose) }
        } catch {
            show(.failure(error))
        }
    }

    private func outcomeText(_ package: RoutePackage) -> String {
        switch package.outcome {
        case .pending: return "On the truck"
        case .delivered: return "Delivered"
        case .refused: return "Refused: \(package.reason ?? ""); bring it back"
        case .returned: return "Back in the vault"
        }
    }

    private func show(_ result: ScanOutcome) {
        outcome = result
        ScanFeedback.play(result)
    }
}
