package com.custody.app.state

import com.custody.core.types.InboxEntry
import com.custody.core.types.StateSubmissions
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter

/** How long ago, as a manager reads it at a glance: "just now", "12 min ago", "3 h ago", "2 days ago". */
fun ago(seconds: Long): String = when {
    seconds < 60 -> "just now"
    seconds < 3600 -> "${seconds / 60} min ago"
    seconds < 48 * 3600 -> "${seconds / 3600} h ago"
    else -> "${seconds / 86400} days ago"
}

/**
 * An instant in the facility's local time ("14:05", or "Nov 30 14:05" on another day than
 * [today]), in [zone] (the facility's IANA zone) or, when the phone does not know it yet, UTC
 * marked as such.
 */
fun localTime(at: Instant, zone: String?, today: Instant): String {
    val z = zone?.let { runCatching { ZoneId.of(it) }.getOrNull() }
    val id = z ?: ZoneId.of("UTC")
    val local = at.atZone(id)
    val sameDay = local.toLocalDate() == today.atZone(id).toLocalDate()
    val text = local.format(DateTimeFormatter.ofPattern(if (sameDay) "HH:mm" else "MMM d HH:mm", java.util.Locale.ENGLISH))
    return if (z == null) "$text UTC" else text
}

/** One write the state refused, as the failed queue lists it. */
data class FailedRow(
    val seq: Long,
    /** What it was, in words: "move", "adjustment", "split", "destruction", "outgoing manifest". */
    val what: String,
    val packages: List<String>,
    /** The state's message, as it wrote it. */
    val message: String,
    /** When it was queued, local time and age: "09:12 (5 h ago)". */
    val queued: String,
)

data class StateSubmissionsState(
    /** Only managers and compliance officers see this screen (core's answer). */
    val visible: Boolean = false,
    /** The server has sent a status (the facility is connected to a state system). */
    val hasStatus: Boolean = false,
    val connected: Boolean = false,
    /** Why submissions are stopped (an expired or revoked key), in the server's words. */
    val stopped: String? = null,
    val keyWarning: String? = null,
    /** The outbox: writes waiting to be sent. */
    val queued: Long = 0,
    /** The oldest queued write, local time and age: "09:12 (5 h ago)". */
    val oldestQueued: String? = null,
    val unapproved: Long = 0,
    val failed: List<FailedRow> = emptyList(),
    /** "last read from the state 10:30 (12 min ago)". */
    val lastPull: String? = null,
    /** How old this view is ("as of 3 h ago"): a phone offline shows the last status it had. */
    val asOf: String? = null,
    val error: String? = null,
    val loaded: Boolean = false,
)

/**
 * The manager's "State submissions" screen: the failed queue with the state's messages, the
 * outbox length and the age of its oldest write. Who may see it is core's answer
 * (`maySeeStateSubmissions`); the status is what the server last sent, with its age.
 */
class StateSubmissionsModel(private val api: CustodyApi) {
    private val _state = MutableStateFlow(StateSubmissionsState())
    val state: StateFlow<StateSubmissionsState> = _state

    fun load() {
        _state.value = try {
            if (!api.maySeeStateSubmissions()) {
                StateSubmissionsState(visible = false, loaded = true)
            } else {
                view(api.stateSubmissions())
            }
        } catch (e: Exception) {
            StateSubmissionsState(visible = false, error = errorText(e), loaded = true)
        }
    }

    private fun view(s: StateSubmissions): StateSubmissionsState {
        val now = s.readAt
        fun stamp(at: Instant): String = "${localTime(at, s.timeZone, now)} (${ago(maxOf(0L, now.epochSecond - at.epochSecond))})"
        val status = s.status ?: return StateSubmissionsState(visible = true, hasStatus = false, loaded = true)
        return StateSubmissionsState(
            visible = true,
            hasStatus = true,
            connected = status.connected,
            stopped = status.stopped,
            keyWarning = status.keyWarning,
            queued = status.queued.toLong(),
            oldestQueued = status.oldestQueuedAt?.let { at ->
                val age = s.oldestQueuedAgeSecs ?: maxOf(0L, now.epochSecond - at.epochSecond)
                "${localTime(at, s.timeZone, now)} (${ago(age)})"
            },
            unapproved = status.unapproved.toLong(),
            failed = status.failed.map { f ->
                FailedRow(f.seq, kindWords(f.kind), f.packages, f.message, stamp(f.queuedAt))
            },
            lastPull = status.lastPullAt?.let { "last read from the state ${stamp(it)}" },
            asOf = s.asOf?.let { "as of ${ago(maxOf(0L, now.epochSecond - it.epochSecond))}" },
            loaded = true,
        )
    }

    private fun kindWords(kind: String) = when (kind) {
        "location" -> "move"
        "adjust" -> "adjustment"
        "create" -> "split"
        "finish" -> "destruction"
        "outgoing" -> "outgoing manifest"
        else -> kind
    }
}

/** One manifest of the inbox. */
data class InboxRow(
    val manifestNumber: String,
    val shipper: String,
    val packages: Long,
    /** Expected arrival in the facility's local time, if the state gives one. */
    val arrival: String?,
    /** A receiving session is open for it (tap continues it). */
    val sessionId: String?,
    val received: Boolean,
)

data class InboxState(
    val rows: List<InboxRow> = emptyList(),
    val feedback: Feedback? = null,
    val error: String? = null,
    val loaded: Boolean = false,
)

/**
 * The receiving inbox: the manifests the state lists for this facility, to pick one and open
 * receiving from it (file import stays the fallback). Core opens the session and records the
 * state's lab results; a manifest with a session already open continues it.
 */
class InboxModel(private val api: CustodyApi, private val zone: () -> String? = { null }, private val now: () -> Instant = { Instant.now() }) {
    private val _state = MutableStateFlow(InboxState())
    val state: StateFlow<InboxState> = _state

    fun load() {
        _state.value = try {
            _state.value.copy(rows = api.receivingInbox().map(::row), error = null, loaded = true)
        } catch (e: Exception) {
            _state.value.copy(rows = emptyList(), error = errorText(e), loaded = true)
        }
    }

    /** Opens (or continues) receiving for a manifest; the session's id, or null with red feedback. */
    fun open(manifestNumber: String): String? {
        val existing = _state.value.rows.firstOrNull { it.manifestNumber == manifestNumber }?.sessionId
        if (existing != null) {
            _state.value = _state.value.copy(feedback = Feedback.green("Continuing manifest $manifestNumber"))
            return existing
        }
        return try {
            val id = api.openReceivingFromInbox(manifestNumber)
            load()
            _state.value = _state.value.copy(feedback = Feedback.green("Receiving manifest $manifestNumber"))
            id
        } catch (e: Exception) {
            load()
            _state.value = _state.value.copy(feedback = Feedback.error(e))
            null
        }
    }

    private fun row(e: InboxEntry) = InboxRow(
        manifestNumber = e.manifestNumber,
        shipper = e.shipperName.ifBlank { e.shipperLicense },
        packages = e.packages.toLong(),
        arrival = e.estimatedArrival?.let { localTime(it, zone(), now()) },
        sessionId = e.session,
        received = e.received,
    )
}
