package com.custody.app.state

import com.custody.core.types.PendingApproval
import com.custody.core.unitSymbol
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import java.time.Instant

/** One request waiting for a decision. */
data class ApprovalRow(
    val requestId: String,
    val tag: String,
    /** The signed change as core formats it: "-0.50 g". */
    val change: String,
    val reason: String,
    val note: String,
    val requestedBy: String,
    val requestedAt: Instant,
    /** From a count's discrepancy (the counters may not approve it). */
    val fromCount: Boolean,
    /** Null if the signed-in person may decide; otherwise core's reason why not. */
    val cannotDecide: String?,
) {
    val canDecide: Boolean get() = cannotDecide == null
}

data class ApprovalsState(
    val rows: List<ApprovalRow> = emptyList(),
    /** The note the manager is writing for the decision. */
    val note: String = "",
    /** The answer to the last decision. */
    val feedback: Feedback? = null,
    /** Loading failed (not signed in, store error): core's sentence. */
    val error: String? = null,
    val loaded: Boolean = false,
)

/**
 * Adjustment requests waiting for a decision. The manager may be off site: the decision is saved
 * on this phone and syncs like everything else. Whether this person may decide each request
 * (managers only; never their own request; never a package they counted) is core's answer, shown
 * on the row; approving anyway is refused by core with the same reason.
 */
class ApprovalsModel(private val api: CustodyApi) {
    private val _state = MutableStateFlow(ApprovalsState())
    val state: StateFlow<ApprovalsState> = _state

    fun load() {
        try {
            val rows = api.pendingApprovals().map(::row)
            _state.value = _state.value.copy(rows = rows, error = null, loaded = true)
        } catch (e: Exception) {
            _state.value = _state.value.copy(rows = emptyList(), error = errorText(e), loaded = true)
        }
    }

    fun editNote(note: String) {
        _state.value = _state.value.copy(note = note)
    }

    fun approve(requestId: String): Feedback = decide(requestId, approve = true)

    fun reject(requestId: String): Feedback = decide(requestId, approve = false)

    private fun decide(requestId: String, approve: Boolean): Feedback {
        val row = _state.value.rows.firstOrNull { it.requestId == requestId }
        val what = row?.let { "${it.change} on ${it.tag}" } ?: "the request"
        val feedback = try {
            val note = _state.value.note.trim()
            if (approve) api.approveAdjustment(requestId, note) else api.rejectAdjustment(requestId, note)
            _state.value = _state.value.copy(note = "")
            Feedback.green(if (approve) "Approved $what" else "Rejected $what")
        } catch (e: Exception) {
            Feedback.error(e)
        }
        load()
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    private fun row(p: PendingApproval): ApprovalRow {
        val r = p.request
        val change = try {
            api.formatQuantity(r.delta)
        } catch (e: Exception) {
            "${r.delta.amount} ${unitSymbol(r.delta.unit)}"
        }
        return ApprovalRow(
            requestId = r.id,
            tag = r.tag,
            change = change,
            reason = r.reasonCode,
            note = r.note,
            requestedBy = r.requestedBy.name,
            requestedAt = r.requestedBy.at,
            fromCount = r.sessionId != null,
            cannotDecide = p.cannotDecide,
        )
    }
}
