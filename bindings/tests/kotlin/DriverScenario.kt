// Outbound end to end through the generated Kotlin bindings against the real server: the office
// enters two orders (one a medical delivery), the floor picks (refusing a wrong package) and
// packs, the office builds a manifest, the driver runs the route with no signal, a package is
// refused at the last stop and checked back in on the floor. Mirrors tests/tests/outbound.rs.
package com.custody.tests

import com.custody.core.*
import com.custody.core.types.*
import com.custody.testing.SwitchableProxy
import java.math.BigDecimal
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.time.Instant
import java.time.LocalDate
import kotlin.test.*
import kotlinx.coroutines.runBlocking

private const val MANAGER = "M-100" // Sam, in the office
private const val MANAGER_PIN = "2468"
private const val FLOOR = "F-200"   // Maria, picks and packs
private const val FLOOR_PIN = "1357"
private const val DRIVER = "D-300"  // Dee, drives the route
private const val DRIVER_PIN = "9753"
private const val DRIVER_2 = "D-301" // Dan, another driver with no route today
private const val DRIVER_2_PIN = "5551"

private const val FLOWER = "Flower - OG Kush 3.5g"
private const val CART = "Live Resin Cart 1g"
private const val GREEN_DOOR = "C10-0000201-LIC"
private const val HARBOR = "C10-0000202-LIC"
private const val PATIENT_NAME = "Jane Quinn Doe"
private const val PATIENT_CARD = "MMJ-4471-9203-5588"
private const val PLATE = "8ABC123"

// Stock received for this scenario (Scenario.kt uses ...0001 to ...0003).
private const val F1 = "1A4FF0100000000000000101" // flower 10 g, expires 2027-03-01
private const val F2 = "1A4FF0100000000000000102" // flower 10 g, expires 2027-01-15: first out
private const val F3 = "1A4FF0100000000000000103" // flower 10 g, expires 2027-06-01
private const val F4 = "1A4FF0100000000000000104" // flower 10 g, expires 2027-09-01: last
private const val C1 = "1A4FF0100000000000000110" // 20 cartridges
private const val SPLIT = "1A4FF0100000000000000900" // the first unused tag (run-kotlin.sh adds them)

private fun grams(amount: String) = Quantity(amount, UnitOfMeasure.G)
private fun units(amount: String) = Quantity(amount, UnitOfMeasure.EACH)
private fun assertSameAmount(expected: String, actual: Quantity) =
    assertEquals(0, BigDecimal(expected).compareTo(BigDecimal(actual.amount)), "expected $expected, got ${actual.amount} ${actual.unit}")

/** Asserts the block throws [T] whose message contains every one of [texts]; returns it. */
private inline fun <reified T : CustodyException> assertRefusedWith(vararg texts: String, block: () -> Unit): T {
    val e = assertFailsWith<T>(block = block)
    for (text in texts) assertTrue(e.message!!.contains(text), "message of ${T::class.simpleName} was: ${e.message}")
    return e
}

