// Entry point: `test` (default) runs the JVM tests, `bench [N]` the scan benchmark.
package com.custody.tests

import kotlin.system.exitProcess

fun main(args: Array<String>) {
    when (args.firstOrNull() ?: "test") {
        "test" -> {
            val run = Runner()
            scenario(run)
            driverScenario(run)
            exitProcess(run.finish())
        }
        "bench" -> scanBench(args.getOrNull(1)?.toInt() ?: 2000)
        else -> error("usage: test | bench [N]")
    }
    exitProcess(0)
}
