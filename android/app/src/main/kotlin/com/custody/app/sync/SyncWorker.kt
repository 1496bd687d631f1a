package com.custody.app.sync

import android.content.Context
import androidx.work.BackoffPolicy
import androidx.work.Constraints
import androidx.work.CoroutineWorker
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.ExistingWorkPolicy
import androidx.work.NetworkType
import androidx.work.OneTimeWorkRequestBuilder
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import androidx.work.WorkerParameters
import com.custody.app.CustodyApplication
import com.custody.app.state.BackgroundSync
import com.custody.app.state.WorkOutcome
import java.util.concurrent.TimeUnit

/**
 * Background sync with WorkManager: every 15 minutes while there is a network, and soon after
 * each local change. The client runs one sync at a time, so this and the "Sync now" button never
 * overlap; its sync listener updates the status the screens show, success or failure.
 * What a failure means for WorkManager (retry, stop) is [BackgroundSync.outcome], in :ui-state.
 */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val container = (applicationContext as CustodyApplication).container
        val error = try {
            if (container.client.identity() != null) container.client.syncNow()
            null
        } catch (e: Exception) {
            e
        }
        return when (BackgroundSync.outcome(error)) {
            WorkOutcome.SUCCESS -> Result.success()
            WorkOutcome.RETRY -> Result.retry()
            WorkOutcome.FAILURE -> Result.failure()
        }
    }

    companion object {
        private const val PERIODIC = "custody-sync"
        private const val SOON = "custody-sync-soon"

        private val online = Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build()

        fun schedulePeriodic(context: Context) {
            val request = PeriodicWorkRequestBuilder<SyncWorker>(BackgroundSync.PERIODIC_MINUTES, TimeUnit.MINUTES)
                .setConstraints(online)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context).enqueueUniquePeriodicWork(PERIODIC, ExistingPeriodicWorkPolicy.KEEP, request)
        }

        /** A sync a few seconds from now; changes made meanwhile ride along (KEEP). */
        fun syncSoon(context: Context) {
            val request = OneTimeWorkRequestBuilder<SyncWorker>()
                .setConstraints(online)
                .setInitialDelay(BackgroundSync.SOON_DELAY_SECONDS, TimeUnit.SECONDS)
                .setBackoffCriteria(BackoffPolicy.EXPONENTIAL, 30, TimeUnit.SECONDS)
                .build()
            WorkManager.getInstance(context).enqueueUniqueWork(SOON, ExistingWorkPolicy.KEEP, request)
        }
    }
}