fun driverScenario(run: Runner) {
    val url = env("CUSTODY_SERVER_URL")
    val code = env("CUSTODY_OUTBOUND_ENROLMENT_CODE")
    val dir: Path = Files.createTempDirectory(Path.of(env("CUSTODY_WORK_DIR")), "outbound")
    val truckLink = SwitchableProxy(url) // the driver's phone: no signal on the road

    lateinit var office: Phone
    lateinit var floor: Phone
    lateinit var truck: Phone
    lateinit var otherTruck: Phone
    lateinit var order1: String // Green Door: 20 g of flower
    lateinit var order2: String // Harbor, medical: 10 g of flower and 5 cartridges (a split)
    lateinit var manifest: String
    var atStop2: Result<PatientDetails>? = null // what the driver's phone showed at the medical stop
    val gps = Gps("37.8044", "-122.2712", "8")
    val departs = Instant.now().plus(Duration.ofHours(1))

    run.scenario("outbound: orders, pick and pack, a manifest, the driver offline, a return")

    run.step("the office enrols the floor phone and two drivers' phones; each person signs in online once") {
        office = Phone("office", dir)
        runBlocking { office.client.enrol(url, code, "office") }
        assertEquals(Role.MANAGER, office.signIn(MANAGER, MANAGER_PIN).role)
        val codes = List(3) { runBlocking { office.client.issueEnrolmentCode() }.code }
        floor = Phone("floor", dir)
        runBlocking { floor.client.enrol(url, codes[0], "packing bench") }
        truck = Phone("truck", dir)
        runBlocking { truck.client.enrol(truckLink.url, codes[1], "van 1") }
        otherTruck = Phone("other-truck", dir)
        runBlocking { otherTruck.client.enrol(url, codes[2], "van 2") }
        assertEquals(Role.FLOOR_STAFF, floor.signIn(FLOOR, FLOOR_PIN).role)
        assertEquals(Role.DRIVER, truck.signIn(DRIVER, DRIVER_PIN).role)
        assertEquals("Dan Driver", otherTruck.signIn(DRIVER_2, DRIVER_2_PIN).name)
        assertRefusedWith<CustodyException.InvalidInput> { CustodyClient(dir.resolve("short-key.db").toString(), ByteArray(5)) }
    }

    run.step("the office receives stock with different expiry dates; customers come with the sync") {
        // The manager's opening balance: packages enter stock only so, by receiving, or by a split.
        office.client.recordOpeningBalance(
            listOf(F1 to "2027-03-01", F2 to "2027-01-15", F3 to "2027-06-01", F4 to "2027-09-01").map { (tag, expires) ->
                OpeningBalanceLine(tag, FLOWER, "OG-2026-10", grams("10.00"), "Vault A", expires)
            } + OpeningBalanceLine(C1, CART, "LRC-2026-10", units("20"), "Vault A", "2027-03-31"),
        )
        office.sync()
        assertEquals(0uL, office.client.syncStatus().pending)
        val customers = office.client.customers().associateBy { it.licence }
        assertEquals(setOf(GREEN_DOOR, HARBOR), customers.keys)
        assertEquals("Green Door Dispensary", customers.getValue(GREEN_DOOR).name)
    }

    run.step("orders: an unknown licence and too much are refused; a dispensary order and a medical one") {
        val tomorrow = LocalDate.now().plusDays(1).toString()
        val order = NewOrder("SO-2001", "C10-0000999-LIC", tomorrow, listOf(NewOrderLine(FLOWER, grams("20"), "4.00")), null)
        assertRefusedWith<CustodyException.Refused>("not a customer") { office.client.createOrder(order) }
        assertRefusedWith<CustodyException.Refused>("only 40.00 g is available") {
            office.client.createOrder(order.copy(recipientLicence = GREEN_DOOR, lines = listOf(NewOrderLine(FLOWER, grams("100"), "4.00"))))
        }
        assertTrue(office.client.orders().isEmpty(), "a refused order leaves nothing behind")
        order1 = office.client.createOrder(order.copy(recipientLicence = GREEN_DOOR))
        val patient = PatientDetails(PATIENT_NAME, PATIENT_CARD, "77 Bay Rd, Oakland", "510-555-0142")
        order2 = office.client.createOrder(
            NewOrder(
                "SO-2002", HARBOR, tomorrow,
                listOf(NewOrderLine(FLOWER, grams("10"), "4.50"), NewOrderLine(CART, units("5"), "19.00")),
                patient,
            ),
        )
        val orders = office.client.orders().associateBy { it.number }
        assertEquals(OrderStatus.OPEN, orders.getValue("SO-2001").status)
        assertEquals("Green Door Dispensary", orders.getValue("SO-2001").recipient.name)
        assertEquals("J.Q.D., card ...5588", orders.getValue("SO-2002").patientRef)
        assertEquals(patient, office.client.patient(order2, "checking the order"))
    }

    run.step("pick lists allocate expiring first; a partial package becomes a split") {
        val list1 = office.client.generatePickList(order1)
        assertEquals(OrderStatus.ALLOCATED, list1.order.status)
        assertEquals(listOf(F2, F1), list1.lines.map { it.tag }, "first expired, first out")
        assertEquals(listOf("2027-01-15", "2027-03-01"), list1.lines.map { it.expiresOn })
        assertTrue(list1.lines.all { it.splitInto == null && it.pickedBy == null })
        val list2 = office.client.generatePickList(order2)
        assertEquals(listOf(F3 to null, C1 to SPLIT), list2.lines.map { it.tag to it.splitInto })
        assertSameAmount("5", list2.lines.single { it.tag == C1 }.quantity)
        office.sync()
        assertEquals(0uL, office.client.syncStatus().pending)
    }

    run.step("the floor phone picks: a wrong package is refused with the allocated one; a split is weighed out") {
        floor.sync()
        assertEquals(office.client.pickList(order1), floor.client.pickList(order1))
        assertRefusedWith<CustodyException.NotAllowed>("ask a manager") {
            floor.client.createOrder(NewOrder("SO-2099", GREEN_DOOR, LocalDate.now().plusDays(1).toString(), listOf(NewOrderLine(FLOWER, grams("1"), "4")), null))
        }
        val pending = floor.client.syncStatus().pending
        assertRefusedWith<CustodyException.Refused>("$F4 is not the package allocated", F2) { floor.client.pickScan(order1, F4, null) }
        assertRefusedWith<CustodyException.Refused>("not on this pick list") { floor.client.pickScan(order1, "1A4FF0100000000000000999", null) }
        assertRefusedWith<CustodyException.InvalidInput> { floor.client.pickScan(order1, "hello", null) }
        assertEquals(pending, floor.client.syncStatus().pending, "refused scans change nothing")

        assertEquals(1u, floor.client.pickScan(order1, F2, null).remaining)
        assertEquals(0u, floor.client.pickScan(order1, F1.lowercase() + "\r\n", null).remaining)
        floor.client.pickScan(order2, F3, null)
        assertRefusedWith<CustodyException.InvalidInput>("weigh out") { floor.client.pickScan(order2, C1, null) }
        val split = floor.client.pickScan(order2, C1, units("5"))
        assertEquals(Pair(SPLIT, C1), Pair(split.tag, split.splitFrom))
        assertSameAmount("15", floor.client.findPackage(C1)!!.facts.quantity)
        assertEquals(PackageStatus.PICKED, floor.client.findPackage(SPLIT)!!.facts.status)
        val list1 = floor.client.pickList(order1)
        assertEquals(listOf("Maria Floor", "Maria Floor"), list1.lines.map { it.pickedBy })
    }

    run.step("the floor phone packs into containers with gross weights and finishes packing") {
        floor.client.pack(order1, F2, "C-2001-1", grams("12.40"))
        assertRefusedWith<CustodyException.Refused>("packing is not finished", "$F1 not in a container") { floor.client.finishPacking(order1) }
        assertRefusedWith<CustodyException.InvalidInput>("gross weight") { floor.client.pack(order1, F1, "C-2001-1", units("3")) }
        floor.client.pack(order1, F1, "C-2001-1", grams("12.50"))
        val packed1 = floor.client.finishPacking(order1)
        assertEquals(OrderStatus.PACKED, packed1.order.status)
        assertEquals(listOf(Container("C-2001-1", listOf(F2, F1).sorted())), packed1.containers.map { it.copy(tags = it.tags.sorted()) })
        floor.client.pack(order2, F3, "C-2002-1", grams("12.30"))
        floor.client.pack(order2, SPLIT, "C-2002-1", grams("20.50"))
        assertEquals(OrderStatus.PACKED, floor.client.finishPacking(order2).order.status)
        floor.sync()
        assertEquals(0uL, floor.client.syncStatus().pending)
    }

    run.step("the office builds a manifest for the driver with two stops; a second one for the same orders is refused") {
        office.sync()
        assertEquals(OrderStatus.PACKED, office.client.orders().single { it.id == order1 }.status)
        val driver = truck.client.currentUser()!!
        val new = NewManifest(
            "M-2001", Vehicle("Ford", "Transit", PLATE), driver.id, "D1234567", "OL-5501", "510-555-0100",
            listOf(
                NewStop(order1, "I-880 N to exit 42", departs, departs.plus(Duration.ofMinutes(40))),
                NewStop(order2, "Bay Rd east", departs.plus(Duration.ofMinutes(50)), departs.plus(Duration.ofMinutes(80))),
            ),
        )
        manifest = office.client.createManifest(new)
        assertRefusedWith<CustodyException.Refused>("already on another open manifest") {
            office.client.createManifest(new.copy(number = "M-2002"))
        }
        val route = office.client.route(manifest)
        assertEquals(Triple("Dee Driver", driver.id, PLATE), Triple(route.driverName, route.driverUserId, route.vehicle.plate))
        assertEquals("40.00", route.stops[0].packages.single { it.tag == F2 }.wholesalePrice, "10 g at 4.00 a gram")
        assertSameAmount("12.40", route.stops[0].packages.single { it.tag == F2 }.grossWeight)
        assertEquals(listOf(manifest), office.client.manifests().map { it.id })
        office.sync()
        assertEquals(0uL, office.client.syncStatus().pending)
    }

    run.step("the driver syncs in the yard, then loses signal; the route is on the phone, stops in order") {
        truck.sync()
        truckLink.goOffline()
        val route = truck.client.manifests().single()
        assertEquals(manifest, route.id)
        assertEquals(listOf(1u, 2u), route.stops.map { it.number })
        assertEquals(listOf("Green Door Dispensary", "Harbor Wellness (medical)"), route.stops.map { it.recipient.name })
        assertEquals(listOf(order1, order2), route.stops.map { it.orderId })
        assertEquals(listOf(listOf(F1, F2), listOf(F3, SPLIT)), route.stops.map { s -> s.packages.map { it.tag }.sorted() })
        assertTrue(route.stops.all { it.state == StopState.PENDING } && route.departedAt == null)
        assertTrue(route.stops.flatMap { it.packages }.all { it.outcome == DeliveryOutcome.PENDING })
        assertEquals("J.Q.D., card ...5588", route.stops[1].patientRef)
        assertTrue(truck.client.orders().isEmpty(), "drivers get routes, not order documents")
    }

    run.step("the driver departs, delivers stop 1 and has one package refused at stop 2, all offline") {
        val shipped = truck.client.depart(manifest)
        assertEquals(setOf(F1, F2, F3, SPLIT), shipped.map { it.tag }.toSet())
        assertTrue(shipped.all { it.kind == EventKind.SHIPPED })
        assertRefusedWith<CustodyException.Refused>("departed") { truck.client.depart(manifest) }
        assertRefusedWith<CustodyException.InvalidInput>("not on Earth") {
            truck.client.confirmStop(manifest, 1u, StopConfirmation("Rita Green", "AG-2231", emptyList(), Gps("97.1", "0", "5")))
        }
        assertRefusedWith<CustodyException.InvalidInput>("latitude") {
            truck.client.confirmStop(manifest, 1u, StopConfirmation("Rita Green", "AG-2231", emptyList(), Gps("north", "0", "5")))
        }
        assertRefusedWith<CustodyException.InvalidInput>("receiver's name") {
            truck.client.confirmStop(manifest, 1u, StopConfirmation("", "", emptyList(), gps))
        }
        val delivered = truck.client.confirmStop(manifest, 1u, StopConfirmation("Rita Green", "AG-2231", emptyList(), gps))
        assertEquals(setOf(F1, F2), delivered.map { it.tag }.toSet())
        assertTrue(delivered.all { it.kind == EventKind.DELIVERED })
        assertRefusedWith<CustodyException.Refused>("already confirmed") {
            truck.client.confirmStop(manifest, 1u, StopConfirmation("Rita", "AG", emptyList(), gps))
        }
        // Checked in the last step, so that the rest of the route runs whatever it shows.
        atStop2 = runCatching { truck.client.patient(order2, "hand-off at stop 2") }
        truck.client.confirmStop(manifest, 2u, StopConfirmation("Hal Harbor", "AG-9902", listOf(RefusedPackage(F3, "damaged seal")), gps))
        val route = truck.client.route(manifest)
        assertNotNull(route.departedAt)
        assertEquals(listOf(StopState.DONE, StopState.DONE), route.stops.map { it.state })
        assertEquals(listOf("Rita Green", "Hal Harbor"), route.stops.map { it.receiverName })
        val refused = route.stops[1].packages.single { it.tag == F3 }
        assertEquals(Pair(DeliveryOutcome.REFUSED, "damaged seal"), Pair(refused.outcome, refused.reason))
        assertEquals(DeliveryOutcome.DELIVERED, route.stops[1].packages.single { it.tag == SPLIT }.outcome)
        assertFalse(route.closed, "the refused package is still on the truck")
        assertEquals(PackageStatus.DELIVERED, truck.client.findPackage(F2)!!.facts.status)
        assertEquals(PackageStatus.SHIPPED, truck.client.findPackage(F3)!!.facts.status)
    }

    run.step("a sync with no signal fails as Offline and loses nothing; back online it goes through") {
        val pending = truck.client.syncStatus().pending
        assertTrue(pending > 0uL)
        val before = truck.client.route(manifest)
        val offline = assertRefusedWith<CustodyException.Offline>("will sync later") { truck.sync() }
        assertEquals(offline.message, truck.heard.statuses.last().lastError)
        assertEquals(pending, truck.client.syncStatus().pending)
        assertEquals(before, truck.client.route(manifest))

        office.sync()
        assertNull(office.client.route(manifest).departedAt, "the office sees nothing while the truck has no signal")

        truckLink.goOnline()
        truck.sync()
        assertEquals(0uL, truck.client.syncStatus().pending)
        assertTrue(truck.heard.statuses.last().online)
    }

    run.step("the office sees the stop states and the refused package") {
        office.sync()
        val progress = office.client.route(manifest)
        assertNotNull(progress.departedAt)
        assertEquals(listOf(StopState.DONE, StopState.DONE), progress.stops.map { it.state })
        assertEquals(listOf("AG-2231", "AG-9902"), progress.stops.map { it.receiverLicence })
        val refused = progress.stops[1].packages.single { it.tag == F3 }
        assertEquals(Pair(DeliveryOutcome.REFUSED, "damaged seal"), Pair(refused.outcome, refused.reason))
        assertFalse(progress.closed)
        assertEquals(PackageStatus.DELIVERED, office.client.findPackage(SPLIT)!!.facts.status)
    }

    run.step("the floor checks the refused package back in; it is active again and the route closes") {
        floor.sync()
        val due = floor.client.returnsDue()
        assertEquals(listOf(Triple(F3, 2u, ReturnKind.REFUSED)), due.map { Triple(it.tag, it.stop, it.kind) }, "the vault expects the refused package only")
        assertTrue(due.single().reason.contains("damaged seal"), due.single().reason)
        assertRefusedWith<CustodyException.Refused>("$F2 is delivered") { floor.client.returnCheckIn(F2, "Vault A") }
        val back = floor.client.returnCheckIn(F3, "Returns cage")
        assertTrue(floor.client.returnsDue().isEmpty(), "nothing more is due back")
        assertEquals(EventKind.RETURNED, back.kind)
        val body = assertIs<EventBody.Returned>(back.body)
        assertEquals("Returns cage", body.location)
        assertTrue(body.reason.contains("refused at stop 2") && body.reason.contains("damaged seal"), body.reason)
        val pkg = floor.client.packages().single { it.facts.tag == F3 }
        assertEquals(Triple(PackageStatus.ACTIVE, "Returns cage", true), Triple(pkg.facts.status, pkg.facts.location, pkg.pending))
        assertRefusedWith<CustodyException.Refused>("only a package that went out") { floor.client.returnCheckIn(F3, "Vault A") }
        floor.sync()
        office.sync()
        val route = office.client.route(manifest)
        assertTrue(route.closed, "every package delivered or back in the vault")
        assertEquals(DeliveryOutcome.RETURNED, route.stops[1].packages.single { it.tag == F3 }.outcome)
        assertEquals(PackageStatus.ACTIVE, office.client.findPackage(F3)!!.facts.status)
    }

    run.step("the other driver sees no route; neither they nor the floor may see the patient") {
        otherTruck.sync()
        assertTrue(otherTruck.client.manifests().isEmpty(), "a driver sees only their own route")
        assertRefusedWith<CustodyException.NotAllowed>("may not see patient details") { otherTruck.client.patient(order2, "curious") }
        assertRefusedWith<CustodyException.NotAllowed>("may not see patient details") { floor.client.patient(order2, "curious") }
    }

    run.step("the printed manifest carries the plate and no patient details") {
        for (html in listOf(office.client.manifestHtml(manifest, null), office.client.manifestHtml(manifest, 2u), truck.client.manifestHtml(manifest, null))) {
            assertTrue(html.contains(PLATE) && html.contains("J.Q.D., card ...5588") && html.contains(F3), html)
            assertFalse(html.contains("Jane") || html.contains("4471-9203") || html.contains("Bay Rd, Oakland"), "printed manifests are redacted")
        }
        assertFalse(office.client.manifestHtml(manifest, 2u).contains("Green Door"), "one stop's page shows only that stop")
    }

    run.step("every phone agrees on the inventory and the route") {
        for (p in listOf(floor, truck, office, floor, truck)) p.sync()
        val route = office.client.route(manifest)
        for (p in listOf(floor, truck, office)) {
            assertEquals(office.client.packages(), p.client.packages(), p.name)
            assertEquals(route, p.client.route(manifest), p.name)
            assertEquals(0uL, p.client.syncStatus().pending, p.name)
            assertTrue(p.client.conflicts().isEmpty(), p.name)
        }
        assertTrue(office.heard.changes.contains(ChangeKind.OUTBOUND))
        assertTrue(truck.heard.changes.containsAll(listOf(ChangeKind.OUTBOUND, ChangeKind.INVENTORY)))
    }

    // The patient was entered with the order on the office phone; the server must pass it on to
    // the route's driver, whose phone synced in the yard before leaving.
    run.step("the driver's phone showed the patient entered on the office phone at the medical stop") {
        assertEquals(PATIENT_CARD, assertNotNull(atStop2, "the route step did not get that far").getOrThrow().cardNumber)
    }

    runCatching { office.client.close() }
    runCatching { floor.client.close() }
    runCatching { truck.client.close() }
    runCatching { otherTruck.client.close() }
    truckLink.close()
}
