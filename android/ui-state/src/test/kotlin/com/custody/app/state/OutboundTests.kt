package com.custody.app.state

import com.custody.core.types.CustodyException
import com.custody.core.Gps
import com.custody.core.types.Quantity
import com.custody.core.types.DeliveryOutcome
import com.custody.core.types.DeviceIdentity
import com.custody.core.types.OrderStatus
import com.custody.core.types.PatientDetails
import com.custody.core.types.Role
import com.custody.core.types.SignedInUser
import com.custody.core.types.StopState
import com.custody.core.types.UnitOfMeasure
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

private const val ORDER = "0190f0e0-0000-7000-8000-0000000000a1"
private const val OPEN_ORDER = "0190f0e0-0000-7000-8000-0000000000a2"
private const val T1 = "1A4FF0100000000000000011" // whole package, line 1
private const val T2 = "1A4FF0100000000000000012" // split source, line 2
private const val T2_NEW = "1A4FF0100000000000000099" // the new tag of the split
private const val T3 = "1A4FF0100000000000000013" // same item as line 1, not allocated
private const val T4 = "1A4FF0100000000000000014" // not on any list

private const val MANIFEST = "0190f0e0-0000-7000-8000-0000000000b1"
private const val R1 = "1A4FF0100000000000000021"
private const val R2 = "1A4FF0100000000000000022"
private const val R3 = "1A4FF0100000000000000023"
private const val R4 = "1A4FF0100000000000000024"
private const val CANCELLED_MANIFEST = "0190f0e0-0000-7000-8000-0000000000b0"
private const val R5 = "1A4FF0100000000000000025"

private fun wedge(text: String) = Scan(text, ScanSource.WEDGE)

private val MARIA = SignedInUser("user-maria", "Maria Floor", Role.FLOOR_STAFF)
private val DANA = SignedInUser("user-dana", "Dana Driver", Role.DRIVER)

