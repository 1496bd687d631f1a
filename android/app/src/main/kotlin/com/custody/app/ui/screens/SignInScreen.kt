package com.custody.app.ui.screens

import android.content.ActivityNotFoundException
import android.content.Intent
import android.provider.Settings
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.size
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.SignInCheck
import com.custody.app.state.SignInStep
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Title

/**
 * Badge (scanned, or typed for a damaged badge), then the PIN on a pad. State: SignInModel.
 * While core checks (on the phone, or with the server the first time a person signs in here)
 * a spinner shows how and the pad waits; when the server could not be reached, core's reason is
 * in red with a way to the phone's network settings.
 */
@Composable
fun SignInScreen(c: AppContainer) {
    val state by c.signIn.state.collectAsStateWithLifecycle()
    val context = LocalContext.current
    Column(Modifier.padding(16.dp).fillMaxWidth(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("Sign in")
        val check = state.checking
        if (check != null) {
            Row(horizontalArrangement = Arrangement.spacedBy(12.dp), verticalAlignment = Alignment.CenterVertically) {
                CircularProgressIndicator(Modifier.size(28.dp))
                Column {
                    Text(state.prompt, fontSize = 20.sp)
                    if (check == SignInCheck.WITH_SERVER) Text("This needs the network; later sign-ins on this phone work without it.")
                }
            }
        } else {
            Text(state.prompt, fontSize = 20.sp)
        }
        ErrorText(state.error)
        if (state.needsNetwork) {
            OutlinedButton(onClick = {
                try {
                    context.startActivity(Intent(Settings.ACTION_WIRELESS_SETTINGS).addFlags(Intent.FLAG_ACTIVITY_NEW_TASK))
                } catch (_: ActivityNotFoundException) {
                    // A locked-down handheld without the settings screen: the prompt says what to do.
                }
            }) { Text("Open network settings") }
        }
        when (state.step) {
            SignInStep.BADGE -> {
                var typed by remember { mutableStateOf("") }
                OutlinedTextField(value = typed, onValueChange = { typed = it }, label = { Text("Badge number (if it will not scan)") }, singleLine = true)
                Button(onClick = { c.signIn.enterBadge(typed) }) { Text("Next") }
            }
            SignInStep.PIN -> {
                Text("Badge ${state.badge}")
                Text("●".repeat(state.pinDots).ifEmpty { "–" }, fontSize = 28.sp)
                PinPad(
                    enabled = !state.busy,
                    onDigit = { d -> c.signIn.pinDigit(d) },
                    onBackspace = { c.signIn.pinBackspace() },
                    onOk = { c.submitSignIn() },
                )
                TextButton(onClick = { c.signIn.restart() }, enabled = !state.busy) { Text("Not you? Start over") }
            }
            SignInStep.SIGNED_IN -> Text("Signed in as ${state.user?.name}")
        }
    }
}

@Composable
private fun PinPad(enabled: Boolean, onDigit: (Char) -> Unit, onBackspace: () -> Unit, onOk: () -> Unit) {
    val rows = listOf("123", "456", "789")
    Column(verticalArrangement = Arrangement.spacedBy(6.dp)) {
        rows.forEach { row ->
            Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
                row.forEach { d -> PadKey(d.toString(), enabled) { onDigit(d) } }
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
            PadKey("⌫", enabled, onBackspace)
            PadKey("0", enabled) { onDigit('0') }
            Button(onClick = onOk, enabled = enabled, modifier = Modifier.height(64.dp).padding(0.dp)) { Text("OK", fontSize = 22.sp) }
        }
    }
}

@Composable
private fun PadKey(label: String, enabled: Boolean, onClick: () -> Unit) {
    OutlinedButton(onClick = onClick, enabled = enabled, modifier = Modifier.height(64.dp)) { Text(label, fontSize = 22.sp) }
}
