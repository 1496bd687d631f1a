package com.custody.app.ui.screens

import androidx.activity.compose.BackHandler
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.foundation.text.KeyboardActions
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
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
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.input.ImeAction
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.AwaitingPack
import com.custody.app.state.AwaitingWeight
import com.custody.app.state.CountModel
import com.custody.app.state.PickRow
import com.custody.app.state.PickState
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Green
import com.custody.app.ui.Title
import com.custody.core.types.OrderStatus
import com.custody.core.types.UnitOfMeasure
import com.custody.core.unitSymbol

/**
 * Picking and packing: the orders, then one order's pick list with its progress. Scans go to the
 * model (ScanRouter): a package on the list is picked, a split line asks for its weight, a picked
 * package goes into the container typed here with its gross weight. Core's packing check lists
 * what is still missing under the pick list; "Finish packing" (core's final check) is offered once
 * that list is empty. State and decisions: PickModel.
 */
@Composable
fun PickScreen(c: AppContainer) {
    val state by c.pick.state.collectAsStateWithLifecycle()
    BackHandler(enabled = state.orderId != null) { c.act { c.pick.leave(); null } }
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        if (state.orderId == null) {
            OrderList(c, state)
            return@Column
        }

        Title("Order ${state.orderNumber}")
        Text(state.customer, fontSize = 20.sp)
        // A medical order shows its reference only; the patient is never on a picker's screen.
        state.patientRef?.let { Text("Medical order · patient $it") }
        Text(state.progress, fontWeight = FontWeight.Bold)
        Text(state.prompt, style = MaterialTheme.typography.titleMedium)
        ErrorText(state.error)

        if (state.status == OrderStatus.ALLOCATED) {
            OutlinedTextField(
                value = state.container,
                onValueChange = { c.pick.editContainer(it) },
                label = { Text("Container number (for packing)") },
                singleLine = true,
                modifier = Modifier.fillMaxWidth(),
            )
        }
        state.awaitingWeight?.let { WeightCard(c, it) }
        state.awaitingPack?.let { PackCard(c, it) }
        if (state.pickedTwice.isNotEmpty()) {
            Text(
                "Picked on two phones before they synced (check the tote): ${state.pickedTwice.joinToString(", ")}",
                color = MaterialTheme.colorScheme.error,
            )
        }

        LazyColumn(Modifier.weight(1f), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            items(state.lines) { line -> PickLineRow(line) }
            if (state.missing.isNotEmpty()) {
                item {
                    Card(Modifier.fillMaxWidth(), colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer)) {
                        Column(Modifier.padding(12.dp)) {
                            Text("Still missing before packing can finish", fontWeight = FontWeight.Bold)
                            state.missing.forEach { Text("• $it") }
                        }
                    }
                }
            }
            if (state.containers.isNotEmpty()) {
                item { Text("Containers", style = MaterialTheme.typography.titleSmall, modifier = Modifier.padding(top = 8.dp)) }
                items(state.containers) { box -> Text("Container ${box.number}: ${box.tags.joinToString(", ")}") }
            }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            if (state.status == OrderStatus.ALLOCATED) {
                Button(onClick = { c.act { c.pick.finish() } }, enabled = state.canFinish) { Text("Finish packing") }
            }
            OutlinedButton(onClick = { c.act { c.pick.leave(); null } }) { Text("Back to the orders") }
        }
    }
}

@Composable
private fun OrderList(c: AppContainer, state: PickState) {
    Title("Pick & pack")
    ErrorText(state.error)
    if (state.orders.isEmpty()) Text("No orders on this phone. A manager enters them; sync to receive them.")
    OutlinedButton(onClick = { c.act { c.pick.loadOrders(); null } }) { Text("Refresh") }
    LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
        items(state.orders) { row ->
            Card(Modifier.fillMaxWidth()) {
                Row(Modifier.padding(12.dp), verticalAlignment = Alignment.CenterVertically) {
                    Column(Modifier.weight(1f)) {
                        Text("${row.number} · ${row.customer}", fontSize = 20.sp)
                        Text("${row.statusText} · ${row.lines} lines · wanted ${row.requestedOn}")
                        row.patientRef?.let { Text("Medical · patient $it") }
                    }
                    when (row.status) {
                        OrderStatus.ALLOCATED, OrderStatus.PACKED -> Button(onClick = { c.act { c.pick.open(row.id) } }) { Text("Open") }
                        // Managers only; core refuses anyone else with the reason.
                        OrderStatus.OPEN -> OutlinedButton(onClick = { c.act { c.pick.generate(row.id) } }) { Text("Make pick list") }
                        OrderStatus.CANCELLED -> Unit
                    }
                }
            }
        }
    }
}

@Composable
private fun PickLineRow(line: PickRow) {
    Row(Modifier.fillMaxWidth().padding(vertical = 4.dp), verticalAlignment = Alignment.CenterVertically) {
        Text(
            when {
                line.packed -> "▣"
                line.picked -> "✓"
                else -> "☐"
            },
            fontSize = 24.sp,
            color = if (line.picked) Green else MaterialTheme.colorScheme.onSurface,
            modifier = Modifier.width(36.dp),
        )
        Column(Modifier.weight(1f)) {
            Text("${line.item} · ${line.quantity}", fontWeight = FontWeight.Bold)
            Text("${line.tag} · ${line.location}" + (line.expiresOn?.let { " · expires $it" } ?: ""))
            line.splitInto?.let { Text("Split: weigh out ${line.quantity} into new tag $it") }
            line.substituteFor?.let { Text("Approved substitute for $it") }
            line.pickedBy?.let { who ->
                Text("Picked by $who" + (line.pickedTag?.takeIf { it != line.tag }?.let { " as $it" } ?: "") + (line.container?.let { " · container $it" } ?: ""))
            }
        }
    }
}

@Composable
private fun WeightCard(c: AppContainer, awaiting: AwaitingWeight) {
    var amount by remember(awaiting) { mutableStateOf("") }
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Text(awaiting.item, fontSize = 20.sp)
            Text("Weigh out ${awaiting.expected} from ${awaiting.tag}, label it ${awaiting.newTag}")
            OutlinedTextField(
                value = amount,
                onValueChange = { amount = it },
                label = { Text("Weight taken in ${unitSymbol(awaiting.unit)}") },
                singleLine = true,
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Decimal, imeAction = ImeAction.Done),
                keyboardActions = KeyboardActions(onDone = { c.act { c.pick.enterWeight(amount) } }),
            )
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { c.act { c.pick.enterWeight(amount) } }) { Text("Pick") }
                TextButton(onClick = { c.pick.cancelWeight() }) { Text("Cancel") }
            }
        }
    }
}

@Composable
private fun PackCard(c: AppContainer, awaiting: AwaitingPack) {
    var weight by remember(awaiting) { mutableStateOf("") }
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(6.dp)) {
            Text("${awaiting.item} → container ${awaiting.container}", fontSize = 20.sp)
            Text(awaiting.tag)
            awaiting.note?.let { Text(it, color = MaterialTheme.colorScheme.error) }
            OutlinedTextField(
                value = weight,
                onValueChange = { weight = it },
                label = { Text("Gross weight in ${unitSymbol(UnitOfMeasure.G)}") },
                singleLine = true,
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Decimal, imeAction = ImeAction.Done),
                keyboardActions = KeyboardActions(onDone = { c.act { c.pick.enterGrossWeight(weight) } }),
            )
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                Button(onClick = { c.act { c.pick.enterGrossWeight(weight) } }) { Text("Pack") }
                TextButton(onClick = { c.pick.cancelPack() }) { Text("Cancel") }
            }
        }
    }
}
