package com.custody.app.scan

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import androidx.core.content.ContextCompat
import com.custody.app.state.DataWedge
import com.custody.app.state.Scan

/**
 * Receives Zebra DataWedge's Intent output (delivery: broadcast) while the app is in front.
 * Which extras mean what is decided by [DataWedge] in :ui-state; this only copies them out of
 * the intent. The action is the one set on the Sync screen (default com.custody.app.SCAN).
 *
 * Exported, because DataWedge is another app. Anything that can send a broadcast can therefore
 * "scan"; a scan is only input: core checks it, and every action still needs a signed-in person.
 */
class DataWedgeReceiver(
    private val dataWedge: DataWedge,
    private val onScan: (Scan) -> Unit,
) : BroadcastReceiver() {
    override fun onReceive(context: Context, intent: Intent) {
        val extras = intent.extras ?: return
        @Suppress("DEPRECATION") // Bundle.get: the extras are of several types (String, ArrayList<byte[]>)
        val values = DataWedge.EXTRAS.associateWith { extras.get(it) }
        dataWedge.parse(intent.action, values).forEach(onScan)
    }

    fun register(context: Context) {
        val filter = IntentFilter(dataWedge.action).apply { addCategory(Intent.CATEGORY_DEFAULT) }
        ContextCompat.registerReceiver(context, this, filter, ContextCompat.RECEIVER_EXPORTED)
    }
}
