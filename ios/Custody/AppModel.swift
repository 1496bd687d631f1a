import CustodyCore
import Foundation
import SwiftUI

/// What every screen shares: the client, the device's enrolment, who is signed in, the sync
/// status, and a counter per kind of change so screens know when to reload. It forwards and
/// shows; every rule is in custody-core.
@MainActor
final class AppModel: ObservableObject {
    @Published private(set) var loaded = false
    @Published private(set) var openError: String?
    @Published private(set) var identity: DeviceIdentity?
    @Published private(set) var user: SignedInUser?
    /// Set when a sync (or a refused call) found the person on screen signed out by core: they
    /// were deactivated or their PIN was reset. The sign-in screen shows it until the next sign-in.
    @Published private(set) var signedOutNotice: String?
    @Published private(set) var syncStatus: SyncStatus?
    @Published private(set) var lastReport: SyncReport?
    @Published private(set) var syncing = false
    /// Bumped on every change the core reports; screens reload with `.task(id:)`.
    @Published private(set) var changes: [ChangeKind: Int] = [:]

    let client: CustodyClient?
    private let scheduler: SyncScheduler
    private var listeners: ListenerBridge?
    private var foregroundSync: Task<Void, Never>?

    /// How often the app syncs while it is open (the background task covers the rest).
    private let foregroundSyncInterval: UInt64 = 60

    init() {
        var client: CustodyClient?
        var failure: String?
        do {
            client = try AppModel.openClient()
        } catch {
            failure = custodyMessage(error)
        }
        self.client = client
        // Registered even when the store failed to open: iOS may still launch a task scheduled
        // earlier, and it must find a handler.
        scheduler = SyncScheduler { [client] in
            if let client = client {
                _ = try await client.syncNow()
            }
        }
        openError = failure
        if let client = client {
            let bridge = ListenerBridge(model: self)
            client.setSyncListener(listener: bridge)
            client.setChangeListener(listener: bridge)
            listeners = bridge
        }
    }

    /// The device store lives in Application Support, outside backups: its key never leaves this
    /// device, so a restored copy could not be read anyway.
    private static func openClient() throws -> CustodyClient {
        let files = FileManager.default
        var folder = try files.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("Custody", isDirectory: true)
        try files.createDirectory(
            at: folder,
            withIntermediateDirectories: true,
            attributes: [.protectionKey: FileProtectionType.completeUntilFirstUserAuthentication]
        )
        var values = URLResourceValues()
        values.isExcludedFromBackup = true
        try folder.setResourceValues(values)

        // The store key is made (or read) before the store opens, so a locked Keychain shows up
        // here. Core opens the store with it and derives every secret it keeps at rest from it
        // (the patient-data seal, the wrapping of each person's signing key).
        let keys = KeychainKeyStore()
        let key = try keys.storeKey()
        return try CustodyClient(dbPath: folder.appendingPathComponent("custody.db").path, storeKey: key)
    }

    // ---- calls --------------------------------------------------------------------------------

    /// Runs a blocking client call off the main thread (they touch the local database) and
    /// returns its answer or throws core's error. A sign-in or enrolment error refreshes the
    /// session so the right screen shows.
    func call<T: Sendable>(
        refreshOnSessionError: Bool = true,
        _ work: @escaping @Sendable (CustodyClient) throws -> T
    ) async throws -> T {
        guard let client = client else {
            throw CustodyError.Storage(message: openError ?? "The device store is not open.")
        }
        do {
            return try await Task.detached(priority: .userInitiated) {
                try work(client)
            }.value
        } catch {
            if refreshOnSessionError, let custodyError = error as? CustodyError, custodyError.needsSessionRefresh {
                await refreshSession()
            }
            throw error
        }
    }

    func refreshSession() async {
        guard client != nil else {
            loaded = true
            return
        }
        do {
            let before = self.user
            let (identity, user, status) = try await call(refreshOnSessionError: false) { client in
                (try client.identity(), try client.currentUser(), try client.syncStatus())
            }
            self.identity = identity
            self.user = user
            self.syncStatus = status
            if let before = before, user == nil {
                // Nobody signed out here (signOut clears `user` first): core did, at a sync.
                signedOutNotice = "\(before.name) signed out at the last sync; scan your badge to sign in again"
            }
        } catch {
            openError = custodyMessage(error)
        }
        loaded = true
        if identity != nil {
            startForegroundSync()
        }
    }

