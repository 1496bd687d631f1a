package com.custody.app.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.ConflictRow
import com.custody.app.state.Decision
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Title
import java.time.ZoneId
import java.time.format.DateTimeFormatter

private val RESOLVED_AT = DateTimeFormatter.ofPattern("d MMM HH:mm").withZone(ZoneId.systemDefault())

/**
 * What the ledger could not reconcile, for a manager: open conflicts with the decision each takes,
 * then the resolved ones as history. A LOC: label scanned here says where a package moved to two
 * places really is. State and resolutions: ConflictsModel; core checks every resolution.
 */
@Composable
fun ConflictsScreen(c: AppContainer) {
    val state by c.conflicts.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("Conflicts")
        ErrorText(state.error)
        if (state.loaded && state.open.isEmpty() && state.error == null) Text("Nothing to decide.")
        OutlinedTextField(
            value = state.note,
            onValueChange = { c.conflicts.editNote(it) },
            label = { Text("What you found and checked (required)") },
            modifier = Modifier.fillMaxWidth(),
        )
        if (state.open.any { it.decision == Decision.LOCATED_AT }) {
            OutlinedTextField(
                value = state.location,
                onValueChange = { c.conflicts.editLocation(it) },
                label = { Text("Where the package is (scan its LOC: label)") },
                modifier = Modifier.fillMaxWidth(),
            )
        }
        LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
            items(state.open) { row -> OpenConflict(c, row) }
            if (state.resolved.isNotEmpty()) {
                item { Text("Resolved", fontSize = 18.sp) }
                items(state.resolved) { row -> ResolvedConflict(row) }
            }
        }
    }
}

@Composable
private fun OpenConflict(c: AppContainer, row: ConflictRow) {
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text("${row.title} · ${row.tag}", fontSize = 18.sp)
            Text(row.detail)
            val action = when (row.decision) {
                Decision.LOCATED_AT -> "It is at the location above"
                Decision.RECEIPT_VOID -> "Void the second receipt"
                Decision.ACKNOWLEDGED -> "Acknowledge after investigation"
            }
            Button(onClick = { c.act { c.conflicts.resolve(row.tag, row.eventId, row.kind) } }) { Text(action) }
        }
    }
}

@Composable
private fun ResolvedConflict(row: ConflictRow) {
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text("${row.title} · ${row.tag}")
            Text(row.detail, color = MaterialTheme.colorScheme.onSurfaceVariant)
            val at = row.resolvedAt?.let { ", " + RESOLVED_AT.format(it) } ?: ""
            Text("Resolved by ${row.resolvedBy}$at: ${row.outcome}")
            row.note?.let { Text(it, color = MaterialTheme.colorScheme.onSurfaceVariant) }
        }
    }
}
