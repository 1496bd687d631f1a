package com.custody.app.state

import com.custody.core.ChangeKind
import com.custody.core.types.CustodyException

/** What a background sync attempt tells WorkManager. */
enum class WorkOutcome { SUCCESS, RETRY, FAILURE }

/**
 * The decisions of the WorkManager `SyncWorker`, kept here so they are tested on the JVM.
 *
 * - not enrolled: nothing to sync, done;
 * - offline or the server failing: retry later with back-off (the work is safe on the phone);
 * - this device refused (revoked, unknown token): stop retrying; the sync screen shows the reason
 *   (the client's sync listener recorded it) until a manager re-enrols the device;
 * - a local storage failure: stop; the sync screen shows it (call support).
 */
object BackgroundSync {
    const val PERIODIC_MINUTES = 15L // WorkManager's minimum period
    const val SOON_DELAY_SECONDS = 10L // changes within this window go out in one sync

    fun outcome(error: Throwable?): WorkOutcome = when (error) {
        null -> WorkOutcome.SUCCESS
        is CustodyException.NotEnrolled -> WorkOutcome.SUCCESS
        is CustodyException.Offline, is CustodyException.Server -> WorkOutcome.RETRY
        is CustodyException.Unauthorized, is CustodyException.Storage -> WorkOutcome.FAILURE
        is CustodyException -> WorkOutcome.RETRY
        else -> WorkOutcome.RETRY
    }

    /** A local change worth pushing soon (sign-in changes are not: nothing to send). */
    fun syncSoonAfter(change: ChangeKind): Boolean = change != ChangeKind.SIGN_IN
}