    // ---- enrolment, sign-in -------------------------------------------------------------------

    /// Enrols this device, then syncs so the roster arrives. Each person's first sign-in on this
    /// phone then goes to the server; later ones work offline.
    func enrol(serverUrl: String, code: String, deviceName: String) async throws {
        guard let client = client else { return }
        _ = try await client.enrol(serverUrl: serverUrl, code: code, deviceName: deviceName)
        _ = await syncNow()
        await refreshSession()
    }

    /// Whether this phone holds the signing key of the person with this badge (core's roster),
    /// so core checks the PIN here, offline; otherwise core asks the server.
    func signsInHere(badge: String) async -> Bool {
        let badge = badge.trimmingCharacters(in: .whitespacesAndNewlines)
        let people = try? await call(refreshOnSessionError: false) { client in try client.people() }
        return people?.contains { $0.badge == badge && $0.signsInHere } ?? false
    }

    /// Badge and PIN to core, which checks them offline when this phone holds the person's
    /// signing key (their PIN opens it), and online the first time they sign in here (the server
    /// checks them and registers a key for this phone). Async in core: it never blocks the main
    /// actor. Throws core's error: `.BadCredentials` (offline, with how many tries are left),
    /// `.Offline` when the server must be asked and cannot be reached, `.Server` for a lockout.
    func signIn(badge: String, pin: String) async throws {
        guard let client = client else {
            throw CustodyError.Storage(message: openError ?? "The device store is not open.")
        }
        do {
            let user = try await client.signIn(badge: badge, pin: pin)
            self.user = user
            signedOutNotice = nil
        } catch {
            if let custodyError = error as? CustodyError, custodyError.needsSessionRefresh {
                await refreshSession()
            }
            throw error
        }
    }

    func signOut() async {
        // Cleared first, so the change core reports is not taken for a sign-out by a sync.
        user = nil
        signedOutNotice = nil
        _ = try? await call { client in try client.signOut() }
        await refreshSession()
    }

    // ---- sync ---------------------------------------------------------------------------------

    /// Syncs now; returns core's message if it failed (the status shows it too).
    @discardableResult
    func syncNow() async -> String? {
        guard let client = client else { return nil }
        syncing = true
        defer { syncing = false }
        do {
            lastReport = try await client.syncNow()
            return nil
        } catch {
            return custodyMessage(error)
        }
    }

    func registerBackgroundSync() {
        scheduler.register()
    }

    func scenePhaseChanged(_ phase: ScenePhase) {
        switch phase {
        case .active:
            if identity != nil {
                startForegroundSync()
            }
        case .background:
            stopForegroundSync()
            scheduler.schedule()
            if let client = client {
                Task.detached(priority: .background) {
                    try? client.checkpoint()
                }
            }
        default:
            break
        }
    }

    private func startForegroundSync() {
        guard foregroundSync == nil else { return }
        let seconds = foregroundSyncInterval
        foregroundSync = Task { [weak self] in
            while !Task.isCancelled {
                guard let self = self else { return }
                await self.syncNow()
                try? await Task.sleep(nanoseconds: seconds * 1_000_000_000)
            }
        }
    }

    private func stopForegroundSync() {
        foregroundSync?.cancel()
        foregroundSync = nil
    }

    // ---- listener callbacks (on the main actor) -----------------------------------------------

    fileprivate func statusChanged(_ status: SyncStatus) {
        syncStatus = status
    }

    fileprivate func changed(_ kind: ChangeKind) {
        changes[kind, default: 0] += 1
        if kind == .signIn {
            Task { await refreshSession() }
        }
    }

    func revision(_ kind: ChangeKind) -> Int {
        changes[kind, default: 0]
    }
}

/// The core calls its listeners on whatever thread made the change; this hops to the main actor.
private final class ListenerBridge: SyncListener, ChangeListener, @unchecked Sendable {
    private weak var model: AppModel?

    init(model: AppModel) {
        self.model = model
    }

    func onStatus(status: SyncStatus) {
        let model = self.model
        Task { @MainActor in
            model?.statusChanged(status)
        }
    }

    func onChange(what: ChangeKind) {
        let model = self.model
        Task { @MainActor in
            model?.changed(what)
        }
    }
}