fun pickTests() = "pick" to Tests("pick and pack").apply {
    fun setUp(): Pair<FakeApi, PickModel> {
        val api = FakeApi().apply { user = MARIA }
        api.pickLists[ORDER] = com.custody.core.PickList(
            order = FakeApi.order(ORDER, "SO-1001", OrderStatus.ALLOCATED, patientRef = "J.D., card ...1234", lines = 2),
            lines = listOf(
                FakeApi.pickLine(1, T1, "Pre-roll 5-pack", Quantity("1", UnitOfMeasure.EACH)),
                FakeApi.pickLine(2, T2, "Flower - OG Kush", Quantity("3.5", UnitOfMeasure.G), location = "Vault B / Shelf 2", splitInto = T2_NEW),
            ),
            pickedTwice = emptyList(),
            containers = emptyList(),
        )
        api.pickLists[OPEN_ORDER] = com.custody.core.PickList(
            order = FakeApi.order(OPEN_ORDER, "SO-1002", OrderStatus.OPEN),
            lines = emptyList(),
            pickedTwice = emptyList(),
            containers = emptyList(),
        )
        api.shelf[T3] = "Pre-roll 5-pack"
        return api to PickModel(api)
    }

    test("the order list shows a medical order's patient only as its reference; no scan before an order") {
        val (api, model) = setUp()
        model.loadOrders()
        val rows = model.state.value.orders
        assertEquals(listOf("SO-1001", "SO-1002"), rows.map { it.number })
        assertEquals("J.D., card ...1234", rows[0].patientRef)
        assertEquals("To pick and pack", rows[0].statusText)
        assertEquals("Waiting for a pick list", rows[1].statusText)
        assertEquals("Choose an order first.", model.onScan(wedge(T1)).message)
        assertTrue(api.pickCalls.isEmpty())
        assertTrue(api.patientCalls.isEmpty(), "a pick list never opens patient data")
    }

    test("a pick scan is green with what is left; the line shows who picked it") {
        val (api, model) = setUp()
        assertTrue(model.open(ORDER).isGreen)
        assertEquals("0 of 2 picked · 0 packed", model.state.value.progress)
        assertEquals("Scan each package on the list", model.state.value.prompt)
        val f = model.onScan(wedge(T1.lowercase() + "\r"))
        assertEquals("Picked Pre-roll 5-pack: $T1, 1 each; 1 more to pick", f.message)
        assertEquals(FakeApi.PickCall(ORDER, T1, null), api.pickCalls.single())
        val line = model.state.value.lines.first()
        assertEquals("Maria Floor", line.pickedBy)
        assertEquals("1 of 2 picked · 0 packed", model.state.value.progress)
    }

    test("a wrong-package scan shows core's refusal sentence and changes nothing") {
        val (api, model) = setUp()
        model.open(ORDER)
        val before = model.state.value.lines
        val f = model.onScan(wedge(T3))
        assertEquals(Signal.RED, f.signal)
        assertEquals(
            "$T3 is not the package allocated: the pick list says $T1 (Vault A / Shelf 1); take that one, or ask a manager to approve a substitute",
            f.message,
        )
        assertEquals(f, model.state.value.feedback)
        assertEquals(before, model.state.value.lines)
        assertNull(model.state.value.awaitingWeight)
        assertNull(model.state.value.awaitingPack)
        assertTrue(api.pickLists[ORDER]!!.lines.none { it.pickedTag != null })
        val other = model.onScan(wedge(T4))
        assertEquals("$T4 is not on this pick list; put it back", other.message)
        assertEquals(before, model.state.value.lines)
    }

    test("a shelf label or garbage goes to core, which says why; nothing changes") {
        val (_, model) = setUp()
        model.open(ORDER)
        val label = model.onScan(wedge("LOC:Vault A / Shelf 1"))
        assertEquals(Signal.RED, label.signal)
        assertEquals("that is not a package tag; scan the package's Metrc tag", label.message)
        assertTrue(model.onScan(wedge("1A4")).message.contains("exactly 24"))
        assertEquals(0, model.state.value.pickedCount)
    }

    test("a split line asks for the weight before picking; a wrong weight is red and keeps it waiting") {
        val (api, model) = setUp()
        model.open(ORDER)
        val ask = model.onScan(wedge(T2))
        assertTrue(ask.isGreen, ask.message)
        assertTrue(ask.message.contains("weigh out 3.5 g"), ask.message)
        assertTrue(ask.message.contains(T2_NEW), ask.message)
        val awaiting = assertNotNull(model.state.value.awaitingWeight)
        assertEquals(T2, awaiting.tag)
        assertEquals(UnitOfMeasure.G, awaiting.unit)
        assertTrue(api.pickCalls.isEmpty(), "nothing is picked before the weight")

        val wrong = model.enterWeight("3.4")
        assertEquals(Signal.RED, wrong.signal)
        assertEquals("$T2: the pick list needs 3.5 g, not 3.4 g", wrong.message)
        assertNotNull(model.state.value.awaitingWeight, "a refused weight keeps the package waiting")
        assertEquals(0, model.state.value.pickedCount)

        // A scale in wedge mode types the weight like a scan.
        val right = model.onScan(wedge("3.5 g\r"))
        assertTrue(right.isGreen, right.message)
        assertEquals("Picked Flower - OG Kush: $T2_NEW (split from $T2), 3.5 g; 1 more to pick", right.message)
        assertEquals(Quantity("3.5", UnitOfMeasure.G), api.pickCalls.last().quantity)
        assertNull(model.state.value.awaitingWeight)
        assertEquals(T2_NEW, model.state.value.lines.single { it.line == 2 }.pickedTag)
    }

    test("scanning on while a weight is awaited drops the wait; a bad amount is red") {
        val (api, model) = setUp()
        model.open(ORDER)
        model.onScan(wedge(T2))
        assertEquals(Signal.RED, model.enterWeight("abc").signal)
        assertNotNull(model.state.value.awaitingWeight)
        assertTrue(model.onScan(wedge(T1)).isGreen)
        assertNull(model.state.value.awaitingWeight)
        assertEquals(listOf(T1), api.pickCalls.map { it.raw })
    }

    test("packing: a picked package needs the container number, then its gross weight") {
        val (api, model) = setUp()
        model.open(ORDER)
        model.onScan(wedge(T1))
        val noBox = model.onScan(wedge(T1))
        assertEquals(Signal.RED, noBox.signal)
        assertTrue(noBox.message.startsWith("Pre-roll 5-pack is picked. Type the container number"), noBox.message)
        assertNull(model.state.value.awaitingPack)

        model.editContainer(" 1 ")
        val ask = model.onScan(wedge(T1))
        assertTrue(ask.isGreen, ask.message)
        assertEquals(AwaitingPack(T1, "Pre-roll 5-pack", "1"), model.state.value.awaitingPack)
        assertTrue(api.packCalls.isEmpty())
        val packed = model.enterGrossWeight("120.5")
        assertEquals("Pre-roll 5-pack in container 1 (120.5 g gross)", packed.message)
        assertEquals(FakeApi.PackCall(ORDER, T1, "1", Quantity("120.5", UnitOfMeasure.G)), api.packCalls.single())
        assertEquals("1", model.state.value.lines.first().container)
        assertEquals("1 of 2 picked · 1 packed", model.state.value.progress)

        // Packed again into another container: the screen says it moves.
        model.editContainer("2")
        model.onScan(wedge(T1))
        assertEquals("Already in container 1: this moves it to 2.", model.state.value.awaitingPack?.note)
    }

    test("the checklist is core's packing check, read with the order; Finish is offered once it is empty") {
        val (api, model) = setUp()
        model.open(ORDER)
        assertEquals(listOf("$T1 (Vault A / Shelf 1) not picked", "$T2 (Vault B / Shelf 2) not picked"), model.state.value.missing)
        assertFalse(model.state.value.canFinish)
        model.onScan(wedge(T1))
        assertEquals(listOf("$T2 (Vault B / Shelf 2) not picked", "$T1 not in a container"), model.state.value.missing)
        assertFalse(model.state.value.canFinish)
        assertEquals(0, api.finishCalls, "the checklist never runs the final check")

        // Pressed anyway (the screen does not offer it): core's refusal, as it is, and the checklist.
        val refused = model.finish()
        assertEquals(Signal.RED, refused.signal)
        assertEquals("packing is not finished: $T2 (Vault B / Shelf 2) not picked; $T1 not in a container", refused.message)
        assertEquals(listOf("$T2 (Vault B / Shelf 2) not picked", "$T1 not in a container"), model.state.value.missing)
        assertEquals(OrderStatus.ALLOCATED, model.state.value.status)

        model.onScan(wedge(T2))
        model.enterWeight("3.5")
        model.editContainer("1")
        model.onScan(wedge(T1))
        model.enterGrossWeight("120")
        model.onScan(wedge(T2_NEW))
        assertEquals(listOf("$T2_NEW not in a container"), model.state.value.missing)
        model.enterGrossWeight("9.1")
        assertEquals("Everything is packed: finish packing", model.state.value.prompt)
        assertEquals(emptyList(), model.state.value.missing)
        assertTrue(model.state.value.canFinish)
        val done = model.finish()
        assertTrue(done.isGreen, done.message)
        assertEquals("Order SO-1001 packed: 1 container, ready for a manifest", done.message)
        assertEquals(listOf(ContainerRow("1", listOf(T1, T2_NEW))), model.state.value.containers)
        assertEquals(OrderStatus.PACKED, model.state.value.status)
        assertTrue(model.state.value.missing.isEmpty())
        assertFalse(model.state.value.canFinish, "a packed order is finished")
        assertEquals(2, api.finishCalls)

        // A packed order has no checklist; finishing it again is core's refusal.
        val checks = api.packingChecks
        model.open(ORDER)
        assertEquals(checks, api.packingChecks)
        assertEquals("order SO-1001 is packed; there is nothing to pack", model.finish().message)
        assertTrue(model.state.value.missing.isEmpty())
    }

    test("a packing check that cannot be read leaves Finish offered; core's final check answers in its words") {
        val (api, model) = setUp()
        api.packingCheckFailure = CustodyException.Storage("the database on this device could not be read; restart the app")
        model.open(ORDER)
        assertTrue(model.state.value.missing.isEmpty())
        assertTrue(model.state.value.canFinish)
        assertNull(model.state.value.error)
        val refused = model.finish()
        assertEquals(Signal.RED, refused.signal)
        assertEquals("packing is not finished: $T1 (Vault A / Shelf 1) not picked; $T2 (Vault B / Shelf 2) not picked", refused.message)
        api.packingCheckFailure = null
        model.reload()
        assertEquals(2, model.state.value.missing.size)
        assertFalse(model.state.value.canFinish)
    }

    test("an order without a pick list: a floor worker is refused by core; a manager makes it") {
        val (api, model) = setUp()
        model.loadOrders()
        val refused = model.generate(OPEN_ORDER)
        assertEquals(Signal.RED, refused.signal)
        assertEquals("floor staff may not allocate stock; ask a manager", refused.message)
        api.user = SignedInUser("user-sam", "Sam Manager", Role.MANAGER)
        assertTrue(model.generate(OPEN_ORDER).isGreen)
        assertEquals(OrderStatus.ALLOCATED, model.state.value.status)
        assertEquals("To pick and pack", model.state.value.orders.single { it.id == OPEN_ORDER }.statusText)
    }

    test("navigation: pick & pack for floor staff, the route for a driver; scans reach the pick list") {
        val identity = DeviceIdentity("device-1", "C11-0000001-LIC", "Green Valley Distribution", "https://custody.example.com")
        val (_, model) = setUp()
        val nav = Navigator().apply { start(identity, MARIA) }
        assertFalse(nav.open(Screen.ROUTE))
        assertTrue(nav.open(Screen.PICK))
        model.open(ORDER)
        val router = ScanRouter(nav, mapOf(Screen.PICK to model))
        assertTrue(router.route(wedge(T1)).isGreen)
        nav.start(identity, DANA)
        assertFalse(nav.open(Screen.PICK))
        assertTrue(nav.open(Screen.ROUTE))
        assertEquals(Signal.RED, router.route(wedge(T1)).signal, "the route screen takes no scans")
    }
}

