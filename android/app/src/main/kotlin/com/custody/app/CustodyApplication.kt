package com.custody.app

import android.app.Application
import com.custody.app.sync.SyncWorker

/** Holds the one [AppContainer] of the process: one device store, one client, one set of models. */
class CustodyApplication : Application() {
    lateinit var container: AppContainer
        private set

    override fun onCreate() {
        super.onCreate()
        // Before anything can sync: the sync client checks certificates with Android's verifier.
        CustodyTls.init(applicationContext)
        container = AppContainer(this)
        container.start()
        SyncWorker.schedulePeriodic(this)
    }
}
