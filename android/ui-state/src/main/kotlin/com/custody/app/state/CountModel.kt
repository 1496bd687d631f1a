package com.custody.app.state

import com.custody.core.types.CountSession
import com.custody.core.types.Quantity
import com.custody.core.ScannedCode
import com.custody.core.types.ScopedPackage
import com.custody.core.types.CountStatus
import com.custody.core.types.UnitOfMeasure
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import com.custody.core.unitWord

/** A session in the list. */
data class CountSessionRow(
    val id: String,
    val name: String,
    /** "Counting", "Recount (round 2)", "Closed". */
    val status: String,
    val packages: Long,
    val openedBy: String,
    val open: Boolean,
)

/** What this person has counted of one package this round (never the expected amount). */
data class CountLine(val tag: String, val item: String, val yourCount: String)

/** A weighed package was scanned: the count waits for its weight (or a corrected number). */
data class AwaitingQuantity(
    val tag: String,
    val item: String,
    val unit: UnitOfMeasure,
    /** Replace this person's count instead of adding to it. */
    val correction: Boolean,
    /** "You already counted ..." when a weighed package is scanned again. */
    val note: String? = null,
)

data class CountState(
    val sessions: List<CountSessionRow> = emptyList(),
    /** The joined session's id and name, null on the list. */
    val sessionId: String? = null,
    val sessionName: String = "",
    val round: Int = 1,
    /** The shelf being counted, set by scanning its `LOC:` label. */
    val location: String? = null,
    val awaiting: AwaitingQuantity? = null,
    /** This person's counts this round, latest first. */
    val lines: List<CountLine> = emptyList(),
    /** The answer to the last scan, shown as the green or red panel. */
    val feedback: Feedback? = null,
    /** What to do next. */
    val prompt: String = "Choose a count session",
    /** Loading the list or the session failed. */
    val error: String? = null,
)

/**
 * A blind cycle count on the phone: pick a session, join it, scan the shelf label, then scan each
 * package on the shelf. Counted goods add 1 each per scan; weighed goods ask for the weight (in
 * the count unit core names, grams). Counters never see expected quantities.
 *
 * Every check (what the scan is, is the tag valid, in scope, quarantined, for recount, counted by
 * someone else in round 1) is core's: a scan that core refuses comes back red with core's
 * sentence. For a tag this device cannot place in the session (not in scope, or not for
 * recount), the scan is sent to core with a zero quantity so core can say why; core refuses those
 * before counting anything.
 */
class CountModel(private val api: CustodyApi) : ScanTarget {
    private val _state = MutableStateFlow(CountState())
    val state: StateFlow<CountState> = _state
    private var session: CountSession? = null
    private val mine = LinkedHashMap<String, CountLine>()

    fun loadSessions() {
        try {
            val rows = api.countSessions().map { s ->
                CountSessionRow(
                    id = s.id,
                    name = s.name,
                    status = statusText(s.status, s.round.toInt()),
                    packages = s.packagesInScope.toLong(),
                    openedBy = s.openedBy,
                    open = s.status != CountStatus.CLOSED,
                )
            }
            _state.value = _state.value.copy(sessions = rows, error = null)
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
        }
    }

    /** Joins a session (the people counting are listed for everyone) and opens it. */
    fun join(sessionId: String): Feedback {
        return try {
            api.joinCount(sessionId)
            val s = api.countSession(sessionId)
            session = s
            rebuildLines(s)
            _state.value = _state.value.copy(
                sessionId = s.summary.id,
                sessionName = s.summary.name,
                round = s.summary.round.toInt(),
                location = null,
                awaiting = null,
                lines = mine.values.reversed(),
                feedback = null,
                error = null,
                prompt = PROMPT_SHELF,
            )
            Feedback.green("Joined ${s.summary.name}")
        } catch (e: Exception) {
            show(Feedback.error(e))
        }
    }

