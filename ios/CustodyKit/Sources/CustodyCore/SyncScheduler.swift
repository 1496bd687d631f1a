import BackgroundTasks
import Foundation

/// Background sync: a `BGProcessingTask` that needs the network and calls `syncNow()`, scheduled
/// again each time it runs. iOS decides when it runs (typically while the phone charges, idle).
/// While the app is open, the app syncs itself (see `AppModel`).
///
/// The app's Info.plist must list `taskIdentifier` under `BGTaskSchedulerPermittedIdentifiers`
/// and `processing` under `UIBackgroundModes`. `register()` must be called before the app
/// finishes launching (in the `App` initialiser).
public final class SyncScheduler: @unchecked Sendable {
    public static let taskIdentifier = "com.custody.sync"

    public let identifier: String
    /// How long after scheduling iOS may start the task at the earliest.
    public let interval: TimeInterval
    private let sync: @Sendable () async throws -> Void

    /// `sync` is what the task does; usually `client.syncNow()` (see `init(client:)`).
    public init(
        identifier: String = SyncScheduler.taskIdentifier,
        interval: TimeInterval = 15 * 60,
        sync: @escaping @Sendable () async throws -> Void
    ) {
        self.identifier = identifier
        self.interval = interval
        self.sync = sync
    }

    public convenience init(client: CustodyClient, identifier: String = SyncScheduler.taskIdentifier, interval: TimeInterval = 15 * 60) {
        self.init(identifier: identifier, interval: interval) {
            _ = try await client.syncNow()
        }
    }

    /// Registers the launch handler. Call once, before the app finishes launching.
    @discardableResult
    public func register() -> Bool {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: identifier, using: nil) { [weak self] task in
            guard let self = self, let task = task as? BGProcessingTask else {
                task.setTaskCompleted(success: false)
                return
            }
            self.run(task)
        }
    }

    /// Asks iOS to run a sync in the background later (replacing an earlier request). Call when
    /// the app goes to the background. The simulator refuses; that error is returned, not thrown.
    @discardableResult
    public func schedule() -> Error? {
        let request = BGProcessingTaskRequest(identifier: identifier)
        request.requiresNetworkConnectivity = true
        request.requiresExternalPower = false
        request.earliestBeginDate = Date(timeIntervalSinceNow: interval)
        do {
            try BGTaskScheduler.shared.submit(request)
            return nil
        } catch {
            return error
        }
    }

    private func run(_ task: BGProcessingTask) {
        schedule()
        let completion = Completion(task: task)
        let work = Task.detached(priority: .utility) { [sync] in
            do {
                try await sync()
                completion.finish(success: true)
            } catch {
                // The sync listener and `syncStatus()` carry the error; the work stays saved.
                completion.finish(success: false)
            }
        }
        task.expirationHandler = {
            work.cancel()
            completion.finish(success: false)
        }
    }
}

/// Tells iOS the task is done exactly once, whichever of the sync and the expiry comes first.
private final class Completion: @unchecked Sendable {
    private let lock = NSLock()
    private var task: BGTask?

    init(task: BGTask) {
        self.task = task
    }

    func finish(success: Bool) {
        lock.lock()
        let pending = task
        task = nil
        lock.unlock()
        pending?.setTaskCompleted(success: success)
    }
}
