package com.custody.app.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.SignInStep
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Title

/** Badge (scanned, or typed for a damaged badge), then the PIN on a pad. State: SignInModel. */
@Composable
fun SignInScreen(c: AppContainer) {
    val state by c.signIn.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp).fillMaxWidth(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("Sign in")
        Text(state.prompt, fontSize = 20.sp)
        ErrorText(state.error)
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
                    onDigit = { d -> c.signIn.pinDigit(d) },
                    onBackspace = { c.signIn.pinBackspace() },
                    onOk = { c.submitSignIn() },
                )
                TextButton(onClick = { c.signIn.restart() }) { Text("Not you? Start over") }
            }
            SignInStep.SIGNED_IN -> Text("Signed in as ${state.user?.name}")
        }
    }
}

@Composable
private fun PinPad(onDigit: (Char) -> Unit, onBackspace: () -> Unit, onOk: () -> Unit) {
    val rows = listOf("123", "456", "789")
    Column(verticalArrangement = Arrangement.spacedBy(6.dp)) {
        rows.forEach { row ->
            Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
                row.forEach { d -> PadKey(d.toString()) { onDigit(d) } }
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
            PadKey("⌫", onBackspace)
            PadKey("0") { onDigit('0') }
            Button(onClick = onOk, modifier = Modifier.height(64.dp).padding(0.dp)) { Text("OK", fontSize = 22.sp) }
        }
    }
}

@Composable
private fun PadKey(label: String, onClick: () -> Unit) {
    OutlinedButton(onClick = onClick, modifier = Modifier.height(64.dp)) { Text(label, fontSize = 22.sp) }
}
