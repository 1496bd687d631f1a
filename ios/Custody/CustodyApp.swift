import CustodyCore
import SwiftUI

@main
struct CustodyApp: App {
    @StateObject private var model: AppModel
    @Environment(\.scenePhase) private var scenePhase

    init() {
        let model = AppModel()
        // BGTaskScheduler wants its handlers before the app finishes launching.
        model.registerBackgroundSync()
        _model = StateObject(wrappedValue: model)
    }

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(model)
        }
        .onChange(of: scenePhase) { phase in
            model.scenePhaseChanged(phase)
        }
    }
}

/// Enrolment, then sign-in, then the home screen of the person's role.
@MainActor
struct RootView: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        Group {
            if let message = model.openError {
                OpenFailedView(message: message)
            } else if !model.loaded {
                ProgressView()
            } else if model.identity == nil {
                EnrolView()
            } else if let user = model.user {
                HomeView(user: user)
            } else {
                SignInView()
            }
        }
        .task {
            await model.refreshSession()
        }
    }
}

/// The store could not be opened (Keychain locked, disk full, damaged file): say so plainly.
@MainActor
struct OpenFailedView: View {
    let message: String

    var body: some View {
        VStack(spacing: 16) {
            Image(systemName: "exclamationmark.triangle.fill")
                .font(.largeTitle)
                .foregroundColor(.red)
            Text("Custody cannot open its data on this phone.")
                .font(.headline)
            Text(message)
                .multilineTextAlignment(.center)
        }
        .padding()
    }
}
