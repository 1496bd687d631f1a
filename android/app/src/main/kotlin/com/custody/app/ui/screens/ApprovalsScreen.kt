package com.custody.app.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
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
import java.time.ZoneId
import java.time.format.DateTimeFormatter

private val WHEN = DateTimeFormatter.ofPattern("d MMM HH:mm").withZone(ZoneId.systemDefault())

/** Adjustment requests waiting for a decision. State and decisions: ApprovalsModel. */
@Composable
fun ApprovalsScreen(c: AppContainer) {
    val state by c.approvals.state.collectAsStateWithLifecycle()
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("Approvals")
        ErrorText(state.error)
        if (state.loaded && state.rows.isEmpty() && state.error == null) Text("Nothing waiting for a decision.")
        OutlinedTextField(
            value = state.note,
            onValueChange = { c.approvals.editNote(it) },
            label = { Text("Note for your decision") },
            modifier = Modifier.fillMaxWidth(),
        )
        LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
            items(state.rows) { row ->
                Card(Modifier.fillMaxWidth()) {
                    Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
                        Text("${row.change} · ${row.tag}", fontSize = 18.sp)
                        Text("${row.reason}: ${row.note}")
                        Text("Asked by ${row.requestedBy}, ${WHEN.format(row.requestedAt)}" + if (row.fromCount) " · from a count" else "")
                        if (row.canDecide) {
                            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                                Button(onClick = { c.act { c.approvals.approve(row.requestId) } }) { Text("Approve") }
                                OutlinedButton(onClick = { c.act { c.approvals.reject(row.requestId) } }) { Text("Reject") }
                            }
                        } else {
                            Text(row.cannotDecide ?: "", color = MaterialTheme.colorScheme.error)
                        }
                    }
                }
            }
        }
    }
}
