package com.custody.app.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Title
import com.custody.core.coreVersion

/** Online/offline, what waits, last sync, last error; "Sync now"; the device's scanner settings. */
@Composable
fun SyncScreen(c: AppContainer) {
    val state by c.sync.state.collectAsStateWithLifecycle()
    Column(
        Modifier.padding(16.dp).fillMaxWidth().verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        Title("Sync")
        Text(state.connection, fontSize = 22.sp)
        Text(state.pendingText, fontSize = 18.sp)
        Text(state.lastSyncText)
        state.lastError?.let {
            Text("Last error", style = MaterialTheme.typography.titleSmall)
            ErrorText(it)
        }
        state.rejectedText?.let { ErrorText(it) }
        Button(onClick = { c.syncNow() }, enabled = !state.syncing) { Text(if (state.syncing) "Syncing…" else "Sync now") }

        HorizontalDivider()
        Title("Scanner")
        var action by remember { mutableStateOf(c.settings.dataWedgeAction) }
        OutlinedTextField(
            value = action,
            onValueChange = { action = it },
            label = { Text("DataWedge intent action") },
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
        )
        OutlinedButton(onClick = { c.settings.dataWedgeAction = action }) { Text("Save (applies when the app returns to the front)") }
        var feedback by remember { mutableStateOf(c.settings.feedback) }
        Toggle("Sound", feedback.sound) {
            feedback = feedback.copy(sound = it)
            c.settings.feedback = feedback
        }
        Toggle("Vibration", feedback.vibration) {
            feedback = feedback.copy(vibration = it)
            c.settings.feedback = feedback
        }
        Text("A red answer always vibrates when the sound is off.", style = MaterialTheme.typography.bodySmall)
        HorizontalDivider()
        Text("Custody core ${coreVersion()}", style = MaterialTheme.typography.bodySmall)
    }
}

@Composable
private fun Toggle(label: String, checked: Boolean, onChange: (Boolean) -> Unit) {
    Row(verticalAlignment = Alignment.CenterVertically) {
        Text(label, Modifier.weight(1f))
        Switch(checked = checked, onCheckedChange = onChange)
    }
}
