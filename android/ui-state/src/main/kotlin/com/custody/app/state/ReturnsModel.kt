package com.custody.app.state

import com.custody.core.types.EventBody
import com.custody.core.types.Quantity
import com.custody.core.types.ReturnDue
import com.custody.core.ScannedCode
import com.custody.core.types.ReturnKind
import com.custody.core.unitSymbol
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

/**
 * A package the vault expects back, as core lists it: from a truck (refused, or no outcome yet),
 * or picked for an order a manager cancelled (no manifest, no stop: it never left).
 */
data class ReturnRow(
    val tag: String,
    /** The end of the tag, what a person finds on the label first: "…000102". */
    val tagEnd: String,
    val item: String,
    val batch: String,
    /** As core formats it ("3.50 g"). */
    val quantity: String,
    /** The container it is packed in; null for a package picked but not packed. */
    val container: String?,
    val orderNumber: String,
    val recipient: String,
    /** The manifest and stop it went out on; all null for a cancelled order's picks. */
    val manifestId: String?,
    val manifestNumber: String?,
    val stop: Int?,
    /** Why it is due back, as core says: refused, a cancelled order's pick, or not confirmed. */
    val kind: ReturnKind,
    /** "Refused", "Order cancelled — back to a shelf" or "Still out · no outcome yet". */
    val statusText: String,
    /** "Tag …000031 · container C-7", or "Tag …000031 · not in a container". */
    val tagLine: String,
    /** Where it comes from: "Manifest M-0042 · stop 2 · Davis Wellness", or "Order SO-2 · Green Leaf Dispensary". */
    val origin: String,
    /** What the ledger's return will say, in core's words. */
    val reason: String,
) {
    val refused: Boolean get() = kind == ReturnKind.REFUSED
    val orderCancelled: Boolean get() = kind == ReturnKind.ORDER_CANCELLED
    val notConfirmed: Boolean get() = kind == ReturnKind.NOT_CONFIRMED
}

/** A package checked back in on this screen. */
data class CheckedInLine(val tag: String, val item: String, val location: String)

data class ReturnsState(
    /**
     * What is due back, in core's order: refused first, then the picks of cancelled orders, then
     * what has no outcome yet.
     */
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
    val cancelledCount: Int get() = rows.count { it.orderCancelled }
    val stillOutCount: Int get() = rows.count { it.notConfirmed }

    /** "2 refused · 1 from a cancelled order · 1 still out": the kinds there are, in core's order. */
    val summary: String get() = if (rows.isEmpty()) {
        "Nothing is due back"
    } else {
        listOfNotNull(
            refusedCount.takeIf { it > 0 }?.let { "$it refused" },
            cancelledCount.takeIf { it > 0 }?.let { if (it == 1) "1 from a cancelled order" else "$it from cancelled orders" },
            stillOutCount.takeIf { it > 0 }?.let { "$it still out" },
        ).joinToString(" · ")
    }

    val prompt: String get() = when {
        location.isBlank() -> "Scan the location label (LOC:...) where returns go, or type it"
        rows.isEmpty() -> "Nothing is due back"
        else -> "Scan each package coming back into ${location.trim()}"
    }
}

/**
 * Return check-in at the vault: what core says is due back ([CustodyApi.returnsDue], in its order):
 * packages that went out on a departed manifest and are neither delivered nor back (refused ones,
 * then those with no outcome yet), and packages picked (perhaps packed) for an order a manager
 * cancelled, which never left and go back to a shelf. A scan per package puts it back into stock
 * at the chosen location ([CustodyApi.returnCheckIn]), whichever kind it is.
 *
 * Core reads each scan ([CustodyApi.parseScan]): a `LOC:` label chooses where returns go, a
 * package tag is checked in there. Whether a package may come back (delivered, never out, picked
 * for an order still open, who is asking) is core's to say: a refusal comes back red in its words and changes
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

    private fun row(r: ReturnDue): ReturnRow {
        val stop = r.stop?.toInt()
        return ReturnRow(
            tag = r.tag,
            tagEnd = tagEnd(r.tag),
            item = r.item,
            batch = r.batch,
            quantity = format(r.quantity),
            container = r.container,
            orderNumber = r.orderNumber,
            recipient = r.recipient,
            manifestId = r.manifestId,
            manifestNumber = r.manifestNumber,
            stop = stop,
            kind = r.kind,
            statusText = statusText(r.kind),
            tagLine = "Tag ${tagEnd(r.tag)} · " + (r.container?.let { "container $it" } ?: NOT_PACKED),
            origin = origin(r.kind, r.orderNumber, r.recipient, r.manifestNumber, stop),
            reason = r.reason,
        )
    }

    private fun format(q: Quantity): String = try {
        api.formatQuantity(q)
    } catch (e: Exception) {
        "${q.amount} ${unitSymbol(q.unit)}"
    }

    private fun show(feedback: Feedback): Feedback {
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    companion object {
        const val REFUSED = "Refused"
        const val ORDER_CANCELLED = "Order cancelled — back to a shelf"
        const val STILL_OUT = "Still out · no outcome yet"
        const val NOT_PACKED = "not in a container"
        const val NO_LOCATION = "Choose where returns go first: scan the location label (LOC:...) or type it, then scan the package again."

        /** How many characters of the tag a row shows. */
        private const val TAG_END = 6

        fun tagEnd(tag: String): String = if (tag.length <= TAG_END) tag else "…" + tag.takeLast(TAG_END)

        fun statusText(kind: ReturnKind): String = when (kind) {
            ReturnKind.REFUSED -> REFUSED
            ReturnKind.ORDER_CANCELLED -> ORDER_CANCELLED
            ReturnKind.NOT_CONFIRMED -> STILL_OUT
        }

        /**
         * Where the package comes from. A cancelled order's pick never left, so it is named by its
         * order; a row from a truck by its manifest and stop (by its order too, should core ever
         * list one without a manifest).
         */
        fun origin(kind: ReturnKind, orderNumber: String, recipient: String, manifestNumber: String?, stop: Int?): String =
            if (kind == ReturnKind.ORDER_CANCELLED || manifestNumber == null) {
                "Order $orderNumber · $recipient"
            } else {
                "Manifest $manifestNumber" + (stop?.let { " · stop $it" } ?: "") + " · $recipient"
            }
    }
}
