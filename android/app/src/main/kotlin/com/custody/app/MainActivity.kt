package com.custody.app

import android.os.Bundle
import android.view.KeyEvent
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import com.custody.app.scan.DataWedgeReceiver
import com.custody.app.scan.WedgeKeyHandler
import com.custody.app.state.DataWedge
import com.custody.app.state.Feedback
import com.custody.app.state.ScanInput
import com.custody.app.ui.CustodyApp
import com.custody.app.ui.CustodyTheme

/**
 * The one activity. It renders [CustodyApp] and feeds scanner input to the container: hardware
 * key events (keyboard-wedge sleeves) through [WedgeKeyHandler], Zebra DataWedge broadcasts
 * through [DataWedgeReceiver] while the app is in front.
 */
class MainActivity : ComponentActivity() {
    private val container: AppContainer get() = (application as CustodyApplication).container
    private lateinit var wedge: WedgeKeyHandler
    private var dataWedge: DataWedgeReceiver? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        wedge = WedgeKeyHandler(ScanInput()) { result ->
            when (result) {
                is ScanInput.Result.Scanned -> container.onScan(result.scan)
                is ScanInput.Result.Garbage -> container.show(Feedback.red(result.message))
                ScanInput.Result.Pending -> Unit
            }
        }
        setContent {
            CustodyTheme {
                CustodyApp(container)
            }
        }
    }

    override fun dispatchKeyEvent(event: KeyEvent): Boolean = wedge.onKeyEvent(event) || super.dispatchKeyEvent(event)

    override fun onResume() {
        super.onResume()
        dataWedge = DataWedgeReceiver(DataWedge(container.settings.dataWedgeAction)) { container.onScan(it) }
            .also { it.register(this) }
        container.onForeground()
    }

    override fun onPause() {
        dataWedge?.let(::unregisterReceiver)
        dataWedge = null
        wedge.reset()
        super.onPause()
    }

    override fun onStop() {
        // Not onPause: the location-permission dialog pauses the activity without hiding it.
        container.onBackground()
        super.onStop()
    }
}
