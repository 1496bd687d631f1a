import Foundation

extension CustodyError {
    /// Core's sentence for the person holding the phone, unchanged.
    public var message: String {
        switch self {
        case .InvalidInput(let message),
             .NotEnrolled(let message),
             .NotSignedIn(let message),
             .BadCredentials(let message),
             .NotAllowed(let message),
             .Refused(let message),
             .NotFound(let message),
             .Offline(let message),
             .Unauthorized(let message),
             .Server(let message),
             .Storage(let message):
            return message
        }
    }

    /// The sign-in or enrolment state changed under the screen: it should look again.
    public var needsSessionRefresh: Bool {
        switch self {
        case .NotEnrolled, .NotSignedIn, .Unauthorized:
            return true
        default:
            return false
        }
    }
}

/// What to show for any error a Custody call threw: core's message for `CustodyError`, the
/// platform's description otherwise.
public func custodyMessage(_ error: Error) -> String {
    if let error = error as? CustodyError {
        return error.message
    }
    return error.localizedDescription
}
