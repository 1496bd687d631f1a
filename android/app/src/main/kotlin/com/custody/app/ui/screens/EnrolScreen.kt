package com.custody.app.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Title

/** Once per device: the server, the one-time code a manager issued, a name. State: EnrolModel. */
@Composable
fun EnrolScreen(c: AppContainer) {
    val state by c.enrol.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp).fillMaxWidth(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("Enrol this device")
        Text("Ask a manager for a one-time enrolment code. You can scan it.")
        OutlinedTextField(
            value = state.serverUrl,
            onValueChange = { v -> c.enrol.edit(serverUrl = v) },
            label = { Text("Server address (https://...)") },
            singleLine = true,
        )
        OutlinedTextField(
            value = state.code,
            onValueChange = { v -> c.enrol.edit(code = v) },
            label = { Text("Enrolment code") },
            singleLine = true,
        )
        OutlinedTextField(
            value = state.deviceName,
            onValueChange = { v -> c.enrol.edit(deviceName = v) },
            label = { Text("Device name (e.g. Vault handheld 3)") },
            singleLine = true,
        )
        ErrorText(state.error)
        Button(onClick = { c.submitEnrolment() }, enabled = !state.busy) { Text(if (state.busy) "Enrolling…" else "Enrol") }
    }
}
