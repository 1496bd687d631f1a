package com.custody.app.ui.screens

import android.Manifest
import androidx.activity.compose.BackHandler
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
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.CardDefaults
import androidx.compose.material3.FilterChip
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.DisposableEffect
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.PackageDecision
import com.custody.app.state.RoutePackageRow
import com.custody.app.state.RouteState
import com.custody.app.state.StopRow
import com.custody.app.ui.ErrorText
import com.custody.app.ui.Title
import java.time.ZoneId
import java.time.format.DateTimeFormatter

private val AT = DateTimeFormatter.ofPattern("HH:mm").withZone(ZoneId.systemDefault())

/**
 * The driver's route: the manifests on this phone (cancelled ones last, marked with who cancelled
 * them and why), then the stops in order, departure (not offered on a cancelled route), and at a
 * stop the confirmation form (receiver, licence, each package delivered or refused with why) or
 * "not made" with a reason. The GPS position is taken when a stop is confirmed. Patient details
 * of a medical stop appear only after "Show patient details" (core logs each opening) and go
 * when the stop is left. State and decisions: RouteModel.
 */
@Composable
fun RouteScreen(c: AppContainer) {
    val state by c.route.state.collectAsStateWithLifecycle()
    // Back leaves the stop (and its patient), then the route, then the screen.
    BackHandler(enabled = state.routeId != null) {
        if (state.stop != null) c.route.leaveStop() else c.act { c.route.leave(); null }
    }

    // Location: asked for once on this screen; listened to only while it is open.
    val permission = rememberLauncherForActivityResult(ActivityResultContracts.RequestMultiplePermissions()) { c.gps.start() }
    LaunchedEffect(Unit) {
        if (!c.gps.permitted()) {
            permission.launch(arrayOf(Manifest.permission.ACCESS_FINE_LOCATION, Manifest.permission.ACCESS_COARSE_LOCATION))
        }
    }
    DisposableEffect(Unit) {
        c.gps.start()
        onDispose { c.gps.stop() }
    }

    val stop = state.openStop
    when {
        state.routeId == null -> RouteList(c, state)
        stop == null -> RouteStops(c, state)
        else -> StopDetail(c, state, stop)
    }
}

@Composable
private fun RouteList(c: AppContainer, state: RouteState) {
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("Routes")
        ErrorText(state.error)
        if (state.routes.isEmpty()) Text("No routes on this phone. A manager makes the manifest; sync to receive it.")
        OutlinedButton(onClick = { c.act { c.route.load(); null } }) { Text("Refresh") }
        LazyColumn(verticalArrangement = Arrangement.spacedBy(8.dp)) {
            // Cancelled routes come last (the model sorts them) and are marked: nobody loads them.
            items(state.routes, key = { it.id }) { row ->
                val colours = if (row.cancelled) {
                    CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.surfaceVariant)
                } else {
                    CardDefaults.cardColors()
                }
                Card(Modifier.fillMaxWidth(), colors = colours) {
                    Row(Modifier.padding(12.dp), verticalAlignment = Alignment.CenterVertically) {
                        Column(Modifier.weight(1f)) {
                            Text("Manifest ${row.number}", fontSize = 20.sp)
                            Text("${row.vehicle} · ${row.driver}")
                            Text("${row.finished} of ${row.stops} stops done · ${row.stateText}")
                            row.cancellation?.let { Text(it, color = MaterialTheme.colorScheme.error, fontWeight = FontWeight.Bold) }
                        }
                        Button(onClick = { c.act { c.route.open(row.id) } }) { Text("Open") }
                    }
                }
            }
        }
    }
}

@Composable
private fun RouteStops(c: AppContainer, state: RouteState) {
    Column(Modifier.padding(16.dp).fillMaxSize(), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Title("Manifest ${state.number}")
        Text("${state.vehicle} · ${state.driver}")
        Text(state.progress + (state.departedAt?.let { " · departed ${AT.format(it)}" } ?: ""), fontWeight = FontWeight.Bold)
        val cancellation = state.cancellation
        if (cancellation != null) CancelledCard(cancellation) else Text(state.prompt, style = MaterialTheme.typography.titleMedium)
        ErrorText(state.error)
        // Not offered on a cancelled route: core would refuse it ("do not load it").
        if (state.canDepart) Button(onClick = { c.act { c.route.depart() } }) { Text("Depart") }
        LazyColumn(Modifier.weight(1f), verticalArrangement = Arrangement.spacedBy(8.dp)) {
            items(state.stops) { stop ->
                Card(Modifier.fillMaxWidth().clickable { c.route.openStop(stop.number) }) {
                    Column(Modifier.padding(12.dp)) {
                        Text("${stop.number}. ${stop.recipient}", fontSize = 20.sp)
                        Text(stop.address)
                        Text("Expected ${AT.format(stop.estimatedArrival)} · ${stop.packages.size} packages · order ${stop.orderNumber}")
                        // The reference only: patient details are opened at the stop, on a tap.
                        stop.patientRef?.let { Text("Medical · patient $it") }
                        Text(stop.stateText, fontWeight = FontWeight.Bold)
                    }
                }
            }
        }
        OutlinedButton(onClick = { c.act { c.route.leave(); null } }) { Text("Back to the routes") }
    }
}

