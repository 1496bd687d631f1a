package com.custody.app.state

import com.custody.core.SyncListener
import com.custody.core.types.SyncStatus
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import java.time.Duration
import java.time.Instant

/** What the sync bar and the sync screen show; every text is ready to display. */
data class SyncStatusState(
    val online: Boolean = false,
    /** "Online", "Offline", "Not synced yet". */
    val connection: String = "Not synced yet",
    val pending: Long = 0,
    /** "Nothing waiting to sync", "3 changes waiting to sync". */
    val pendingText: String = "Nothing waiting to sync",
    /** "Last sync 5 min ago", "Never synced". */
    val lastSyncText: String = "Never synced",
    /** Why the last attempt failed; null after a success. Never hidden. */
    val lastError: String? = null,
    val rejected: Long = 0,
    /** "2 changes refused by the server; a manager must review them", or null. */
    val rejectedText: String? = null,
    /** A sync the person started is running. */
    val syncing: Boolean = false,
    /** Show the bar in the warning colour: a failure or a refusal is never silent. */
    val attention: Boolean = false,
)

/**
 * The sync status: online or offline, how many changes wait, when the device last synced and why
 * the last attempt failed. Fed by the client's [SyncListener] (after every attempt, from any
 * thread) and by [refresh]; [syncNow] is the "Sync now" button.
 */
class SyncStatusModel(
    private val api: CustodyApi,
    private val clock: () -> Instant = Instant::now,
) : SyncListener {
    private val _state = MutableStateFlow(SyncStatusState())
    val state: StateFlow<SyncStatusState> = _state

    private var last: SyncStatus? = null

    /** Called by the client after each sync attempt; cheap and thread-safe. */
    override fun onStatus(status: SyncStatus) {
        show(status)
    }

    /** Reads the status from the store (at start, and every minute so "5 min ago" stays true). */
    fun refresh() {
        try {
            show(api.syncStatus())
        } catch (e: Exception) {
            // Not enrolled yet, or the store failed: keep what we had, show why.
            _state.value = _state.value.copy(lastError = errorText(e), attention = true)
        }
    }

    /** Re-renders the relative times without reading the store. */
    fun tick() {
        synchronized(this) { last }?.let { show(it) }
    }

    /** Syncs now; the outcome shows in the state either way and is returned as feedback. */
    suspend fun syncNow(): Feedback {
        _state.value = _state.value.copy(syncing = true)
        return try {
            val report = api.syncNow()
            refresh()
            Feedback.green(
                "Synced: ${report.accepted} sent, ${report.pulled} received" +
                    if (report.rejected > 0uL) ", ${report.rejected} refused" else "",
            )
        } catch (e: Exception) {
            refresh()
            // The store records the failure (the listener already showed it); make sure it is seen.
            if (_state.value.lastError == null) _state.value = _state.value.copy(lastError = errorText(e), attention = true)
            Feedback.error(e)
        } finally {
            _state.value = _state.value.copy(syncing = false)
        }
    }

    private fun show(status: SyncStatus) {
        synchronized(this) { last = status }
        val now = clock()
        val pending = status.pending.toLong()
        val rejected = status.rejected.toLong()
        _state.value = SyncStatusState(
            online = status.online,
            connection = when {
                status.lastAttempt == null -> "Not synced yet"
                status.online -> "Online"
                else -> "Offline: work is saved here and syncs later"
            },
            pending = pending,
            pendingText = when (pending) {
                0L -> "Nothing waiting to sync"
                1L -> "1 change waiting to sync"
                else -> "$pending changes waiting to sync"
            },
            lastSyncText = status.lastSuccess?.let { "Last sync ${ago(it, now)}" } ?: "Never synced",
            lastError = status.lastError,
            rejected = rejected,
            rejectedText = when (rejected) {
                0L -> null
                1L -> "1 change refused by the server; a manager must review it"
                else -> "$rejected changes refused by the server; a manager must review them"
            },
            syncing = _state.value.syncing,
            attention = status.lastError != null || rejected > 0,
        )
    }

    companion object {
        /** "just now", "5 min ago", "3 h ago", "2 days ago". */
        fun ago(then: Instant, now: Instant): String {
            val d = Duration.between(then, now)
            return when {
                d.seconds < 60 -> "just now" // also a clock a little behind the server's
                d.toMinutes() < 60 -> "${d.toMinutes()} min ago"
                d.toHours() < 24 -> "${d.toHours()} h ago"
                d.toDays() == 1L -> "1 day ago"
                else -> "${d.toDays()} days ago"
            }
        }
    }
}