    /** Back to the session list (counts are saved as they are scanned). */
    fun leave() {
        session = null
        mine.clear()
        _state.value = CountState(sessions = _state.value.sessions)
        loadSessions()
    }

    /** Re-reads the session (after a sync brought other phones' counts or a recount round). */
    fun reload() {
        val id = _state.value.sessionId ?: return loadSessions()
        try {
            val s = api.countSession(id)
            session = s
            rebuildLines(s)
            _state.value = _state.value.copy(round = s.summary.round.toInt(), lines = mine.values.reversed())
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
        }
    }

    /**
     * Core reads the scan ([CustodyApi.parseScan]): a shelf label sets the location, a package tag
     * is counted; anything else is red with core's sentence (an empty `LOC:` label included).
     */
    override fun onScan(scan: Scan): Feedback {
        val sessionId = _state.value.sessionId ?: return show(Feedback.red("Choose a count session first."))
        // A scale in keyboard-wedge mode types the weight and Enter, like a scanner.
        if (_state.value.awaiting != null && looksLikeAmount(scan.text)) return enterAmount(scan.text)
        val skipped = _state.value.awaiting?.let { "${it.item} was not counted (no amount entered). " } ?: ""
        val code = try {
            api.parseScan(scan.text)
        } catch (e: Exception) {
            _state.value = _state.value.copy(awaiting = null)
            return show(Feedback.red(skipped + errorText(e)))
        }
        val tag = when (code) {
            is ScannedCode.Location -> return setLocation(code.name)
            is ScannedCode.Package -> code.tag
            is ScannedCode.Gs1 -> null
        }
        val shelf = _state.value.location ?: return show(Feedback.red("Scan the shelf label (LOC:...) before the packages on it."))
        _state.value = _state.value.copy(awaiting = null)
        if (tag == null) return show(Feedback.red(skipped + GS1_NOT_A_PACKAGE))
        val current = session ?: return show(Feedback.red("Choose a count session first."))
        val scoped = current.inScope.firstOrNull { it.tag == tag }
        val unit = scoped?.let { api.countUnit(it.unit) }
        if (scoped == null || unit == null || (current.summary.status == CountStatus.RECOUNT && tag !in current.recount)) {
            // Core says why this tag is not counted here (not in scope, unknown, not for recount).
            return probe(sessionId, tag, shelf, unit ?: UnitOfMeasure.EACH, skipped)
        }
        if (unit == UnitOfMeasure.EACH) {
            return record(sessionId, tag, shelf, Quantity("1", UnitOfMeasure.EACH), correction = false, prefix = skipped)
        }
        val already = mine[tag]
        _state.value = _state.value.copy(
            awaiting = AwaitingQuantity(
                tag = tag,
                item = scoped.item,
                unit = unit,
                correction = false,
                note = already?.let { "You already counted ${it.yourCount} of it this round: this adds to it. Use Correct to replace it." },
            ),
            prompt = "Weigh ${scoped.item} and enter the ${unitWord(unit)}",
        )
        return show(Feedback.green(skipped + "${scoped.item}: enter the ${unitWord(unit)}"))
    }

    /** Starts a correction: the amount entered next replaces this person's count of [tag]. */
    fun correct(tag: String): Feedback {
        val line = mine[tag] ?: return show(Feedback.red("You have not counted $tag this round."))
        val scoped: ScopedPackage? = session?.inScope?.firstOrNull { it.tag == tag }
        val unit = scoped?.let { api.countUnit(it.unit) } ?: UnitOfMeasure.EACH
        _state.value = _state.value.copy(
            awaiting = AwaitingQuantity(tag, line.item, unit, correction = true, note = "Your count now: ${line.yourCount}"),
            prompt = "Enter the right amount of ${line.item} in ${unitWord(unit)}",
        )
        return Feedback.green("Correcting ${line.item}")
    }

    fun cancelAmount() {
        _state.value = _state.value.copy(awaiting = null, prompt = PROMPT_PACKAGES)
    }

