import AudioToolbox
import CustodyCore
import SwiftUI
import UIKit

/// The answer to one scan, as the screen shows it.
enum ScanOutcome: Equatable {
    case good(String)
    case bad(String)

    static func failure(_ error: Error) -> ScanOutcome {
        .bad(custodyMessage(error))
    }
}

/// A short tick and a success tap for a good scan; an error tone, a buzz and an error tap for
/// anything else. The sound plays at once; nothing waits on the network.
enum ScanFeedback {
    /// "Tink": short and clear on a noisy floor.
    static let goodSound: SystemSoundID = 1057
    /// "AudioToneError": the phone's error tone.
    static let badSound: SystemSoundID = 1073

    @MainActor
    static func play(_ outcome: ScanOutcome) {
        let haptics = UINotificationFeedbackGenerator()
        switch outcome {
        case .good:
            AudioServicesPlaySystemSound(goodSound)
            haptics.notificationOccurred(.success)
        case .bad:
            AudioServicesPlaySystemSound(badSound)
            AudioServicesPlaySystemSound(kSystemSoundID_Vibrate)
            haptics.notificationOccurred(.error)
        }
    }
}

/// The green or red panel under the scanner: a tick or a cross and the message, core's as it is.
struct ScanBanner: View {
    let outcome: ScanOutcome?

    var body: some View {
        switch outcome {
        case .good(let message):
            panel(message, symbol: "checkmark.circle.fill", color: .green)
        case .bad(let message):
            panel(message, symbol: "xmark.octagon.fill", color: .red)
        case nil:
            EmptyView()
        }
    }

    private func panel(_ message: String, symbol: String, color: Color) -> some View {
        HStack(alignment: .top, spacing: 12) {
            Image(systemName: symbol)
                .font(.title)
            Text(message)
                .font(.headline)
                .frame(maxWidth: .infinity, alignment: .leading)
        }
        .padding()
        .foregroundColor(.white)
        .background(color)
        .cornerRadius(12)
        .accessibilityElement(children: .combine)
    }
}
