package com.custody.app.state

import com.custody.core.ReceivingDiscrepancy
import com.custody.core.ReceivingVerdictKind
import com.custody.core.ScannedCode
import com.custody.core.types.ReceivingSessionSummary
import com.custody.core.types.RejectReason
import com.custody.core.types.Role
import com.custody.core.types.UnitOfMeasure
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

/** One manifest package as the receiving screen lists it. */
data class ReceivingRow(
    val tag: String,
    /** Scanned here or on another phone (as this phone knows it). */
    val scanned: Boolean,
    /** Core's sentence for each failed check (certificate, expiry, potency, label); empty when clean. */
    val flags: List<String>,
)

data class ReceiveState(
    /** The receiving sessions on this phone (opened here, or on another phone and synced). */
    val sessions: List<ReceivingSessionSummary> = emptyList(),
    val sessionId: String? = null,
    val manifestNumber: String? = null,
    val shipper: String = "",
    val rows: List<ReceivingRow> = emptyList(),
    /** Scanned but not on the manifest: set aside, to be rejected. */
    val unexpected: List<String> = emptyList(),
    val scannedTwice: List<String> = emptyList(),
    val missing: List<String> = emptyList(),
    /** What stands between the session and its completion, in core's words. */
    val discrepancies: List<ReceivingDiscrepancy> = emptyList(),
    /** The facility's usable scales (receiving settings) by name; weighing on one is the normal way. */
    val scales: List<String> = emptyList(),
    /** The scale in use; null while the weight is typed by hand (which needs a reason). */
    val scale: String? = null,
    /** The package last scanned: its label, weight, inspection and decision go to it. */
    val current: String? = null,
    /** Where the scanning happens (a `LOC:` label changes it). */
    val bay: String = ReceiveModel.DEFAULT_BAY,
    /** Where completion puts the accepted packages. */
    val intake: String = ReceiveModel.DEFAULT_INTAKE,
    /** Managers decide flagged packages (core refuses anyone else; this only shows the buttons). */
    val manager: Boolean = false,
    val completed: Boolean = false,
    /** "accept manifest N in the state system", while the state has not confirmed it. */
    val stateTasks: List<String> = emptyList(),
    val feedback: Feedback? = null,
    val prompt: String = "Pick a manifest from the inbox, or import the manifest file",
)

/**
 * RECEIVING AGAINST THE MANIFEST. The receiver picks an open manifest (the state's inbox through
 * [InboxModel], a manifest file through [importManifest], or a session another phone opened), then
 * scans each package: core answers matched, not on this manifest, or already scanned by whom, and
 * the sentence shown is core's. A GS1 label scanned after a package is checked by core against the
 * manifest's batch and expiry. Each package is weighed on a named scale, or typed by hand with the
 * reason; a manager decides the flagged ones with a note. Completion puts the accepted packages in
 * the intake location and shows the state-acceptance task. Every rule is core's: this model only
 * calls it and shows its words.
 */
class ReceiveModel(private val api: CustodyApi) : ScanTarget {
    private val _state = MutableStateFlow(ReceiveState())
    val state: StateFlow<ReceiveState> = _state

    /** The sessions on this phone, the scales and who is signed in. */
    fun load() {
        try {
            // Only scales core says may weigh today (not past their calibration due date).
            val scales = api.receivingSettings().scales.filter { it.usable }.map { it.name }
            val s = _state.value
            _state.value = s.copy(
                sessions = api.receivingSessions(),
                scales = scales,
                scale = s.scale?.takeIf { it in scales } ?: scales.firstOrNull(),
                manager = api.currentUser()?.role == Role.MANAGER,
            )
        } catch (e: Exception) {
            show(Feedback.error(e))
        }
    }

    /** Imports a manifest file (its JSON text) and opens its session; core refuses another licence's. */
    fun importManifest(json: String): Feedback = try {
        val id = api.openReceiving(json)
        open(id)
    } catch (e: Exception) {
        show(Feedback.error(e))
    }

    /** Opens (or continues) a session: from the inbox, the list, or an import. */
    fun open(sessionId: String): Feedback = try {
        _state.value = _state.value.copy(sessionId = sessionId, current = null, completed = false)
        refresh()
        show(Feedback.green("Receiving manifest ${_state.value.manifestNumber}"))
    } catch (e: Exception) {
        _state.value = _state.value.copy(sessionId = null)
        show(Feedback.error(e))
    }

    fun close() {
        _state.value = _state.value.copy(sessionId = null, manifestNumber = null, rows = emptyList(), current = null)
        load()
    }

    /** Reads the session again as core holds it (after a scan, a decision or a sync). */
    fun refresh() {
        val id = _state.value.sessionId ?: return
        val progress = api.receivingProgress(id)
        val flags = api.packageFlags(id).associate { it.tag to it.flags }
        val scanned = (progress.matched + progress.unexpected).toSet()
        val all = (progress.matched + progress.missing).sorted()
        val session = api.receivingSessions().firstOrNull { it.id == id }
        val tasks = api.openStateTasks().filter { it.sessionId == id }.map { it.task }
        _state.value = _state.value.copy(
            manifestNumber = progress.manifestNumber,
            shipper = progress.shipperName,
            rows = all.map { ReceivingRow(it, it in scanned, flags[it].orEmpty()) },
            unexpected = progress.unexpected,
            scannedTwice = progress.scannedTwice,
            missing = progress.missing,
            discrepancies = api.receivingDiscrepancies(id),
            completed = session?.completed ?: false,
            stateTasks = tasks,
        )
        _state.value = _state.value.copy(prompt = prompt())
    }