    /**
     * The amount typed for the package waiting: a plain number is read in the count unit
     * ("12.5" -> 12.5 g); a number with a unit is read as it is ("0.5 oz").
     */
    fun enterAmount(text: String): Feedback {
        val s = _state.value
        val awaiting = s.awaiting ?: return show(Feedback.red("Scan a package first."))
        val sessionId = s.sessionId ?: return show(Feedback.red("Choose a count session first."))
        val shelf = s.location ?: return show(Feedback.red("Scan the shelf label (LOC:...) first."))
        val quantity = try {
            api.parseQuantity(text, awaiting.unit)
        } catch (e: Exception) {
            return show(Feedback.error(e))
        }
        return record(sessionId, awaiting.tag, shelf, quantity, awaiting.correction, prefix = "")
    }

    /** [name] is core's: read from the label, trimmed and checked (never empty). */
    private fun setLocation(name: String): Feedback {
        val skipped = _state.value.awaiting?.let { "${it.item} was not counted (no amount entered). " } ?: ""
        _state.value = _state.value.copy(location = name, awaiting = null, prompt = PROMPT_PACKAGES)
        return show(Feedback.green(skipped + "Shelf: $name"))
    }

    private fun probe(sessionId: String, tag: String, shelf: String, unit: UnitOfMeasure, prefix: String): Feedback {
        return try {
            api.countScan(sessionId, tag, shelf, Quantity("0", unit))
            // Core took it: this device's copy of the session was stale. Read it again and ask the
            // person to scan once more, now that the package is known.
            reload()
            show(Feedback.red(prefix + "This count was updated on another phone; scan $tag again."))
        } catch (e: Exception) {
            show(Feedback.red(prefix + errorText(e)))
        }
    }

    private fun record(
        sessionId: String,
        tag: String,
        shelf: String,
        quantity: Quantity,
        correction: Boolean,
        prefix: String,
    ): Feedback {
        return try {
            val result = if (correction) {
                api.countCorrect(sessionId, tag, shelf, quantity)
            } else {
                api.countScan(sessionId, tag, shelf, quantity)
            }
            val count = api.formatQuantity(result.yourCount)
            mine.remove(result.tag)
            mine[result.tag] = CountLine(result.tag, result.item, count)
            _state.value = _state.value.copy(awaiting = null, lines = mine.values.reversed(), prompt = PROMPT_PACKAGES)
            val verb = if (correction) "Corrected" else "Counted"
            show(Feedback.green(prefix + "$verb ${result.item}: your count $count"))
        } catch (e: Exception) {
            show(Feedback.red(prefix + errorText(e)))
        }
    }

    /** This person's lines this round, as core sums them over their devices (none if nobody is signed in). */
    private fun rebuildLines(s: CountSession) {
        mine.clear()
        val counts = try {
            api.yourCounts(s.summary.id)
        } catch (e: Exception) {
            return
        }
        for (c in counts) {
            val text = try {
                api.formatQuantity(c.yourCount)
            } catch (e: Exception) {
                "${c.yourCount.amount} ${unitWord(c.yourCount.unit)}"
            }
            mine[c.tag] = CountLine(c.tag, c.item, text)
        }
    }

    private fun show(feedback: Feedback): Feedback {
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    companion object {
        const val PROMPT_SHELF = "Scan the shelf label (LOC:...)"
        const val PROMPT_PACKAGES = "Scan each package on this shelf"

        fun statusText(status: CountStatus, round: Int): String = when (status) {
            CountStatus.COUNTING -> "Counting"
            CountStatus.RECOUNT -> "Recount (round $round)"
            CountStatus.CLOSED -> "Closed"
        }

        private val AMOUNT = Regex("""^\s*\d{1,9}(?:[.,]\d+)?\s*[A-Za-z]*\s*$""")

        /** "9.50", "9.50 g", "3": what a scale or a person types for an amount, never a tag. */
        fun looksLikeAmount(text: String): Boolean = AMOUNT.matches(text.trim { it.isWhitespace() || it.isISOControl() })
    }
}
