package com.custody.app.state

import kotlin.system.exitProcess

/**
 * A test runner with no framework to download: each test is a named block; a failed assertion
 * (kotlin.test's, which throw AssertionError without JUnit) or any exception fails it. The last
 * line is the plain summary CI reads: "N passed, N failed".
 */
class Tests(private val suite: String) {
    private val cases = mutableListOf<Pair<String, () -> Unit>>()

    fun test(name: String, body: () -> Unit) {
        cases += name to body
    }

    fun run(results: Results) {
        for ((name, body) in cases) {
            val full = "$suite: $name"
            try {
                body()
                results.passed += 1
                println("ok   $full")
            } catch (e: Skipped) {
                results.skipped += 1
                println("SKIP $full: ${e.message}")
            } catch (e: Throwable) {
                results.failed += full
                println("FAIL $full")
                e.printStackTrace(System.out)
            }
        }
    }
}

/** Thrown by a test that cannot run here (it says why); counted as skipped, not passed. */
class Skipped(reason: String) : Exception(reason)

class Results {
    var passed = 0
    var skipped = 0
    val failed = mutableListOf<String>()
}

fun main(args: Array<String>) {
    val only = args.toSet()
    val suites = listOf(
        scanInputTests(),
        feedbackTests(),
        homeTests(),
        syncStatusTests(),
        signInTests(),
        countTests(),
        approvalsTests(),
        conflictsTests(),
        receiveTests(),
        pickTests(),
        routeTests(),
        returnsTests(),
        stateTests(),
        appTests(),
        realBindingsTests(),
    )
    val results = Results()
    for ((name, tests) in suites) {
        if (only.isEmpty() || name in only) tests.run(results)
    }
    if (results.failed.isNotEmpty()) {
        println()
        println("failed:")
        results.failed.forEach { println("  $it") }
    }
    val skipped = if (results.skipped > 0) ", ${results.skipped} skipped" else ""
    println("${results.passed} passed, ${results.failed.size} failed$skipped")
    exitProcess(if (results.failed.isEmpty() && results.passed > 0) 0 else 1)
}
