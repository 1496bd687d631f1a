// Custody for Android. Open this folder (android/) in Android Studio.
//
// Modules:
//   :custody-bindings  the Kotlin bindings uniffi generates from the Rust library (bindings/),
//                      compiled as a plain JVM library; generated at build time, never committed
//   :ui-state          every screen's state and decisions, plain Kotlin (no Android imports),
//                      tested on the JVM (./gradlew :ui-state:jvmTest or ui-state/run-jvm-tests.sh)
//   :app               the Android app: Compose screens, scanner input, WorkManager, Keystore
pluginManagement {
    repositories {
        google {
            content {
                includeGroupByRegex("com\\.android.*")
                includeGroupByRegex("com\\.google.*")
                includeGroupByRegex("androidx.*")
            }
        }
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
        // The Kotlin half of rustls-platform-verifier (the sync client checks certificates with
        // Android's verifier through it); published by the crate's authors, see android/README.md.
        maven {
            url = uri("https://github.com/rustls/rustls-platform-verifier/raw/maven-archive/android-release-support/maven/")
            content { includeGroup("rustls") }
        }
    }
}

rootProject.name = "Custody"
include(":custody-bindings", ":ui-state", ":app")
