// Every screen's state and decisions, in plain Kotlin (no Android imports), over a small interface
// to the generated client (CustodyApi). Tested on the desktop JVM:
//   ./gradlew :ui-state:jvmTest        (or, with no Gradle at all: bash ui-state/run-jvm-tests.sh)
plugins {
    alias(libs.plugins.kotlin.jvm)
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    api(project(":custody-bindings"))
    api(libs.kotlinx.coroutines.core)
    testImplementation(libs.kotlin.test)
    testRuntimeOnly(libs.jna)
}

// The tests are a plain main() runner (Harness.kt), the same files run-jvm-tests.sh compiles with
// kotlinc. Without CUSTODY_SERVER_URL/CUSTODY_ENROLMENT_CODE the server scenario is skipped;
// run-jvm-tests.sh starts a server and runs it.
val jvmTest by tasks.registering(JavaExec::class) {
    group = "verification"
    description = "Runs the ui-state tests against the real Rust library (built for this computer)."
    classpath = sourceSets["test"].runtimeClasspath
    mainClass.set("com.custody.app.state.HarnessKt")
    systemProperty("jna.library.path", File(rootDir.parentFile, "target/debug").absolutePath)
}

tasks.named("check") {
    dependsOn(jvmTest)
}
