package com.custody.app.state

/** Where a scan came from. */
enum class ScanSource {
    /** A keyboard-wedge sleeve (or a hardware keyboard) typing and ending with Enter or Tab. */
    WEDGE,

    /** A Zebra DataWedge broadcast intent. */
    DATAWEDGE,

    /** The camera fallback. */
    CAMERA,

    /** Typed into a field on the screen by a person. */
    TYPED,
}

/** One scan, as the scanner produced it (untrimmed: core normalises it). */
data class Scan(val text: String, val source: ScanSource, val symbology: String? = null)

/**
 * What a screen that takes package tags says when core reads a scan as a GS1 barcode: a product's
 * barcode, which names no package. (Core's `parseScan` tells the two apart; the screens only
 * decide which kinds they take.)
 */
const val GS1_NOT_A_PACKAGE = "That is a product barcode (GS1), not a package tag; scan the package's Metrc tag."

/**
 * Turns keyboard-wedge keystrokes into scans.
 *
 * A sleeve types the barcode as key presses and ends it with Enter (CR, LF or CR LF) or Tab. Each
 * terminator ends the scan typed so far; an empty one (the LF of a CR LF, a stray Enter) is
 * ignored. A scan longer than [maxLength] is garbage (a stuck key, a sleeve without terminator):
 * it is dropped and reported as such. If the keys of a scan arrive more than [staleAfterMillis]
 * apart, what came before the gap is thrown away: a barcode arrives in one burst, and a key a
 * person pressed minutes ago must not be glued in front of the next barcode.
 *
 * DataWedge and camera text arrive whole through [onText], which splits on the same terminators
 * (DataWedge can be set to append Enter or Tab; a multi-line payload is several scans).
 *
 * Not thread-safe: feed it from one thread (the UI thread, where key events arrive).
 */
class ScanInput(
    private val staleAfterMillis: Long = 1_500,
    private val maxLength: Int = 256,
) {
    private val buffer = StringBuilder()
    private var lastKeyAt: Long? = null

    /** What happened with one key. */
    sealed interface Result {
        /** Nothing complete yet (a character was kept, or an empty scan ignored). */
        data object Pending : Result

        data class Scanned(val scan: Scan) : Result

        /** The input was unusable; [message] says what was wrong. */
        data class Garbage(val message: String) : Result
    }

    /** Characters typed so far for the scan in progress. */
    val pending: String get() = buffer.toString()

    /** One typed character (Enter as '\n' or '\r', Tab as '\t'), at [atMillis] (monotonic). */
    fun onChar(c: Char, atMillis: Long = 0): Result {
        val last = lastKeyAt
        lastKeyAt = atMillis
        if (last != null && atMillis - last > staleAfterMillis && buffer.isNotEmpty()) {
            buffer.setLength(0)
        }
        if (isTerminator(c)) {
            val text = buffer.toString()
            buffer.setLength(0)
            if (text.isBlank()) return Result.Pending
            return Result.Scanned(Scan(text, ScanSource.WEDGE))
        }
        if (buffer.length >= maxLength) {
            buffer.setLength(0)
            return Result.Garbage("The scan was longer than $maxLength characters and was ignored; scan again.")
        }
        buffer.append(c)
        return Result.Pending
    }

    /** Forgets a scan in progress (the screen changed, focus moved to a text field). */
    fun reset() {
        buffer.setLength(0)
        lastKeyAt = null
    }

    companion object {
        fun isTerminator(c: Char): Boolean = c == '\n' || c == '\r' || c == '\t'

        /**
         * Scans in a block of text delivered whole (DataWedge, camera, paste): one per line or
         * Tab-separated field, empty ones dropped.
         */
        fun onText(text: String, source: ScanSource, symbology: String? = null): List<Scan> =
            text.split('\n', '\r', '\t').filter { it.isNotBlank() }.map { Scan(it, source, symbology) }
    }
}