fun routeTests() = "route" to Tests("driver's route").apply {
    val patient = PatientDetails("Jane Doe", "MMJ-55501234", "9 Oak Ave, Davis", "555-0100")
    val fix = Gps("38.544907", "-121.740517", "8")

    fun setUp(departed: Boolean = true, gps: Gps? = fix): Triple<FakeApi, RouteModel, MutableList<Int>> {
        val api = FakeApi().apply { user = DANA }
        // Stored out of order: the screen shows them in route order.
        api.routes[MANIFEST] = FakeApi.route(
            MANIFEST,
            listOf(
                FakeApi.stop(2, "order-2", "Davis Wellness", listOf(FakeApi.routePackage(R3, "Tincture 30 ml")), patientRef = "J.D., card ...1234"),
                FakeApi.stop(1, "order-1", "Green Leaf Dispensary", listOf(FakeApi.routePackage(R1, "Pre-roll 5-pack"), FakeApi.routePackage(R2, "Flower - OG Kush 3.5 g"))),
                FakeApi.stop(3, "order-3", "Capitol Cannabis", listOf(FakeApi.routePackage(R4, "Vape 1 g"))),
            ),
            departed = departed,
        )
        api.patients["order-2"] = patient
        val asked = mutableListOf<Int>()
        val model = RouteModel(api) { asked += 1; gps }
        return Triple(api, model, asked)
    }

    test("the route shows its stops in order with their state; patients only as references") {
        val (api, model, _) = setUp()
        model.load()
        val row = model.state.value.routes.single()
        assertEquals("M-0042", row.number)
        assertEquals("Ford Transit · 8ABC123", row.vehicle)
        assertEquals(3, row.stops)
        assertTrue(model.open(MANIFEST).isGreen)
        val stops = model.state.value.stops
        assertEquals(listOf(1, 2, 3), stops.map { it.number })
        assertEquals(listOf("Green Leaf Dispensary", "Davis Wellness", "Capitol Cannabis"), stops.map { it.recipient })
        assertTrue(stops.all { it.stateText == "To deliver" })
        assertEquals("J.D., card ...1234", stops[1].patientRef)
        assertTrue(stops[1].medical)
        assertEquals("0 of 3 stops done", model.state.value.progress)
        assertEquals("Open the next stop", model.state.value.prompt)
        model.openStop(2)
        assertNull(model.state.value.patient)
        assertTrue(api.patientCalls.isEmpty(), "listing and opening stops never opens patient data")
        assertFalse(model.state.value.toString().contains("Jane"))
    }

    test("depart ships every package; departing again is core's refusal") {
        val (_, model, _) = setUp(departed = false)
        model.open(MANIFEST)
        assertEquals("Load the truck, then depart", model.state.value.prompt)
        val f = model.depart()
        assertEquals("Departed: 4 packages on the road", f.message)
        assertTrue(model.state.value.departed)
        val again = model.depart()
        assertEquals(Signal.RED, again.signal)
        assertTrue(again.message.startsWith("this manifest departed at"), again.message)
    }

    test("a cancelled route: marked with who and why, listed after the active ones, not offered for departure") {
        val (api, model, _) = setUp(departed = false)
        val vanSwap = com.custody.core.Cancelled("van swap", "Sam Manager", java.time.Instant.parse("2026-12-01T07:30:00Z"))
        // Core lists the cancelled one first here: the list must still put it last.
        val active = api.routes.remove(MANIFEST)!!
        api.routes[CANCELLED_MANIFEST] = FakeApi.route(
            CANCELLED_MANIFEST,
            listOf(FakeApi.stop(1, "order-9", "Capitol Cannabis", listOf(FakeApi.routePackage(R5, "Gummies 10-pack")))),
            number = "M-0041",
            cancelled = vanSwap,
        )
        api.routes[MANIFEST] = active
        model.load()
        val rows = model.state.value.routes
        assertEquals(listOf(MANIFEST, CANCELLED_MANIFEST), rows.map { it.id }, "active routes first")
        assertFalse(rows[0].cancelled)
        assertNull(rows[0].cancellation)
        assertEquals("not departed", rows[0].stateText)
        assertTrue(rows[1].cancelled)
        assertEquals("Cancelled by Sam Manager: van swap — do not load", rows[1].cancellation)
        assertEquals("cancelled", rows[1].stateText)

        assertTrue(model.open(CANCELLED_MANIFEST).isGreen, "it can still be looked at")
        val s = model.state.value
        assertTrue(s.cancelled)
        assertTrue(s.closed)
        assertFalse(s.canDepart, "a cancelled route is not offered for departure")
        assertEquals("Cancelled by Sam Manager: van swap — do not load", s.cancellation)
        assertEquals("Cancelled by Sam Manager: van swap — do not load", s.prompt)
        assertEquals(RouteModel.NOT_GOING, s.stops.single().stateText)
        assertEquals("Not loaded: the route was cancelled", s.stops.single().packages.single().outcomeText)

        // Should Depart be pressed anyway, core's refusal is shown as it is; nothing departs.
        val refused = model.depart()
        assertEquals(Signal.RED, refused.signal)
        assertEquals("manifest M-0041 was cancelled by Sam Manager (van swap); do not load it", refused.message)
        assertNull(model.state.value.departedAt)
        assertNull(api.routes[CANCELLED_MANIFEST]!!.departedAt)

        // Its stop opens to be read, with no form to confirm or fail.
        assertTrue(model.openStop(1).isGreen)
        assertFalse(model.state.value.canRecordStop)
        assertTrue(model.state.value.form.decisions.isEmpty())
        assertEquals("Cancelled by Sam Manager: van swap — do not load", model.state.value.prompt)
        model.reload()
        assertEquals(1, model.state.value.stop, "a sync leaves a stop of a route already cancelled open to be read")

        model.leave()
        assertTrue(model.open(MANIFEST).isGreen)
        assertNull(model.state.value.cancellation)
        assertTrue(model.state.value.canDepart)
        assertEquals("Load the truck, then depart", model.state.value.prompt)
    }

    test("a route cancelled while it is open: a sync closes the open stop and its patient, and Depart goes") {
        val (api, model, _) = setUp(departed = false)
        model.open(MANIFEST)
        model.openStop(2)
        assertTrue(model.showPatient().isGreen)
        assertTrue(model.state.value.canRecordStop)
        val cancelled = com.custody.core.Cancelled("customer closed today", "Sam Manager", java.time.Instant.parse("2026-12-01T07:45:00Z"))
        api.routes[MANIFEST] = api.routes[MANIFEST]!!.copy(closed = true, cancelled = cancelled)
        model.reload()
        val s = model.state.value
        assertNull(s.stop, "the open stop closes")
        assertNull(s.patient, "and its patient with it")
        assertFalse(s.canDepart)
        assertEquals("Cancelled by Sam Manager: customer closed today — do not load", s.prompt)
        assertTrue(s.stops.all { it.stateText == RouteModel.NOT_GOING })
    }

    test("core refuses a departure with a package that already left on another manifest: shown as it is") {
        val (api, model, _) = setUp(departed = false)
        model.open(MANIFEST)
        api.departFailure = CustodyException.Refused("$R2 already left on another manifest; ask the office to cancel manifest M-0042")
        val f = model.depart()
        assertEquals(Signal.RED, f.signal)
        assertEquals("$R2 already left on another manifest; ask the office to cancel manifest M-0042", f.message)
        assertFalse(model.state.value.departed)
        assertTrue(model.state.value.canDepart, "still offered: the office may re-plan, and core decides")
    }

    test("confirming with a refused package requires a reason; nothing is sent until it has one") {
        val (api, model, asked) = setUp()
        model.open(MANIFEST)
        model.openStop(1)
        assertEquals(listOf(R1, R2), model.state.value.form.decisions.map { it.tag })
        assertTrue(model.state.value.form.decisions.none { it.refused }, "every package is delivered until marked refused")
        model.editForm(receiverName = "Lee Park", receiverLicence = "C10-0000123-LIC")
        model.setRefused(R2, true)
        val f = model.confirmStop()
        assertEquals(Signal.RED, f.signal)
        assertEquals("Say why the receiver refused Flower - OG Kush 3.5 g ($R2).", f.message)
        assertTrue(model.state.value.form.decisions.single { it.tag == R2 }.reasonMissing)
        assertFalse(model.state.value.form.decisions.single { it.tag == R1 }.reasonMissing)
        assertTrue(api.confirmations.isEmpty())
        assertTrue(asked.isEmpty(), "no GPS fix is taken for a confirmation that is not sent")
        assertEquals(1, model.state.value.stop, "the stop stays open to fix it")

        model.editReason(R2, " seal broken ")
        assertFalse(model.state.value.form.decisions.single { it.tag == R2 }.reasonMissing)
        val ok = model.confirmStop()
        assertTrue(ok.isGreen, ok.message)
        assertEquals("Stop 1 confirmed: 1 delivered, 1 refused (keep them for return check-in) (GPS ±8 m)", ok.message)
        val (stop, sent) = api.confirmations.single()
        assertEquals(1u, stop)
        assertEquals("Lee Park", sent.receiverName)
        assertEquals("C10-0000123-LIC", sent.receiverLicence)
        assertEquals(listOf(com.custody.core.RefusedPackage(R2, "seal broken")), sent.refused)
        assertEquals(fix, sent.gps)
        assertNull(model.state.value.stop, "back to the route after confirming")
        val done = model.state.value.stops.first()
        assertEquals(StopState.DONE, done.state)
        assertEquals("Delivered to Lee Park (licence C10-0000123-LIC)", done.stateText)
        assertEquals(listOf(DeliveryOutcome.DELIVERED, DeliveryOutcome.REFUSED), done.packages.map { it.outcome })
        assertEquals("Refused: seal broken; bring it back", done.packages[1].outcomeText)
        assertEquals("1 of 3 stops done", model.state.value.progress)
    }

    test("a refused package marked delivered again needs no reason; core checks the receiver") {
        val (api, model, _) = setUp()
        model.open(MANIFEST)
        model.openStop(3)
        model.setRefused(R4, true)
        model.setRefused(R4, false)
        val f = model.confirmStop()
        assertEquals("enter the receiver's name and licence number", f.message)
        model.editForm(receiverName = "Ana", receiverLicence = "C10-0000003-LIC")
        assertEquals("Stop 3 confirmed: 1 delivered (GPS ±8 m)", model.confirmStop().message)
        assertTrue(api.confirmations.single().second.refused.isEmpty())
    }

    test("fail a stop: the reason is core's to require; recorded without a GPS fix when there is none") {
        val (api, model, _) = setUp(gps = null)
        model.open(MANIFEST)
        model.openStop(3)
        val none = model.failStop()
        assertEquals(Signal.RED, none.signal)
        assertEquals("say why: a reason is needed", none.message)
        model.editForm(failReason = "closed, nobody answered")
        val f = model.failStop()
        assertEquals("Stop 3 recorded as not made; bring its 1 package back (no GPS fix)", f.message)
        assertEquals(Triple(3u, "closed, nobody answered", null as Gps?), api.failedStops.single())
        val failed = model.state.value.stops.last()
        assertEquals(StopState.FAILED, failed.state)
        assertEquals("Not made: closed, nobody answered", failed.stateText)
    }

    test("not departed: confirming is core's refusal") {
        val (_, model, _) = setUp(departed = false)
        model.open(MANIFEST)
        model.openStop(1)
        model.editForm(receiverName = "Lee", receiverLicence = "L-1")
        assertEquals("the route has not departed; start it first", model.confirmStop().message)
    }

    test("patient details are fetched only on tap, for the open stop, and cleared on leaving it") {
        val (api, model, _) = setUp()
        model.load()
        model.open(MANIFEST)
        model.openStop(2)
        model.reload()
        assertTrue(api.patientCalls.isEmpty())

        val f = model.showPatient()
        assertTrue(f.isGreen, f.message)
        assertEquals(patient, model.state.value.patient)
        val (order, purpose) = api.patientCalls.single()
        assertEquals("order-2", order)
        assertTrue(purpose.contains("stop 2 of manifest M-0042"), purpose)
        assertFalse(model.state.value.toString().contains("Jane"), "patient details are never printed with the state")

        model.reload() // a sync came in: the details stay, core is not asked again
        assertEquals(patient, model.state.value.patient)
        assertEquals(1, api.patientCalls.size)

        model.leaveStop()
        assertNull(model.state.value.patient)
        model.openStop(2)
        assertNull(model.state.value.patient, "opening the stop again does not fetch them")
        model.showPatient()
        model.openStop(1)
        assertNull(model.state.value.patient, "another stop never shows this patient")
        model.openStop(2)
        model.showPatient()
        model.leave()
        assertNull(model.state.value.patient)
        assertEquals(3, api.patientCalls.size)
    }

    test("a stop that is not medical has no patient; someone not allowed gets core's refusal") {
        val (api, model, _) = setUp()
        model.open(MANIFEST)
        model.openStop(1)
        val none = model.showPatient()
        assertEquals(Signal.RED, none.signal)
        assertTrue(api.patientCalls.isEmpty(), "no call for a stop without a patient")
        api.user = MARIA
        model.openStop(2)
        val refused = model.showPatient()
        assertEquals("floor staff may not see patient details; ask a manager", refused.message)
        assertNull(model.state.value.patient)
    }

    test("a stop confirmed on another phone closes here, with its patient") {
        val (api, model, _) = setUp()
        model.open(MANIFEST)
        model.openStop(2)
        model.showPatient()
        api.confirmStop(MANIFEST, 2u, com.custody.core.StopConfirmation("Jo", "L-2", emptyList(), null))
        model.reload()
        assertNull(model.state.value.stop)
        assertNull(model.state.value.patient)
        assertEquals(StopState.DONE, model.state.value.stops[1].state)
    }
}
