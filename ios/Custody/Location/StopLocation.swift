import CoreLocation
import CustodyCore
import Foundation

/// The phone's position for a stop's record. Listens only while a stop is on screen (`start` /
/// `stop`), and `gps` never waits for a fix: a stop is recorded without a position rather than
/// held up at a door with poor reception.
///
/// Core Location gives degrees and metres as doubles; they become decimal strings here, at the
/// edge, which is what the bindings take (core never sees a float).
@MainActor
final class StopLocation: NSObject, ObservableObject, CLLocationManagerDelegate {
    @Published private(set) var latest: CLLocation?
    private let manager = CLLocationManager()
    private var listening = false

    /// A fix older than this is not where the stop is (the van has moved on since).
    private let maxAge: TimeInterval = 120

    override init() {
        super.init()
        manager.delegate = self
        manager.desiredAccuracy = kCLLocationAccuracyNearestTenMeters
    }

    func start() {
        listening = true
        switch manager.authorizationStatus {
        case .notDetermined:
            // Answered in locationManagerDidChangeAuthorization, which starts the updates.
            manager.requestWhenInUseAuthorization()
        case .authorizedWhenInUse, .authorizedAlways:
            manager.startUpdatingLocation()
        default:
            break // denied or restricted: stops are recorded without a position
        }
    }

    func stop() {
        listening = false
        manager.stopUpdatingLocation()
    }

    /// The freshest fix of the last two minutes, or nil. A fix without a valid accuracy is not
    /// recorded: the record would claim a precision it lacks.
    var gps: Gps? {
        guard let fix = latest, fix.horizontalAccuracy >= 0, -fix.timestamp.timeIntervalSinceNow <= maxAge else {
            return nil
        }
        return Gps(
            latitude: String(format: "%.6f", fix.coordinate.latitude),
            longitude: String(format: "%.6f", fix.coordinate.longitude),
            // Whole metres, rounded up: never better than measured.
            accuracyM: String(Int(fix.horizontalAccuracy.rounded(.up)))
        )
    }

    // ---- CLLocationManagerDelegate (called on the main thread, where the manager was made) ----

    nonisolated func locationManager(_ manager: CLLocationManager, didUpdateLocations locations: [CLLocation]) {
        guard let last = locations.last else { return }
        Task { @MainActor in
            self.latest = last
        }
    }

    nonisolated func locationManagerDidChangeAuthorization(_ manager: CLLocationManager) {
        Task { @MainActor in
            let status = self.manager.authorizationStatus
            if self.listening && (status == .authorizedWhenInUse || status == .authorizedAlways) {
                self.manager.startUpdatingLocation()
            }
        }
    }

    nonisolated func locationManager(_ manager: CLLocationManager, didFailWithError error: Error) {
        // No fix now (indoors, a basement loading dock): keep the last one; it ages out by itself.
    }
}
