package com.custody.app.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Title

/**
 * A manager's view of what reaches the state: the failed queue with the state's messages, the
 * outbox length and how long its oldest write has waited. State: StateSubmissionsModel (core
 * decides who sees it; times are the facility's).
 */
@Composable
fun StateSubmissionsScreen(c: AppContainer) {
    val state by c.stateSubmissions.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("State submissions")
        ErrorText(state.error)
        if (!state.loaded) return@Column
        if (!state.visible) {
            Text("Only managers and compliance officers see the state submissions.")
            return@Column
        }
        if (!state.hasStatus) {
            Text("No status from the state system: this facility is not connected, or the phone has not synced yet.")
            return@Column
        }
        state.asOf?.let { Text("Status $it", color = MaterialTheme.colorScheme.onSurfaceVariant) }
        state.stopped?.let { Text("Stopped: $it", color = MaterialTheme.colorScheme.error, fontSize = 18.sp) }
        state.keyWarning?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        Text("Waiting to be sent: ${state.queued}" + (state.oldestQueued?.let { ", oldest queued $it" } ?: ""), fontSize = 18.sp)
        if (state.unapproved > 0) Text("Adjustments waiting for approval before they are sent: ${state.unapproved}")
        state.lastPull?.let { Text(it) }
        Text("Refused by the state: ${state.failed.size}", fontSize = 18.sp)
        LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
            items(state.failed) { row ->
                Card(Modifier.fillMaxWidth()) {
                    Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                        Text("${row.what} · ${row.packages.joinToString()}", fontSize = 18.sp)
                        Text(row.message, color = MaterialTheme.colorScheme.error)
                        Text("Queued ${row.queued}")
                    }
                }
            }
        }
    }
}
