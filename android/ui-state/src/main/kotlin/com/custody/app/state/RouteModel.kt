package com.custody.app.state

import com.custody.core.Cancelled
import com.custody.core.Gps
import com.custody.core.types.Quantity
import com.custody.core.RefusedPackage
import com.custody.core.Route
import com.custody.core.RouteStop
import com.custody.core.StopConfirmation
import com.custody.core.types.DeliveryOutcome
import com.custody.core.types.PatientDetails
import com.custody.core.types.StopState
import com.custody.core.unitSymbol
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import java.time.Instant

/**
 * Where the phone is, for the record of a stop. Android's location services in the app; a fixed
 * answer in tests. Null when there is no fix (or no permission): the stop is recorded without a
 * position rather than held up, since deliveries happen where reception is poor.
 */
fun interface GpsProvider {
    fun current(): Gps?
}

/** A manifest in the list. */
data class RouteRow(
    val id: String,
    val number: String,
    val driver: String,
    /** "Ford Transit · 8ABC123". */
    val vehicle: String,
    val departed: Boolean,
    val closed: Boolean,
    val stops: Int,
    /** Stops confirmed or failed. */
    val finished: Int,
    /** Cancelled by a manager before it left: "Cancelled by Sam Manager: van swap — do not load"; null otherwise. */
    val cancellation: String? = null,
) {
    val cancelled: Boolean get() = cancellation != null

    /** "cancelled", "closed", "on the road" or "not departed". */
    val stateText: String get() = when {
        cancelled -> "cancelled"
        closed -> "closed"
        departed -> "on the road"
        else -> "not departed"
    }
}

/** A package at a stop, with what became of it. */
data class RoutePackageRow(
    val tag: String,
    val item: String,
    val quantity: String,
    val container: String,
    val outcome: DeliveryOutcome,
    /** "Delivered", "Refused: damaged seal", "Back in the vault". */
    val outcomeText: String,
)

/** A stop, in route order. The patient of a medical order appears only as [patientRef]. */
data class StopRow(
    val number: Int,
    val orderId: String,
    val orderNumber: String,
    val recipient: String,
    val licence: String,
    val address: String,
    val patientRef: String?,
    val plannedRoute: String,
    val estimatedArrival: Instant,
    val state: StopState,
    /** "To deliver", "Delivered to J. Smith (licence ...)", "Not made: closed". */
    val stateText: String,
    val packages: List<RoutePackageRow>,
) {
    val pending: Boolean get() = state == StopState.PENDING
    val medical: Boolean get() = patientRef != null
}

/** The driver's decision for one package at the stop: delivered unless refused, with why. */
data class PackageDecision(
    val tag: String,
    val item: String,
    val refused: Boolean = false,
    val reason: String = "",
    /** Refused with no reason on the last try: the screen marks the field. */
    val reasonMissing: Boolean = false,
)

/** The confirmation form of the open stop. */
data class StopForm(
    val receiverName: String = "",
    val receiverLicence: String = "",
    val decisions: List<PackageDecision> = emptyList(),
    /** Why the stop could not be made (for "Stop not made"). */
    val failReason: String = "",
)

data class RouteState(
    val routes: List<RouteRow> = emptyList(),
    /** The open manifest, null on the list. */
    val routeId: String? = null,
    val number: String = "",
    val driver: String = "",
    val vehicle: String = "",
    val departedAt: Instant? = null,
    val closed: Boolean = false,
    /**
     * The open route was cancelled by a manager before it left: "Cancelled by Sam Manager: van
     * swap — do not load". Such a route is closed and is not offered for departure.
     */
    val cancellation: String? = null,
    val stops: List<StopRow> = emptyList(),
    /** The open stop's number, null on the route. */
    val stop: Int? = null,
    val form: StopForm = StopForm(),
    /**
     * The patient of the open stop, fetched only when the driver taps "Show patient details"
     * (every fetch is logged by core) and dropped when the stop is left.
     */
    val patient: PatientDetails? = null,
    val feedback: Feedback? = null,
    val prompt: String = "Choose a route",
    /** Loading failed: core's sentence. */
    val error: String? = null,
) {
    val departed: Boolean get() = departedAt != null
    val cancelled: Boolean get() = cancellation != null

    /** Depart is offered: a route is open, has not left, and was not cancelled (core decides the rest). */
    val canDepart: Boolean get() = routeId != null && !departed && !cancelled

    /** The open stop can be confirmed or failed: the route was not cancelled and the stop is pending. */
    val canRecordStop: Boolean get() = !cancelled && openStop?.pending == true

    val openStop: StopRow? get() = stop?.let { n -> stops.firstOrNull { it.number == n } }

    /** "2 of 5 stops done". */
    val progress: String get() = "${stops.count { !it.pending }} of ${stops.size} stops done"

    // Patient details never go into logs or crash reports through a printed state.
    override fun toString(): String =
        "RouteState(routeId=$routeId, number=$number, stop=$stop, stops=${stops.size}, patient=${if (patient == null) "none" else "shown"})"
}