@Composable
private fun StopDetail(c: AppContainer, state: RouteState, stop: StopRow) {
    Column(
        Modifier.padding(16.dp).fillMaxSize().verticalScroll(rememberScrollState()),
        verticalArrangement = Arrangement.spacedBy(8.dp),
    ) {
        Title("Stop ${stop.number}: ${stop.recipient}")
        Text(stop.address)
        Text("Licence ${stop.licence} · order ${stop.orderNumber} · expected ${AT.format(stop.estimatedArrival)}")
        if (stop.plannedRoute.isNotBlank()) Text("Route: ${stop.plannedRoute}")
        if (stop.medical && !state.cancelled) PatientCard(c, state, stop)

        state.cancellation?.let { CancelledCard(it) }
        if (!state.canRecordStop) {
            Text(stop.stateText, style = MaterialTheme.typography.titleMedium)
            stop.packages.forEach { PackageOutcomeRow(it) }
            OutlinedButton(onClick = { c.route.leaveStop() }) { Text("Back to the route") }
            return@Column
        }

        Text(state.prompt, style = MaterialTheme.typography.titleMedium)
        Field("Receiver's name", state.form.receiverName) { c.route.editForm(receiverName = it) }
        Field("Receiver's licence number", state.form.receiverLicence) { c.route.editForm(receiverLicence = it) }
        Text("Packages", style = MaterialTheme.typography.titleSmall)
        state.form.decisions.forEach { d -> DecisionRow(c, d, stop.packages.firstOrNull { it.tag == d.tag }) }
        Button(onClick = { c.act { c.route.confirmStop() } }, modifier = Modifier.fillMaxWidth()) { Text("Confirm delivery") }

        HorizontalDivider(Modifier.padding(vertical = 8.dp))
        Text("Stop cannot be made", style = MaterialTheme.typography.titleSmall)
        Field("Why (closed, nobody to receive it...)", state.form.failReason) { c.route.editForm(failReason = it) }
        OutlinedButton(onClick = { c.act { c.route.failStop() } }) { Text("Record the stop as not made") }
        TextButton(onClick = { c.route.leaveStop() }) { Text("Back to the route") }
    }
}

/** The manager's cancellation of the open route, where the driver cannot miss it. */
@Composable
private fun CancelledCard(text: String) {
    Card(Modifier.fillMaxWidth(), colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.errorContainer)) {
        Text(text, Modifier.padding(12.dp), fontWeight = FontWeight.Bold, color = MaterialTheme.colorScheme.onErrorContainer)
    }
}

@Composable
private fun PatientCard(c: AppContainer, state: RouteState, stop: StopRow) {
    Card(Modifier.fillMaxWidth(), colors = CardDefaults.cardColors(containerColor = MaterialTheme.colorScheme.secondaryContainer)) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text("Medical delivery · patient ${stop.patientRef}", fontWeight = FontWeight.Bold)
            val patient = state.patient
            if (patient == null) {
                OutlinedButton(onClick = { c.act { c.route.showPatient() } }) { Text("Show patient details") }
                Text("Opening them is logged with your name.", style = MaterialTheme.typography.bodySmall)
            } else {
                Text(patient.name, fontSize = 20.sp)
                Text("Card ${patient.cardNumber}")
                Text(patient.address)
                Text(patient.phone)
                TextButton(onClick = { c.route.hidePatient() }) { Text("Hide") }
            }
        }
    }
}

@Composable
private fun DecisionRow(c: AppContainer, d: PackageDecision, pkg: RoutePackageRow?) {
    Card(Modifier.fillMaxWidth()) {
        Column(Modifier.padding(12.dp), verticalArrangement = Arrangement.spacedBy(4.dp)) {
            Text(d.item, fontWeight = FontWeight.Bold)
            Text(d.tag + (pkg?.let { " · ${it.quantity} · container ${it.container}" } ?: ""))
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                FilterChip(selected = !d.refused, onClick = { c.route.setRefused(d.tag, false) }, label = { Text("Delivered") })
                FilterChip(selected = d.refused, onClick = { c.route.setRefused(d.tag, true) }, label = { Text("Refused") })
            }
            if (d.refused) {
                OutlinedTextField(
                    value = d.reason,
                    onValueChange = { c.route.editReason(d.tag, it) },
                    label = { Text("Why the receiver refused it") },
                    isError = d.reasonMissing,
                    supportingText = if (d.reasonMissing) ({ Text("A reason is needed") }) else null,
                    singleLine = true,
                    modifier = Modifier.fillMaxWidth(),
                )
            }
        }
    }
}

@Composable
private fun PackageOutcomeRow(p: RoutePackageRow) {
    Column(Modifier.fillMaxWidth().padding(vertical = 4.dp)) {
        Text("${p.item} · ${p.quantity}")
        Text("${p.tag} · ${p.outcomeText}")
    }
}
