// The cost of one scan through the Kotlin bindings on the JVM: the call into the library, the
// durable write (synchronous=FULL) and the result back, timed one call at a time.
package com.custody.tests

import com.custody.core.*
import com.custody.core.types.*
import java.nio.file.Files
import java.nio.file.Path
import kotlinx.coroutines.runBlocking

private const val WARMUP = 300

private class Series(val name: String) {
    val nanos = ArrayList<Long>()

    inline fun <T> time(block: () -> T): T {
        val start = System.nanoTime()
        val result = block()
        nanos += System.nanoTime() - start
        return result
    }

    fun report(skip: Int): String {
        val sorted = nanos.drop(skip).sorted()
        fun ms(q: Double) = "%.2f".format(sorted[((sorted.size * q).toInt()).coerceAtMost(sorted.size - 1)] / 1e6)
        val mean = "%.2f".format(sorted.average() / 1e6)
        return "| $name | ${sorted.size} | ${ms(0.50)} | ${ms(0.99)} | ${ms(1.0)} | $mean |"
    }
}

fun scanBench(n: Int) {
    val dir: Path = Files.createTempDirectory(Path.of(env("CUSTODY_WORK_DIR")), "bench")
    val phone = CustodyClient(dir.resolve("bench.db").toString(), ByteArray(32) { 7 })
    runBlocking { phone.enrol(env("CUSTODY_SERVER_URL"), env("CUSTODY_ENROLMENT_CODE"), "bench") }
    runBlocking { phone.signIn("M-100", "2468") }
    val total = WARMUP + n
    val tags = (1..total).map { "1A4FF02" + it.toString().padStart(17, '0') }
    val receive = Series("opening balance (new package)")
    val move = Series("move_package (put-away scan)")
    val count = Series("count_scan (blind count)")

    for (tag in tags) receive.time { phone.recordOpeningBalance(listOf(OpeningBalanceLine(tag, "Live Resin Cart 1g", "LRC-2026-10", Quantity("10", UnitOfMeasure.EACH), "Bench / Dock", null))) }
    for (tag in tags) move.time { phone.movePackage(tag, "Bench / Shelf 1") }
    val session = phone.openCount("bench", CountScope(listOf("Bench / Shelf 1"), emptyList()))
    for (tag in tags) count.time { phone.countScan(session, tag, "Bench / Shelf 1", Quantity("10", UnitOfMeasure.EACH)) }

    check(phone.syncStatus().pending == (2L * total).toULong()) { "every scan was saved" }
    println("| scan | n | p50 ms | p99 ms | max ms | mean ms |")
    println("|---|---:|---:|---:|---:|---:|")
    for (s in listOf(receive, move, count)) println(s.report(WARMUP))
    phone.close()
}