/**
 * The driver's route: the manifests on this phone (a driver's phone holds only their own; routes
 * a manager cancelled listed last, marked with who cancelled them and why), the stops in route
 * order, departure (not offered on a cancelled route; core refuses it too), and at each stop the
 * confirmation: who received it (name and licence), each package delivered or refused with the
 * receiver's reason, the time and the GPS position. A stop that cannot be made is failed with a
 * reason; its packages stay on the truck for return check-in. Everything works offline and syncs
 * later.
 *
 * Patient details of a medical delivery are opened only on the driver's tap ([showPatient]):
 * core checks who may see them and logs every opening, so nothing here calls it to draw a list.
 * Leaving the stop forgets them.
 */
class RouteModel(
    private val api: CustodyApi,
    private val gps: GpsProvider = GpsProvider { null },
) {
    private val _state = MutableStateFlow(RouteState())
    val state: StateFlow<RouteState> = _state

    fun load() {
        try {
            // Core's order, except that cancelled routes go last: nobody loads them.
            val rows = api.manifests().map(::routeRow).sortedBy { it.cancelled }
            _state.value = _state.value.copy(routes = rows, error = null)
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
        }
    }

    fun open(manifestId: String): Feedback {
        return try {
            val route = api.route(manifestId)
            _state.value = RouteState(routes = _state.value.routes)
            show(route)
            Feedback.green("Route ${route.number}: ${route.stops.size} stops")
        } catch (e: Exception) {
            showFeedback(Feedback.error(e))
        }
    }

    /** Re-reads the open route (a sync came in); the open stop, its form and patient stay. */
    fun reload() {
        val id = _state.value.routeId ?: return load()
        try {
            show(api.route(id))
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
        }
    }

    /** Back to the list of routes. */
    fun leave() {
        _state.value = RouteState(routes = _state.value.routes)
        load()
    }

    /** Departure: every package on the manifest is shipped in the ledger. */
    fun depart(): Feedback {
        val id = _state.value.routeId ?: return showFeedback(Feedback.red("Choose a route first."))
        return try {
            val events = api.depart(id)
            reload()
            showFeedback(Feedback.green("Departed: ${packages(events.size)} on the road"))
        } catch (e: Exception) {
            showFeedback(Feedback.error(e))
        }
    }

    /**
     * Opens a stop with an empty confirmation form: every package delivered until marked refused.
     * On a cancelled route the stop is only shown, with no form.
     */
    fun openStop(number: Int): Feedback {
        val s = _state.value
        val stop = s.stops.firstOrNull { it.number == number }
            ?: return showFeedback(Feedback.red("This route has no stop $number."))
        _state.value = s.copy(
            stop = number,
            form = if (s.cancelled) StopForm() else StopForm(decisions = stop.packages.map { PackageDecision(it.tag, it.item) }),
            patient = null,
            prompt = promptFor(s, stop),
        )
        return Feedback.green("Stop $number: ${stop.recipient}")
    }

    /** Back to the route; patient details shown at this stop are forgotten. */
    fun leaveStop() {
        _state.value = _state.value.copy(stop = null, form = StopForm(), patient = null, prompt = routePrompt(_state.value))
    }

    fun editForm(receiverName: String? = null, receiverLicence: String? = null, failReason: String? = null) {
        val f = _state.value.form
        _state.value = _state.value.copy(
            form = f.copy(
                receiverName = receiverName ?: f.receiverName,
                receiverLicence = receiverLicence ?: f.receiverLicence,
                failReason = failReason ?: f.failReason,
            ),
        )
    }

    /** Marks a package refused by the receiver (or delivered again). */
    fun setRefused(tag: String, refused: Boolean) = updateDecision(tag) { it.copy(refused = refused, reasonMissing = false) }

    fun editReason(tag: String, reason: String) = updateDecision(tag) { it.copy(reason = reason, reasonMissing = false) }

    /**
     * Confirms the open stop. A refused package needs the receiver's reason, checked here first so
     * the screen can point at the empty field (core refuses it too); the name and licence are
     * core's to check.
     */
    fun confirmStop(): Feedback {
        val s = _state.value
        val id = s.routeId ?: return showFeedback(Feedback.red("Choose a route first."))
        val stop = s.openStop ?: return showFeedback(Feedback.red("Choose a stop first."))
        val unexplained = s.form.decisions.filter { it.refused && it.reason.isBlank() }
        if (unexplained.isNotEmpty()) {
            _state.value = s.copy(
                form = s.form.copy(decisions = s.form.decisions.map { d -> d.copy(reasonMissing = d.refused && d.reason.isBlank()) }),
            )
            val which = unexplained.joinToString(", ") { "${it.item} (${it.tag})" }
            return showFeedback(Feedback.red("Say why the receiver refused $which."))
        }
        val refused = s.form.decisions.filter { it.refused }.map { RefusedPackage(it.tag, it.reason.trim()) }
        val position = position()
        return try {
            api.confirmStop(
                id,
                stop.number.toUInt(),
                StopConfirmation(s.form.receiverName.trim(), s.form.receiverLicence.trim(), refused, position),
            )
            leaveStop()
            reload()
            val delivered = stop.packages.size - refused.size
            val what = if (refused.isEmpty()) "$delivered delivered" else "$delivered delivered, ${refused.size} refused (keep them for return check-in)"
            showFeedback(Feedback.green("Stop ${stop.number} confirmed: $what${gpsNote(position)}"))
        } catch (e: Exception) {
            showFeedback(Feedback.error(e))
        }
    }

    /** The stop could not be made: its packages stay on the truck. Core requires the reason. */
    fun failStop(): Feedback {
        val s = _state.value
        val id = s.routeId ?: return showFeedback(Feedback.red("Choose a route first."))
        val stop = s.openStop ?: return showFeedback(Feedback.red("Choose a stop first."))
        val position = position()
        return try {
            api.failStop(id, stop.number.toUInt(), s.form.failReason.trim(), position)
            leaveStop()
            reload()
            showFeedback(Feedback.green("Stop ${stop.number} recorded as not made; bring its ${packages(stop.packages.size)} back${gpsNote(position)}"))
        } catch (e: Exception) {
            showFeedback(Feedback.error(e))
        }
    }

    /**
     * The driver tapped "Show patient details" at a medical stop: one call to core, which checks
     * that this person may see them and logs the opening with [PURPOSE].
     */
    fun showPatient(): Feedback {
        val s = _state.value
        val stop = s.openStop ?: return showFeedback(Feedback.red("Choose a stop first."))
        if (!stop.medical) return showFeedback(Feedback.red("Stop ${stop.number} is not a medical delivery; there is no patient."))
        return try {
            val patient = api.patient(stop.orderId, "$PURPOSE, stop ${stop.number} of manifest ${s.number}")
            // The driver may have left the stop while core answered: show it only where asked.
            if (_state.value.stop == stop.number && _state.value.routeId == s.routeId) {
                _state.value = _state.value.copy(patient = patient)
            }
            Feedback.green("Patient details for order ${stop.orderNumber}")
        } catch (e: Exception) {
            showFeedback(Feedback.error(e))
        }
    }

    fun hidePatient() {
        _state.value = _state.value.copy(patient = null)
    }

    private fun position(): Gps? = try {
        gps.current()
    } catch (e: Exception) {
        null // no fix is not a reason to hold up a delivery
    }

    private fun updateDecision(tag: String, change: (PackageDecision) -> PackageDecision) {
        val f = _state.value.form
        _state.value = _state.value.copy(form = f.copy(decisions = f.decisions.map { if (it.tag == tag) change(it) else it }))
    }

    private fun show(route: Route) {
        val cancellation = route.cancelled?.let(::cancellationText)
        val stops = route.stops.sortedBy { it.number }.map { stopRow(it, cancelled = cancellation != null) }
        // A stop confirmed on another phone meanwhile closes the open stop, and so does the route
        // being cancelled meanwhile; a stop of a route already cancelled stays open to be read.
        val wasCancelled = _state.value.routeId == route.id && _state.value.cancelled
        val open = _state.value.stop?.takeIf { n ->
            stops.any { it.number == n && (if (cancellation == null) it.pending else wasCancelled) }
        }
        val next = _state.value.copy(
            routeId = route.id,
            number = route.number,
            driver = route.driverName,
            vehicle = vehicleText(route),
            departedAt = route.departedAt,
            closed = route.closed,
            cancellation = cancellation,
            stops = stops,
            error = null,
        )
        // The stop closes here, and its patient with it.
        _state.value = if (open == null && next.stop != null) {
            next.copy(stop = null, form = StopForm(), patient = null, prompt = routePrompt(next))
        } else {
            next.copy(prompt = next.openStop?.let { promptFor(next, it) } ?: routePrompt(next))
        }
    }

    private fun stopRow(s: RouteStop, cancelled: Boolean) = StopRow(
        number = s.number.toInt(),
        orderId = s.orderId,
        orderNumber = s.orderNumber,
        recipient = s.recipient.name,
        licence = s.recipient.licence,
        address = s.recipient.address,
        patientRef = s.patientRef,
        plannedRoute = s.plannedRoute,
        estimatedArrival = s.estimatedArrival,
        state = s.state,
        stateText = when (s.state) {
            StopState.PENDING -> if (cancelled) NOT_GOING else "To deliver"
            StopState.DONE -> "Delivered to ${s.receiverName ?: "?"} (licence ${s.receiverLicence ?: "?"})"
            StopState.FAILED -> "Not made: ${s.failedReason ?: ""}"
        },
        packages = s.packages.map { p ->
            RoutePackageRow(
                tag = p.tag,
                item = p.item,
                quantity = format(p.quantity),
                container = p.container,
                outcome = p.outcome,
                outcomeText = when (p.outcome) {
                    DeliveryOutcome.PENDING -> if (cancelled) "Not loaded: the route was cancelled" else "On the truck"
                    DeliveryOutcome.DELIVERED -> "Delivered"
                    DeliveryOutcome.REFUSED -> "Refused: ${p.reason ?: ""}; bring it back"
                    DeliveryOutcome.RETURNED -> "Back in the vault"
                },
            )
        },
    )

    private fun routeRow(r: Route) = RouteRow(
        id = r.id,
        number = r.number,
        driver = r.driverName,
        vehicle = vehicleText(r),
        departed = r.departedAt != null,
        closed = r.closed,
        stops = r.stops.size,
        finished = r.stops.count { it.state != StopState.PENDING },
        cancellation = r.cancelled?.let(::cancellationText),
    )

    private fun format(q: Quantity): String = try {
        api.formatQuantity(q)
    } catch (e: Exception) {
        "${q.amount} ${unitSymbol(q.unit)}"
    }

    private fun showFeedback(feedback: Feedback): Feedback {
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    companion object {
        /** Why patient details are opened, for core's access log. */
        const val PURPOSE = "delivery: driver checks the patient at the door"

        /** A pending stop of a cancelled route. */
        const val NOT_GOING = "Not going: the route was cancelled"

        private fun vehicleText(r: Route) = "${r.vehicle.make} ${r.vehicle.model} · ${r.vehicle.plate}"

        /** "Cancelled by Sam Manager: van swap — do not load". */
        fun cancellationText(c: Cancelled): String = "Cancelled by ${c.by}: ${c.reason} — do not load"

        fun routePrompt(s: RouteState): String = when {
            s.routeId == null -> "Choose a route"
            s.cancellation != null -> s.cancellation
            s.closed -> "Route closed: everything delivered or back in the vault"
            !s.departed -> "Load the truck, then depart"
            s.stops.all { !it.pending } -> "Every stop is done: bring refused packages back for check-in"
            else -> "Open the next stop"
        }

        fun promptFor(s: RouteState, stop: StopRow): String = when {
            s.cancellation != null -> s.cancellation
            stop.pending -> "Enter who received it; mark any package the receiver refused"
            else -> stop.stateText
        }

        private fun packages(n: Int) = if (n == 1) "1 package" else "$n packages"

        private fun gpsNote(gps: Gps?): String = if (gps == null) " (no GPS fix)" else " (GPS ±${gps.accuracyM} m)"
    }
}
