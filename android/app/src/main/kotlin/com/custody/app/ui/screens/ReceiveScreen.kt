package com.custody.app.ui.screens

import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.ReceiveState
import com.custody.app.ui.Title
import com.custody.core.types.RejectReason

/**
 * RECEIVING AGAINST THE MANIFEST. Pick a manifest (the state's inbox, a session another phone
 * opened, or a manifest file), scan each package (and its GS1 label), weigh on a named scale or
 * type the weight with the reason, accept or reject; a manager decides flagged packages with a
 * note. Every answer shown is core's sentence. State: ReceiveModel, InboxModel.
 */
@Composable
fun ReceiveScreen(c: AppContainer) {
    val state by c.receive.state.collectAsStateWithLifecycle()
    val inbox by c.inbox.state.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { c.act { c.receive.load(); c.inbox.load(); null } }
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(6.dp)) {
        Title("Receive")
        if (state.sessionId == null) {
            PickManifest(c, state, inbox)
        } else {
            Session(c, state)
        }
    }
}

@Composable
internal fun Field(label: String, value: String, onChange: (String) -> Unit) {
    OutlinedTextField(value = value, onValueChange = onChange, label = { Text(label) }, singleLine = true, modifier = Modifier.fillMaxWidth())
}

/** The inbox from the state, the sessions on this phone, and the file import. */
@Composable
private fun PickManifest(c: AppContainer, state: ReceiveState, inbox: com.custody.app.state.InboxState) {
    val context = LocalContext.current
    val importFile = rememberLauncherForActivityResult(ActivityResultContracts.OpenDocument()) { uri ->
        if (uri != null) {
            c.act {
                val json = context.contentResolver.openInputStream(uri)?.use { it.readBytes().decodeToString() } ?: ""
                c.receive.importManifest(json)
            }
        }
    }
    InboxSection(c, inbox)
    val open = state.sessions.filter { !it.completed }
    if (open.isNotEmpty()) {
        Text("Open on this phone", style = MaterialTheme.typography.titleMedium)
        open.forEach { s ->
            Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Text("${s.manifestNumber} · ${s.shipperName} · ${s.packages} packages", Modifier.weight(1f))
                OutlinedButton(onClick = { c.act { c.receive.open(s.id) } }) { Text("Continue") }
            }
        }
    }
    OutlinedButton(onClick = { importFile.launch(arrayOf("application/json", "text/*")) }) { Text("Import a manifest file") }
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
            OutlinedButton(
                onClick = {
                    c.act {
                        val id = c.inbox.open(row.manifestNumber)
                        if (id != null) c.receive.open(id) else c.inbox.state.value.feedback
                    }
                },
            ) {
                Text(if (row.sessionId != null) "Continue" else "Open")
            }
        }
    }
}

/** One session: scan, check, weigh, decide, complete. */
@Composable
private fun Session(c: AppContainer, state: ReceiveState) {
    var weight by remember { mutableStateOf("") }
    var reason by remember { mutableStateOf("") }
    var note by remember { mutableStateOf("") }
    Text("Manifest ${state.manifestNumber} · ${state.shipper} · scanning at ${state.bay}")
    Text(state.prompt, style = MaterialTheme.typography.titleMedium)
    if (state.completed) {
        state.stateTasks.forEach { Text(it, color = MaterialTheme.colorScheme.primary) }
        OutlinedButton(onClick = { c.receive.close() }) { Text("Done") }
        return
    }
    state.current?.let { tag ->
        Text("Package $tag", style = MaterialTheme.typography.titleSmall)
        Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
            state.scales.forEach { name ->
                FilterChip(selected = state.scale == name, onClick = { c.receive.chooseScale(name) }, label = { Text(name) })
            }
            FilterChip(selected = state.scale == null, onClick = { c.receive.chooseScale(null) }, label = { Text("Type by hand") })
        }
        Field("Weight (g)", weight) { weight = it }
        if (state.scale == null) Field("Why no scale", reason) { reason = it }
        Button(onClick = { c.act { c.receive.weigh(weight, reason) } }) { Text("Record weight") }
        Field("Note (inspection, or a manager's reason to accept)", note) { note = it }
        Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
            Button(onClick = { c.act { c.receive.accept(note) } }) { Text("Accept") }
            OutlinedButton(onClick = { c.act { c.receive.inspect(note) } }) { Text("Inspected") }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(6.dp)) {
            listOf(RejectReason.DAMAGED, RejectReason.WRONG_ITEM, RejectReason.SHORT, RejectReason.NOT_ON_MANIFEST).forEach { why ->
                OutlinedButton(onClick = { c.act { c.receive.reject(why, note) } }) { Text(why.name.lowercase().replace('_', ' ')) }
            }
        }
    }
    state.discrepancies.filter { !it.resolved }.forEach { Text(it.text, color = MaterialTheme.colorScheme.error) }
    if (state.discrepancies.any { it.text.contains("record the reason") }) {
        Field("Why the weight differs", reason) { reason = it }
        OutlinedButton(onClick = { c.act { c.receive.explainWeightDifference(reason) } }) { Text("Record the reason") }
    }
    Field("Intake location", state.intake) { c.receive.setIntake(it) }
    Button(onClick = { c.act { c.receive.complete() } }) { Text("Complete receiving") }
    LazyColumn {
        items(state.rows) { row ->
            Column(Modifier.fillMaxWidth().clickable { c.receive.select(row.tag) }.padding(vertical = 4.dp)) {
                Text(row.tag + if (row.scanned) "  ✓" else "  not scanned")
                // Core's sentences: certificate checks, expiry, potency, label mismatches.
                row.flags.forEach { Text(it, color = MaterialTheme.colorScheme.error) }
            }
        }
        items(state.unexpected) { tag -> Text("$tag  not on this manifest: set aside", color = MaterialTheme.colorScheme.error) }
    }
}
