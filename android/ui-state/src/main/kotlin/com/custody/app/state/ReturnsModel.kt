package com.custody.app.state

import com.custody.core.EventBody
import com.custody.core.Quantity
import com.custody.core.ReturnDue
import com.custody.core.ScannedCode
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

/** A package the vault expects back from a truck, as core lists it. */
data class ReturnRow(
    val tag: String,
    /** The end of the tag, what a person finds on the label first: "…000102". */
    val tagEnd: String,
    val item: String,
    val batch: String,
    /** As core formats it ("3.50 g"). */
    val quantity: String,
    val container: String,
    val manifestId: String,
    val manifestNumber: String,
    val stop: Int,
    val recipient: String,
    /** The receiver refused it or the stop failed; false: no outcome has reached this phone yet. */
    val refused: Boolean,
    /** "Refused" or "Still out · no outcome yet". */
    val statusText: String,
    /** What the ledger's return will say, in core's words. */
    val reason: String,
)

/** A package checked back in on this screen. */
data class CheckedInLine(val tag: String, val item: String, val location: String)

data class ReturnsState(
    /** What is due back, in core's order: refused first, then by manifest and stop. */
    val rows: List<ReturnRow> = emptyList(),
    /** Where returned packages go: a `LOC:` label scanned here, or typed; the last one used at first. */
    val location: String = "",
    /** Checked in on this screen, latest first. */
    val checkedIn: List<CheckedInLine> = emptyList(),
    val feedback: Feedback? = null,
    /** Loading the list failed: core's sentence. */
    val error: String? = null,
) {
    val refusedCount: Int get() = rows.count { it.refused }
    val stillOutCount: Int get() = rows.count { !it.refused }

    /** "2 refused · 1 still out". */
    val summary: String get() = if (rows.isEmpty()) "Nothing is due back" else "$refusedCount refused · $stillOutCount still out"

    val prompt: String get() = when {
        location.isBlank() -> "Scan the location label (LOC:...) where returns go, or type it"
        rows.isEmpty() -> "Nothing is due back from the trucks"
        else -> "Scan each package coming back into ${location.trim()}"
    }
}

/**
 * Return check-in at the vault: the packages that went out on a departed manifest and are neither
 * delivered nor back ([CustodyApi.returnsDue], refused ones first, as core sorts them), and a scan
 * per package to put it back into stock at the chosen location ([CustodyApi.returnCheckIn]).
 *
 * Core reads each scan ([CustodyApi.parseScan]): a `LOC:` label chooses where returns go, a
 * package tag is checked in there. Whether a package may come back (delivered, never out, on no
 * manifest, who is asking) is core's to say: a refusal comes back red in its words and changes
 * nothing here. The only check made here is that a location was chosen, so the red panel can say
 * so before anything is sent.
 *
 * [lastLocation] is where returns went last on this device (the app keeps it); [remember] is told
 * each location a package was checked into.
 */
class ReturnsModel(
    private val api: CustodyApi,
    lastLocation: String? = null,
    private val remember: (String) -> Unit = {},
) : ScanTarget {
    private val _state = MutableStateFlow(ReturnsState(location = lastLocation?.trim().orEmpty()))
    val state: StateFlow<ReturnsState> = _state

    /** Reads what is due back (on opening the screen, and when a sync brings outbound changes). */
    fun load() {
        try {
            val rows = api.returnsDue().map(::row)
            _state.value = _state.value.copy(rows = rows, error = null)
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
        }
    }

    /** The location typed on the screen. */
    fun editLocation(location: String) {
        _state.value = _state.value.copy(location = location)
    }

    override fun onScan(scan: Scan): Feedback {
        val code = try {
            api.parseScan(scan.text)
        } catch (e: Exception) {
            return show(Feedback.error(e))
        }
        val tag = when (code) {
            is ScannedCode.Location -> {
                editLocation(code.name)
                return show(Feedback.green("Returns go to ${code.name}: scan each package"))
            }
            is ScannedCode.Gs1 -> return show(Feedback.red(GS1_NOT_A_PACKAGE))
            is ScannedCode.Package -> code.tag
        }
        return checkIn(tag)
    }

    private fun checkIn(tag: String): Feedback {
        val location = _state.value.location.trim()
        if (location.isEmpty()) {
            return show(Feedback.red(NO_LOCATION))
        }
        return try {
            val event = api.returnCheckIn(tag, location)
            val where = (event.body as? EventBody.Returned)?.location ?: location
            val item = _state.value.rows.firstOrNull { it.tag == event.tag }?.item ?: event.tag
            remember(where)
            _state.value = _state.value.copy(
                location = where,
                checkedIn = listOf(CheckedInLine(event.tag, item, where)) + _state.value.checkedIn,
            )
            load()
            show(Feedback.green("Back in $where: $item"))
        } catch (e: Exception) {
            // Core's refusal as it is; the list and the location stay as they were.
            show(Feedback.error(e))
        }
    }

    private fun row(r: ReturnDue) = ReturnRow(
        tag = r.tag,
        tagEnd = tagEnd(r.tag),
        item = r.item,
        batch = r.batch,
        quantity = format(r.quantity),
        container = r.container,
        manifestId = r.manifestId,
        manifestNumber = r.manifestNumber,
        stop = r.stop.toInt(),
        recipient = r.recipient,
        refused = r.refused,
        statusText = if (r.refused) REFUSED else STILL_OUT,
        reason = r.reason,
    )

    private fun format(q: Quantity): String = try {
        api.formatQuantity(q)
    } catch (e: Exception) {
        "${q.amount} ${CountModel.unitSymbol(q.unit)}"
    }

    private fun show(feedback: Feedback): Feedback {
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    companion object {
        const val REFUSED = "Refused"
        const val STILL_OUT = "Still out · no outcome yet"
        const val NO_LOCATION = "Choose where returns go first: scan the location label (LOC:...) or type it, then scan the package again."

        /** How many characters of the tag a row shows. */
        private const val TAG_END = 6

        fun tagEnd(tag: String): String = if (tag.length <= TAG_END) tag else "…" + tag.takeLast(TAG_END)
    }
}
