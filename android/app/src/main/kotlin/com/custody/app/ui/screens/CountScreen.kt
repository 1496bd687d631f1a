package com.custody.app.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardActions
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
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
import androidx.compose.ui.text.input.ImeAction
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.CountModel
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Title
import com.custody.core.unitSymbol

/**
 * Blind counting: the session list, then shelf label, packages, weights. Counters never see the
 * expected quantities (the model has none to show). State and decisions: CountModel.
 */
@Composable
fun CountScreen(c: AppContainer) {
    val state by c.count.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        if (state.sessionId == null) {
            Title("Counts")
            ErrorText(state.error)
            if (state.sessions.isEmpty()) Text("No count sessions on this phone. A manager opens them; sync to receive them.")
            OutlinedButton(onClick = { c.act { c.count.loadSessions(); null } }) { Text("Refresh") }
            LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                items(state.sessions) { row ->
                    Card(Modifier.fillMaxWidth()) {
                        Row(Modifier.padding(12.dp), verticalAlignment = Alignment.CenterVertically) {
                            Column(Modifier.weight(1f)) {
                                Text(row.name, fontSize = 20.sp)
                                Text("${row.status} · ${row.packages} packages · opened by ${row.openedBy}")
                            }
                            if (row.open) Button(onClick = { c.act { c.count.join(row.id) } }) { Text("Join") }
                        }
                    }
                }
            }
            return@Column
        }

        Title("${state.sessionName} (round ${state.round})")
        Text(state.location?.let { "Shelf: $it" } ?: "No shelf yet", fontSize = 20.sp)
        Text(state.prompt, style = MaterialTheme.typography.titleMedium)

        state.awaiting?.let { awaiting ->
            var amount by remember(awaiting) { mutableStateOf("") }
            Card(Modifier.fillMaxWidth()) {
                Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
                    Text(awaiting.item, fontSize = 20.sp)
                    Text(awaiting.tag)
                    awaiting.note?.let { Text(it, color = MaterialTheme.colorScheme.error) }
                    OutlinedTextField(
                        value = amount,
                        onValueChange = { amount = it },
                        label = { Text("Amount in ${unitSymbol(awaiting.unit)}") },
                        singleLine = true,
                        keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Decimal, imeAction = ImeAction.Done),
                        keyboardActions = KeyboardActions(onDone = { c.act { c.count.enterAmount(amount) } }),
                    )
                    Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                        Button(onClick = { c.act { c.count.enterAmount(amount) } }) { Text(if (awaiting.correction) "Replace my count" else "Count") }
                        TextButton(onClick = { c.count.cancelAmount() }) { Text("Cancel") }
                    }
                }
            }
        }

        Text("Counted by you this round", style = MaterialTheme.typography.titleSmall)
        LazyColumn(Modifier.weight(1f)) {
            items(state.lines) { line ->
                Row(Modifier.fillMaxWidth().padding(vertical = 4.dp), verticalAlignment = Alignment.CenterVertically) {
                    Column(Modifier.weight(1f)) {
                        Text(line.item)
                        Text("${line.tag} · ${line.yourCount}")
                    }
                    TextButton(onClick = { c.act { c.count.correct(line.tag) } }) { Text("Correct") }
                }
            }
        }
        OutlinedButton(onClick = { c.act { c.count.leave(); null } }) { Text("Back to the sessions") }
    }
}
