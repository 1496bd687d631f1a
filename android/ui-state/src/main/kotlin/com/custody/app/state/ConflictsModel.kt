package com.custody.app.state

import com.custody.core.types.ConflictKind
import com.custody.core.types.ConflictLine
import com.custody.core.types.Resolution
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import java.time.Instant

/** What a manager may decide about a conflict of this kind (core's rule: `Resolution::fits`). */
enum class Decision { LOCATED_AT, RECEIPT_VOID, ACKNOWLEDGED }

/** One conflict on the list: open ones carry what to decide, resolved ones who decided what. */
data class ConflictRow(
    val tag: String,
    val kind: ConflictKind,
    /** With [kind], the conflict's stable id on every phone. */
    val eventId: String,
    val title: String,
    /** Core's sentence about what happened. */
    val detail: String,
    /** The decision this kind takes. */
    val decision: Decision,
    val resolvedBy: String? = null,
    val resolvedAt: Instant? = null,
    /** What was decided, in words: "the package is at Vault A". */
    val outcome: String? = null,
    val note: String? = null,
) {
    val open: Boolean get() = resolvedBy == null
}

data class ConflictsState(
    val open: List<ConflictRow> = emptyList(),
    val resolved: List<ConflictRow> = emptyList(),
    /** The note the manager is writing (required by core). */
    val note: String = "",
    /** Where the manager found the package (concurrent moves). */
    val location: String = "",
    val feedback: Feedback? = null,
    /** Loading failed: core's sentence. */
    val error: String? = null,
    val loaded: Boolean = false,
)

/**
 * The conflicts the ledger's fold raised, for a manager: each open one with the decision its kind
 * takes (where a concurrently moved package is, a duplicate receipt void, or acknowledged after
 * investigation), and the resolved ones as history. A resolution is a ledger event that syncs like
 * everything else; who may resolve and what fits are core's rules, and core's sentence is shown
 * when it refuses (docs/decisions/0022).
 */
class ConflictsModel(private val api: CustodyApi) : ScanTarget {
    private val _state = MutableStateFlow(ConflictsState())
    val state: StateFlow<ConflictsState> = _state

    fun load() {
        try {
            val rows = api.conflicts().map(::row)
            _state.value = _state.value.copy(
                open = rows.filter { it.open },
                resolved = rows.filterNot { it.open },
                error = null,
                loaded = true,
            )
        } catch (e: Exception) {
            _state.value = _state.value.copy(open = emptyList(), resolved = emptyList(), error = errorText(e), loaded = true)
        }
    }

    fun editNote(note: String) {
        _state.value = _state.value.copy(note = note)
    }

    fun editLocation(location: String) {
        _state.value = _state.value.copy(location = location)
    }

    /** A `LOC:` label scanned while the list is open fills in where the package is. */
    override fun onScan(scan: Scan): Feedback {
        val code = try {
            api.parseScan(scan.text)
        } catch (e: Exception) {
            return Feedback.error(e)
        }
        val location = (code as? com.custody.core.ScannedCode.Location)?.name
            ?: return Feedback.red("Scan a location label (LOC:) to say where the package is")
        _state.value = _state.value.copy(location = location)
        return Feedback.green("Location: $location")
    }

    /** Resolves the open conflict [eventId]/[kind] of [tag] with the note (and location) typed. */
    fun resolve(tag: String, eventId: String, kind: ConflictKind): Feedback {
        val s = _state.value
        val row = s.open.firstOrNull { it.tag == tag && it.eventId == eventId && it.kind == kind }
        val resolution = when (row?.decision ?: decisionFor(kind)) {
            Decision.LOCATED_AT -> Resolution.LocatedAt(s.location.trim())
            Decision.RECEIPT_VOID -> Resolution.ReceiptVoid
            Decision.ACKNOWLEDGED -> Resolution.Acknowledged
        }
        val feedback = try {
            api.resolveConflict(tag, eventId, kind, resolution, s.note)
            _state.value = _state.value.copy(note = "", location = "")
            Feedback.green("Resolved: ${outcome(resolution)} ($tag)")
        } catch (e: Exception) {
            Feedback.error(e)
        }
        load()
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    private fun row(line: ConflictLine): ConflictRow {
        val c = line.conflict
        val done = c.resolved
        return ConflictRow(
            tag = c.tag,
            kind = c.kind,
            eventId = c.eventId,
            title = title(c.kind),
            detail = c.detail,
            decision = decisionFor(c.kind),
            resolvedBy = done?.let { line.resolvedBy ?: "someone" },
            resolvedAt = done?.at,
            outcome = done?.let { outcome(it.resolution) },
            note = done?.note,
        )
    }

    companion object {
        fun decisionFor(kind: ConflictKind): Decision = when (kind) {
            ConflictKind.CONCURRENT_MOVE -> Decision.LOCATED_AT
            ConflictKind.DUPLICATE_RECEIPT -> Decision.RECEIPT_VOID
            else -> Decision.ACKNOWLEDGED
        }

        fun title(kind: ConflictKind): String = when (kind) {
            ConflictKind.NEGATIVE_STOCK -> "Negative stock"
            ConflictKind.SHIPPED_TWICE -> "Shipped twice"
            ConflictKind.QUARANTINED_PICKED -> "Quarantined package picked"
            ConflictKind.CONCURRENT_MOVE -> "Moved to two places"
            ConflictKind.DUPLICATE_RECEIPT -> "Received twice"
            ConflictKind.UNKNOWN_PACKAGE -> "Unknown package"
            ConflictKind.INVALID_TRANSITION -> "Does not fit the package's state"
            ConflictKind.UNIT_MISMATCH -> "Unit mismatch"
        }

        fun outcome(resolution: Resolution): String = when (resolution) {
            is Resolution.LocatedAt -> "the package is at ${resolution.location}"
            Resolution.ReceiptVoid -> "the second receipt is void"
            Resolution.Acknowledged -> "acknowledged after investigation"
        }
    }
}