    fun chooseScale(name: String?) {
        _state.value = _state.value.copy(scale = name)
    }

    fun setIntake(location: String) {
        _state.value = _state.value.copy(intake = location)
    }

    /**
     * A scan: a `LOC:` label sets where the scanning happens, a package tag is checked against the
     * manifest, a GS1 label is checked against the package scanned before it. Core reads the scan.
     */
    override fun onScan(scan: Scan): Feedback {
        val id = _state.value.sessionId ?: return show(Feedback.red("Pick a manifest first: from the inbox, or import its file."))
        val code = try {
            api.parseScan(scan.text)
        } catch (e: Exception) {
            return show(Feedback.error(e))
        }
        return try {
            when (code) {
                is ScannedCode.Location -> {
                    _state.value = _state.value.copy(bay = code.name)
                    show(Feedback.green("Scanning at ${code.name}"))
                }
                is ScannedCode.Gs1 -> label(id, scan.text)
                is ScannedCode.Package -> {
                    val verdict = api.receivingScan(id, scan.text, _state.value.bay)
                    _state.value = _state.value.copy(current = verdict.tag)
                    refresh()
                    if (verdict.kind == ReceivingVerdictKind.MATCHED) show(Feedback.green(verdict.message)) else show(Feedback.red(verdict.message))
                }
            }
        } catch (e: Exception) {
            show(Feedback.error(e))
        }
    }

    private fun label(id: String, raw: String): Feedback {
        val tag = _state.value.current ?: return show(Feedback.red("Scan the package's tag first, then the label on it."))
        val mismatches = api.receivingLabel(id, tag, raw)
        refresh()
        return if (mismatches.isEmpty()) {
            show(Feedback.green("The label on $tag matches the manifest"))
        } else {
            show(Feedback.red("$tag: ${mismatches.joinToString("; ")}. A manager decides it."))
        }
    }

    /**
     * The weight of the current package: on the chosen scale, or typed by hand with [reason] when
     * no scale is chosen. A plain number is in grams. Core refuses a weight finer than 0.01 g, a
     * scale past its calibration, a hand weight without a reason; nothing changes then.
     */
    fun weigh(text: String, reason: String = ""): Feedback = act { id, tag ->
        val weight = api.parseQuantity(text, UnitOfMeasure.G)
        val scale = _state.value.scale
        if (scale != null) api.recordWeight(id, tag, weight, scale) else api.recordWeightByHand(id, tag, weight, reason)
        "Weighed $tag: ${api.formatQuantity(weight)}" + if (scale != null) " on $scale" else " (typed by hand)"
    }

    fun inspect(note: String): Feedback = act { id, tag ->
        api.markInspected(id, tag, note)
        "Inspected $tag"
    }

    /** Accepts the current package; a flagged one only by a manager, with a note (core decides). */
    fun accept(note: String = ""): Feedback = act { id, tag ->
        api.decidePackage(id, tag, null, note)
        "Accepted $tag"
    }

    fun reject(reason: RejectReason, note: String): Feedback = act { id, tag ->
        api.decidePackage(id, tag, reason, note)
        "Rejected $tag"
    }

    /** Picks a listed package (a missing one to reject as short, a flagged one to decide). */
    fun select(tag: String) {
        _state.value = _state.value.copy(current = tag)
    }

    fun explainWeightDifference(reason: String): Feedback = session { id ->
        api.explainWeightDifference(id, reason)
        "Reason recorded"
    }

    /** Completes the session: accepted packages into the intake location; shows the state task. */
    fun complete(): Feedback = session { id ->
        val events = api.completeReceiving(id, _state.value.intake)
        "Received ${events.size} package${if (events.size == 1) "" else "s"} into ${_state.value.intake}"
    }

    private fun act(step: (String, String) -> String): Feedback {
        val tag = _state.value.current ?: return show(Feedback.red("Scan a package first."))
        return session { id -> step(id, tag) }
    }

    private fun session(step: (String) -> String): Feedback {
        val id = _state.value.sessionId ?: return show(Feedback.red("Pick a manifest first: from the inbox, or import its file."))
        return try {
            val message = step(id)
            refresh()
            show(Feedback.green(message))
        } catch (e: Exception) {
            runCatching { refresh() }
            show(Feedback.error(e))
        }
    }

    private fun prompt(): String = when {
        _state.value.completed -> "Completed: accept the manifest in the state system"
        _state.value.current == null -> "Scan each package tag"
        else -> "Scan the label, weigh, then accept or reject ${_state.value.current}"
    }

    private fun show(feedback: Feedback): Feedback {
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    companion object {
        const val DEFAULT_INTAKE = "Intake"
        const val DEFAULT_BAY = "Receiving bay"
    }
}
