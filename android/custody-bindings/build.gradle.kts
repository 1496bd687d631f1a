// The Kotlin bindings uniffi generates from the Rust library (bindings/ in the repository root),
// compiled as a plain JVM library so both :ui-state (tested on the desktop JVM) and :app use them.
// The source is generated at build time by scripts/generate-bindings.sh and never committed.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

val repoRoot: File = rootDir.parentFile
val skipRust = providers.gradleProperty("custody.skipRust").map(String::toBoolean).getOrElse(false)
val generatedDir = layout.buildDirectory.dir("generated/uniffi/kotlin")

val generateBindings by tasks.registering(Exec::class) {
    group = "custody"
    description = "Builds custody-ffi for this computer and generates its Kotlin bindings."
    workingDir = rootDir
    // With custody.skipRust=true no cargo build runs: the library and uniffi-bindgen already in
    // target/debug are read.
    if (skipRust) environment("CUSTODY_CARGO_BUILD", "none")
    commandLine("bash", "scripts/generate-bindings.sh", generatedDir.get().asFile.absolutePath)
    inputs.dir(File(repoRoot, "bindings/src"))
    inputs.dir(File(repoRoot, "core/src"))
    inputs.file(File(repoRoot, "bindings/uniffi.toml"))
    // Core's own records and enums are generated too, into com.custody.core.types.
    inputs.file(File(repoRoot, "core/uniffi.toml"))
    inputs.file(File(repoRoot, "Cargo.lock"))
    outputs.dir(generatedDir)
}

kotlin {
    jvmToolchain(17)
    // A task as a source folder: its output, and a dependency on it.
    sourceSets.named("main") {
        kotlin.srcDir(generateBindings)
    }
}

dependencies {
    // The app brings JNA as an .aar (with libjnidispatch.so for each ABI), the JVM tests as a jar.
    compileOnly(libs.jna)
    implementation(libs.kotlinx.coroutines.core)
}
