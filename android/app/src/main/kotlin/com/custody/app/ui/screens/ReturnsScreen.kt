package com.custody.app.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.ReturnRow
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Green
import com.custody.app.ui.Title
import com.custody.core.types.ReturnKind

/**
 * Return check-in at the vault: what is due back, in core's order: refused on a truck (red), picked
 * for an order a manager cancelled and to go back to a shelf (named by order and container, since
 * it never left), and out on a truck with no outcome yet (marked still out); where returns go (a `LOC:` label scanned
 * here, or typed; the last one used to start with), and the packages checked in on this screen.
 * Each package scan goes to the model (ScanRouter): green "Back in ...", and the row goes; red with
 * core's reason, and nothing changes. State and decisions: ReturnsModel.
 */
@Composable
fun ReturnsScreen(c: AppContainer) {
    val state by c.returns.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("Returns")
        Text(state.summary, fontWeight = FontWeight.Bold)
        OutlinedTextField(
            value = state.location,
            onValueChange = { c.returns.editLocation(it) },
            label = { Text("Returns go to (scan a LOC: label or type)") },
            singleLine = true,
            modifier = Modifier.fillMaxWidth(),
        )
        Text(state.prompt, style = MaterialTheme.typography.titleMedium)
        ErrorText(state.error)
        OutlinedButton(onClick = { c.act { c.returns.load(); null } }) { Text("Refresh") }

        LazyColumn(Modifier.weight(1f), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            if (state.rows.isEmpty() && state.error == null) {
                item { Text("Nothing is due back from the trucks or from cancelled orders. Sync to see what the drivers and the office recorded.") }
            }
            items(state.rows, key = { it.tag }) { row -> ReturnCard(row) }
            if (state.checkedIn.isNotEmpty()) {
                item { Text("Checked in here", style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 8.dp)) }
                items(state.checkedIn) { line ->
                    Text("✓ ${line.item} · ${line.tag} → ${line.location}", color = Green, modifier = Modifier.padding(vertical = 2.dp))
                }
            }
        }
    }
}

@Composable
private fun ReturnCard(row: ReturnRow) {
    val colours = when (row.kind) {
        ReturnKind.REFUSED -> CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer)
        ReturnKind.ORDER_CANCELLED -> CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.tertiaryContainer)
        ReturnKind.NOT_CONFIRMED -> CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.surfaceVariant)
    }
    Card(Modifier.fillMaxWidth(), colors = colours) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(2.dp)) {
            Text("${row.item} · ${row.quantity}", fontSize = 20.sp, fontWeight = FontWeight.Bold)
            // The model words both: a truck's manifest and stop, or a cancelled order and its container.
            Text(row.tagLine)
            Text(row.origin)
            Text(row.statusText, fontWeight = FontWeight.Bold)
            Text(row.reason)
        }
    }
}
