import CustodyCore
import SwiftUI

/// How long ago, as a manager reads it at a glance: "just now", "12 min ago", "3 h ago", "2 days ago".
func agoText(_ seconds: Int64) -> String {
    if seconds < 60 { return "just now" }
    if seconds < 3600 { return "\(seconds / 60) min ago" }
    if seconds < 48 * 3600 { return "\(seconds / 3600) h ago" }
    return "\(seconds / 86400) days ago"
}

/// An instant in the facility's local time ("14:05"; "Nov 30 14:05" on another day), in `zone`
/// (an IANA name) or, when the phone does not know it yet, UTC marked as such.
func facilityTime(_ date: Date, zone: String?, now: Date) -> String {
    let tz = zone.flatMap { TimeZone(identifier: $0) }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = tz ?? TimeZone(identifier: "UTC")!
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = calendar.timeZone
    formatter.dateFormat = calendar.isDate(date, inSameDayAs: now) ? "HH:mm" : "MMM d HH:mm"
    let text = formatter.string(from: date)
    return tz == nil ? "\(text) UTC" : text
}

/// The manager's view of what reaches the state: the failed queue with the state's messages, the
/// outbox length and how long its oldest write has waited, as the server last sent them (with
/// their age when the phone is offline). Core decides who may see it and refuses anyone else.
@MainActor
struct StateSubmissionsView: View {
    @EnvironmentObject private var model: AppModel
    @State private var view: StateSubmissions?
    @State private var error: String?

    var body: some View {
        List {
            if let error = error {
                Text(error).foregroundColor(.red)
            }
            if let view = view {
                content(view)
            }
        }
        .navigationTitle("State submissions")
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task {
            await load()
        }
    }

    @ViewBuilder
    private func content(_ view: StateSubmissions) -> some View {
        let now = view.readAt
        let stamp = { (date: Date) -> String in
            "\(facilityTime(date, zone: view.timeZone, now: now)) (\(agoText(Int64(max(0, now.timeIntervalSince(date))))))"
        }
        if let status = view.status {
            Section {
                if let asOf = view.asOf {
                    Text("Status as of \(agoText(Int64(max(0, now.timeIntervalSince(asOf)))))").foregroundColor(.secondary)
                }
                if let stopped = status.stopped {
                    Text("Stopped: \(stopped)").foregroundColor(.red)
                }
                if let warning = status.keyWarning {
                    Text(warning).foregroundColor(.orange)
                }
                Text("Waiting to be sent: \(status.queued)")
                if let oldest = status.oldestQueuedAt {
                    Text("Oldest queued \(stamp(oldest))")
                }
                if status.unapproved > 0 {
                    Text("Adjustments waiting for approval: \(status.unapproved)")
                }
                if let pulled = status.lastPullAt {
                    Text("Last read from the state \(stamp(pulled))").foregroundColor(.secondary)
                }
            }
            Section("Refused by the state (\(status.failed.count))") {
                ForEach(status.failed, id: \.seq) { failed in
                    VStack(alignment: .leading, spacing: 4) {
                        Text("\(failed.kind) · \(failed.packages.joined(separator: ", "))").font(.body.monospaced())
                        Text(failed.message).foregroundColor(.red)
                        Text("Queued \(stamp(failed.queuedAt))").font(.caption).foregroundColor(.secondary)
                    }
                }
            }
        } else {
            Text("No status from the state system: this facility is not connected, or the phone has not synced yet.")
                .foregroundColor(.secondary)
        }
    }

    private func load() async {
        do {
            view = try await model.call { client in try client.stateSubmissions() }
            error = nil
        } catch {
            self.error = custodyMessage(error)
        }
    }
}

/// The manifests the state lists for this facility: pick one to open receiving from it (core
/// records the state's lab results in the session). File import stays the fallback.
@MainActor
struct ReceivingInboxView: View {
    @EnvironmentObject private var model: AppModel
    @State private var entries: [InboxEntry] = []
    @State private var error: String?
    @State private var opened: String?

    var body: some View {
        List {
            if let error = error {
                Text(error).foregroundColor(.red)
            }
            if let opened = opened {
                Text(opened).foregroundColor(.green)
            }
            if entries.isEmpty && error == nil {
                Text("No manifests from the state. Sync, or receive from a manifest file.").foregroundColor(.secondary)
            }
            ForEach(entries, id: \.manifestNumber) { entry in
                Button {
                    Task { await open(entry) }
                } label: {
                    VStack(alignment: .leading, spacing: 4) {
                        Text("\(entry.manifestNumber) · \(entry.shipperName.isEmpty ? entry.shipperLicense : entry.shipperName)")
                        Text("\(entry.packages) packages" + (entry.session != nil ? (entry.received ? " · received" : " · receiving") : ""))
                            .font(.caption)
                            .foregroundColor(.secondary)
                    }
                }
            }
        }
        .navigationTitle("Inbox from the state")
        .refreshable {
            await model.syncNow()
            await load()
        }
        .task {
            await load()
        }
    }

    private func open(_ entry: InboxEntry) async {
        if entry.session != nil {
            opened = "Manifest \(entry.manifestNumber) is already being received."
            return
        }
        do {
            let number = entry.manifestNumber
            _ = try await model.call { client in try client.openReceivingFromInbox(manifestNumber: number) }
            opened = "Receiving manifest \(number)."
            error = nil
            await load()
        } catch {
            self.error = custodyMessage(error)
        }
    }

    private func load() async {
        do {
            entries = try await model.call { client in try client.receivingInbox() }
            error = nil
        } catch {
            self.error = custodyMessage(error)
        }
    }
}
