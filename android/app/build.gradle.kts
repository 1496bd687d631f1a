// The Android app: thin Compose screens over :ui-state, scanner input, WorkManager sync and the
// store key in the Android Keystore. The Rust library comes in as src/main/jniLibs/<abi>/
// libcustody_ffi.so, built by scripts/build-jnilibs.sh (cargo ndk) before each build.
plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

val abis = providers.gradleProperty("custody.abis").getOrElse("arm64-v8a,armeabi-v7a,x86_64")
    .split(',').map(String::trim).filter(String::isNotEmpty)
val skipRust = providers.gradleProperty("custody.skipRust").map(String::toBoolean).getOrElse(false)

android {
    namespace = "com.custody.app"
    compileSdk = 35
    // The NDK cargo-ndk links with (Android Studio > SDK Manager > SDK Tools > NDK).
    ndkVersion = "27.2.12479018"

    defaultConfig {
        applicationId = "com.custody.app"
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        ndk {
            abiFilters += abis
        }
    }

    buildTypes {
        release {
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    buildFeatures {
        compose = true
    }

    packaging {
        jniLibs {
            // Page-aligned and uncompressed in the APK: loaded in place.
            useLegacyPackaging = false
        }
    }
}

kotlin {
    jvmToolchain(17)
}

val buildRustJniLibs by tasks.registering(Exec::class) {
    group = "custody"
    description = "cargo ndk: builds libcustody_ffi.so for $abis into src/main/jniLibs."
    onlyIf { !skipRust }
    workingDir = rootDir
    commandLine(listOf("bash", "scripts/build-jnilibs.sh") + abis)
    // cargo-ndk finds the NDK through ANDROID_NDK_HOME; hand it the one this build uses (if the
    // NDK of ndkVersion is not installed, cargo-ndk looks in ANDROID_HOME/ndk itself).
    runCatching { android.ndkDirectory }.getOrNull()?.takeIf { it.isDirectory }?.let {
        environment("ANDROID_NDK_HOME", it.absolutePath)
    }
    val repoRoot = rootDir.parentFile
    inputs.dir(File(repoRoot, "core/src"))
    inputs.dir(File(repoRoot, "bindings/src"))
    inputs.file(File(repoRoot, "Cargo.lock"))
    inputs.property("abis", abis)
    outputs.dir("src/main/jniLibs")
}

tasks.named("preBuild") {
    dependsOn(buildRustJniLibs)
}

// rustls-platform-verifier's Kotlin component must be the version the Rust side was built with:
// the rustls-platform-verifier-android crate's version in Cargo.lock.
val rustlsPlatformVerifierVersion: String = rootDir.parentFile.resolve("Cargo.lock").readLines().let { lines ->
    val at = lines.indexOfFirst { it.trim() == "name = \"rustls-platform-verifier-android\"" }
    check(at >= 0) { "rustls-platform-verifier-android is not in Cargo.lock" }
    lines[at + 1].substringAfter('"').substringBefore('"')
}

dependencies {
    implementation(project(":ui-state"))
    implementation("rustls:rustls-platform-verifier:$rustlsPlatformVerifierVersion")
    // JNA for Android: the .aar carries libjnidispatch.so for every ABI.
    implementation(libs.jna) {
        artifact {
            type = "aar"
        }
    }
    implementation(libs.kotlinx.coroutines.android)
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.compose.material3)
    implementation(libs.androidx.work.runtime.ktx)
    debugImplementation(libs.androidx.compose.ui.tooling)
}
