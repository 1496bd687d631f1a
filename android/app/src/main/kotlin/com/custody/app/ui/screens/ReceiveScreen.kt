package com.custody.app.ui.screens

import androidx.compose.foundation.background
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.CountModel
import com.custody.app.ui.Title
import com.custody.core.types.UnitOfMeasure
import com.custody.core.unitSymbol

/**
 * SIMPLE RECEIVING (labelled so on screen): item, batch and amount once, then scan each tag; each
 * scan receives the package into the intake location. State: ReceiveModel.
 */
@Composable
fun ReceiveScreen(c: AppContainer) {
    val state by c.receive.state.collectAsStateWithLifecycle()
    val inbox by c.inbox.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(6.dp)) {
        Title("Receive")
        InboxSection(c, inbox)
        Text(
            "Simple receiving: no manifest check yet. Each tag you scan is received into ${state.location}.",
            modifier = Modifier.fillMaxWidth().background(MaterialTheme.colorScheme.secondaryContainer).padding(8.dp),
        )
        Field("Item", state.item) { v -> c.receive.edit(item = v) }
        Field("Batch", state.batch) { v -> c.receive.edit(batch = v) }
        Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
            OutlinedTextField(
                value = state.quantityText,
                onValueChange = { v -> c.receive.edit(quantityText = v) },
                label = { Text("Amount per package") },
                singleLine = true,
                modifier = Modifier.weight(1f),
            )
            listOf(UnitOfMeasure.G, UnitOfMeasure.EACH).forEach { unit ->
                FilterChip(
                    selected = state.unit == unit,
                    onClick = { c.receive.edit(unit = unit) },
                    label = { Text(unitSymbol(unit)) },
                )
            }
        }
        Field("Expires (YYYY-MM-DD, optional)", state.expiresOn) { v -> c.receive.edit(expiresOn = v) }
        Field("Manifest number (optional)", state.manifest) { v -> c.receive.edit(manifest = v) }
        Text(state.prompt, style = MaterialTheme.typography.titleMedium)
        LazyColumn {
            items(state.received) { line ->
                Text("${line.tag}  ${line.item}  ${line.quantity}  → ${line.location}", modifier = Modifier.padding(vertical = 4.dp))
            }
        }
    }
}

@Composable
internal fun Field(label: String, value: String, onChange: (String) -> Unit) {
    OutlinedTextField(value = value, onValueChange = onChange, label = { Text(label) }, singleLine = true, modifier = Modifier.fillMaxWidth())
}

/** The manifests the state lists for this facility: pick one to open (or continue) receiving. State: InboxModel. */
@Composable
private fun InboxSection(c: AppContainer, inbox: com.custody.app.state.InboxState) {
    inbox.error?.let { Text(it, color = MaterialTheme.colorScheme.error) }
    if (inbox.rows.isEmpty()) return
    Text("Inbox from the state", style = MaterialTheme.typography.titleMedium)
    inbox.rows.forEach { row ->
        Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Column(Modifier.weight(1f)) {
                Text("${row.manifestNumber} · ${row.shipper}")
                Text("${row.packages} packages" + (row.arrival?.let { ", arriving $it" } ?: "") + if (row.received) " · received" else "")
            }
            androidx.compose.material3.OutlinedButton(onClick = { c.act { c.inbox.open(row.manifestNumber); c.inbox.state.value.feedback } }) {
                Text(if (row.sessionId != null) "Continue" else "Open")
            }
        }
    }
}
