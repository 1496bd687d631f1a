package com.custody.app.state

import com.custody.core.types.CustodyException
import com.custody.core.types.DeviceIdentity
import com.custody.core.types.ReturnKind
import com.custody.core.types.Role
import com.custody.core.types.SignedInUser
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

private const val BACK1 = "1A4FF0100000000000000031" // refused at stop 2
private const val BACK2 = "1A4FF0100000000000000032" // refused: stop 3 was not made
private const val OUT1 = "1A4FF0100000000000000033" // no outcome yet: still on the truck
private const val PACKED = "1A4FF0100000000000000036" // picked and packed into C-7 for SO-2, which was cancelled
private const val PICKED = "1A4FF0100000000000000037" // picked, not packed, for SO-2
private const val DELIVERED = "1A4FF0100000000000000034"
private const val ACTIVE = "1A4FF0100000000000000035"

private fun wedge(text: String) = Scan(text, ScanSource.WEDGE)

fun returnsTests() = "returns" to Tests("returns at the vault").apply {
    val maria = SignedInUser("user-maria", "Maria Floor", Role.FLOOR_STAFF)
    val sam = SignedInUser("user-sam", "Sam Manager", Role.MANAGER)
    val dana = SignedInUser("user-dana", "Dana Driver", Role.DRIVER)

    /**
     * Core's list as core orders it: refused first (and not by stop: the model must keep it so),
     * then a cancelled order's picks, which never left, then what has no outcome yet.
     */
    fun setUp(lastLocation: String? = null, user: SignedInUser = maria): Triple<FakeApi, ReturnsModel, MutableList<String>> {
        val api = FakeApi().apply { this.user = user }
        api.due += FakeApi.returnDue(BACK1, "Flower - OG Kush", 2, "Davis Wellness", refused = true)
        api.due += FakeApi.returnDue(BACK2, "Vape 1 g", 3, "Capitol Cannabis", refused = true, why = "closed, nobody answered")
        api.due += FakeApi.cancelledPick(PACKED, "Gummies 10-pack", "SO-2", "Green Leaf Dispensary", container = "C-7")
        api.due += FakeApi.cancelledPick(PICKED, "Tincture 30 ml", "SO-2", "Green Leaf Dispensary", container = null)
        api.due += FakeApi.returnDue(OUT1, "Pre-roll 5-pack", 1, "Green Leaf Dispensary", refused = false)
        api.deliveredTo[DELIVERED] = "Green Leaf Dispensary" to 1
        api.inStock[ACTIVE] = "active"
        val remembered = mutableListOf<String>()
        val model = ReturnsModel(api, lastLocation) { remembered += it }
        return Triple(api, model, remembered)
    }

    test("the list is core's, in core's order (refused first); each row says what, where from and why") {
        val (api, model, _) = setUp()
        model.load()
        val s = model.state.value
        assertEquals(listOf(BACK1, BACK2, PACKED, PICKED, OUT1), s.rows.map { it.tag }, "core's order, not re-sorted by stop")
        val first = s.rows[0]
        assertEquals("Flower - OG Kush", first.item)
        assertEquals("…000031", first.tagEnd)
        assertEquals("M-0042", first.manifestNumber)
        assertEquals(2, first.stop)
        assertEquals("Davis Wellness", first.recipient)
        assertEquals("3.5 g", first.quantity)
        assertEquals(ReturnKind.REFUSED, first.kind)
        assertTrue(first.refused)
        assertEquals("Refused", first.statusText)
        assertEquals("Tag …000031 · container 1", first.tagLine)
        assertEquals("Manifest M-0042 · stop 2 · Davis Wellness", first.origin)
        assertEquals("refused at stop 2 (Davis Wellness): damaged seal", first.reason)
        val out = s.rows[4]
        assertEquals(ReturnKind.NOT_CONFIRMED, out.kind)
        assertFalse(out.refused)
        assertEquals("Still out · no outcome yet", out.statusText)
        assertEquals("Manifest M-0042 · stop 1 · Green Leaf Dispensary", out.origin)
        assertEquals(api.due[4].reason, out.reason, "the reason is core's, as it is")
        assertEquals(Triple(2, 2, 1), Triple(s.refusedCount, s.cancelledCount, s.stillOutCount), "refused · cancelled · still out")
        assertEquals("2 refused · 2 from cancelled orders · 1 still out", s.summary)
        assertNull(s.error)
        assertTrue(api.returnCalls.isEmpty(), "listing checks nothing in")
    }

    test("a cancelled order's picks: named by order and container, never by a truck; back to a shelf like any return") {
        val (api, model, remembered) = setUp(lastLocation = "Vault A / Shelf 4")
        model.load()
        val packed = model.state.value.rows.single { it.tag == PACKED }
        assertEquals(ReturnKind.ORDER_CANCELLED, packed.kind)
        assertFalse(packed.refused, "a cancelled order's pick was never refused by anyone")
        assertTrue(packed.orderCancelled)
        assertEquals("Order cancelled — back to a shelf", packed.statusText)
        assertEquals("SO-2", packed.orderNumber)
        assertEquals("C-7", packed.container)
        assertEquals("Tag …000036 · container C-7", packed.tagLine)
        assertEquals("Order SO-2 · Green Leaf Dispensary", packed.origin, "no manifest and no stop: it never left")
        assertNull(packed.manifestId)
        assertNull(packed.manifestNumber)
        assertNull(packed.stop)
        assertEquals("put back: order SO-2 cancelled by Sam Manager: customer withdrew", packed.reason)
        assertEquals("1 each", packed.quantity)

        val picked = model.state.value.rows.single { it.tag == PICKED }
        assertNull(picked.container, "picked, never packed")
        assertEquals("Tag …000037 · not in a container", picked.tagLine)
        assertEquals("Order cancelled — back to a shelf", picked.statusText)

        val back = model.onScan(wedge(PACKED))
        assertTrue(back.isGreen, back.message)
        assertEquals("Back in Vault A / Shelf 4: Gummies 10-pack", back.message)
        assertEquals(listOf(PACKED to "Vault A / Shelf 4"), api.returnCalls)
        assertEquals(listOf("Vault A / Shelf 4"), remembered)
        assertEquals(listOf(BACK1, BACK2, PICKED, OUT1), model.state.value.rows.map { it.tag })
        assertEquals("2 refused · 1 from a cancelled order · 1 still out", model.state.value.summary)
    }

    test("the summary names only the kinds there are; a row core lists without a manifest shows its order") {
        val (api, model, _) = setUp()
        api.due.removeAll { it.kind != ReturnKind.NOT_CONFIRMED }
        model.load()
        assertEquals("1 still out", model.state.value.summary)
        api.due.clear()
        api.due += FakeApi.cancelledPick(PACKED, "Gummies 10-pack", "SO-2", "Green Leaf Dispensary", container = "C-7")
        model.load()
        assertEquals("1 from a cancelled order", model.state.value.summary)
        // Not a shape core makes today, but a missing manifest must never break the list.
        api.due += FakeApi.returnDue(OUT1, "Pre-roll 5-pack", 1, "Green Leaf Dispensary", refused = false)
            .copy(manifestId = null, manifestNumber = null, stop = null)
        model.load()
        assertNull(model.state.value.error)
        val out = model.state.value.rows.single { it.tag == OUT1 }
        assertEquals("Order SO-1 · Green Leaf Dispensary", out.origin)
        assertEquals("Still out · no outcome yet", out.statusText)
        assertEquals("1 from a cancelled order · 1 still out", model.state.value.summary)
    }

    test("no location chosen: a package scan is red with what to do, and nothing goes to core") {
        val (api, model, remembered) = setUp()
        model.load()
        assertEquals("", model.state.value.location)
        assertEquals("Scan the location label (LOC:...) where returns go, or type it", model.state.value.prompt)
        val f = model.onScan(wedge(BACK1))
        assertEquals(Signal.RED, f.signal)
        assertEquals(ReturnsModel.NO_LOCATION, f.message)
        assertEquals(f, model.state.value.feedback)
        assertTrue(api.returnCalls.isEmpty())
        assertEquals(5, model.state.value.rows.size)
        assertTrue(model.state.value.checkedIn.isEmpty())
        model.editLocation("   ")
        assertEquals(ReturnsModel.NO_LOCATION, model.onScan(wedge(BACK1)).message, "blanks are no location")
        assertTrue(api.returnCalls.isEmpty())
        assertTrue(remembered.isEmpty())
    }

    test("a LOC: label chooses where returns go; a good scan is green, the row goes, the location is remembered") {
        val (api, model, remembered) = setUp()
        model.load()
        val label = model.onScan(wedge("LOC:Returns cage\r\n"))
        assertTrue(label.isGreen, label.message)
        assertEquals("Returns go to Returns cage: scan each package", label.message)
        assertEquals("Returns cage", model.state.value.location)
        assertEquals("Scan each package coming back into Returns cage", model.state.value.prompt)
        assertTrue(api.returnCalls.isEmpty(), "a label checks nothing in")

        val f = model.onScan(wedge(BACK1.lowercase() + "\r"))
        assertTrue(f.isGreen, f.message)
        assertEquals("Back in Returns cage: Flower - OG Kush", f.message)
        assertEquals(Sound.BEEP, f.sound)
        assertEquals(listOf(BACK1 to "Returns cage"), api.returnCalls)
        assertEquals(listOf(BACK2, PACKED, PICKED, OUT1), model.state.value.rows.map { it.tag }, "the row is gone, the rest keep core's order")
        assertEquals(listOf(CheckedInLine(BACK1, "Flower - OG Kush", "Returns cage")), model.state.value.checkedIn)
        assertEquals(listOf("Returns cage"), remembered)
        assertEquals("1 refused · 2 from cancelled orders · 1 still out", model.state.value.summary)

        // A package with no outcome yet (the driver has not synced) comes back the same way.
        assertEquals("Back in Returns cage: Pre-roll 5-pack", model.onScan(wedge(OUT1)).message)
        assertEquals(listOf(OUT1, BACK1), model.state.value.checkedIn.map { it.tag }, "latest first")
        assertEquals(listOf(BACK2, PACKED, PICKED), model.state.value.rows.map { it.tag })
    }

    test("the location starts as the last one used; a typed one is sent trimmed") {
        val (api, model, remembered) = setUp(lastLocation = "Vault A / Returns")
        model.load()
        assertEquals("Vault A / Returns", model.state.value.location)
        assertEquals("Back in Vault A / Returns: Vape 1 g", model.onScan(wedge(BACK2)).message)
        model.editLocation("  Cage 2 ")
        assertEquals("Back in Cage 2: Flower - OG Kush", model.onScan(wedge(BACK1)).message)
        assertEquals(listOf(BACK2 to "Vault A / Returns", BACK1 to "Cage 2"), api.returnCalls)
        assertEquals(listOf("Vault A / Returns", "Cage 2"), remembered)
        assertEquals("Cage 2", model.state.value.location)
    }

    test("a refusal shows core's sentence in red and changes nothing") {
        val (api, model, remembered) = setUp(lastLocation = "Returns cage")
        model.load()
        val before = model.state.value

        val delivered = model.onScan(wedge(DELIVERED))
        assertEquals(Signal.RED, delivered.signal)
        assertEquals(Sound.BUZZ, delivered.sound)
        assertEquals("$DELIVERED was delivered to Green Leaf Dispensary at stop 1; it cannot be checked back in", delivered.message)
        val active = model.onScan(wedge(ACTIVE))
        assertEquals(Signal.RED, active.signal)
        assertEquals("$ACTIVE is active; only a package that went out and was not delivered, or was picked for a cancelled order, can be checked in", active.message)
        assertEquals(2, api.returnCalls.size, "core was asked and said no")

        // What core cannot read, or reads as no package, is red in its words; nothing is sent.
        val garbage = model.onScan(wedge("hello"))
        assertEquals(Signal.RED, garbage.signal)
        assertEquals("this is not a package tag, a GS1 barcode or a location label: 'hello'", garbage.message)
        val emptyLabel = model.onScan(wedge("LOC:  "))
        assertEquals("the location is empty: scan or type it again", emptyLabel.message)
        assertEquals(GS1_NOT_A_PACKAGE, model.onScan(wedge("(01)00012345600012(10)LR-1")).message)
        assertEquals(2, api.returnCalls.size)

        val after = model.state.value
        assertEquals(before.rows, after.rows)
        assertEquals(before.location, after.location, "an empty label leaves the location as it was")
        assertTrue(after.checkedIn.isEmpty())
        assertTrue(remembered.isEmpty())
        assertEquals(5, api.due.size)
        assertEquals(Signal.RED, after.feedback?.signal)
    }

    test("a list that cannot be read says why and keeps what was shown; a sync's changes show on reload") {
        val (api, model, _) = setUp()
        model.load()
        api.returnsFailure = CustodyException.Storage("the database on this device could not be read; restart the app")
        model.load()
        assertEquals("the database on this device could not be read; restart the app", model.state.value.error)
        assertEquals(5, model.state.value.rows.size)
        api.returnsFailure = null
        // Another phone checked one in, and a sync brought it.
        api.due.removeAt(0)
        model.load()
        assertNull(model.state.value.error)
        assertEquals(listOf(BACK2, PACKED, PICKED, OUT1), model.state.value.rows.map { it.tag })
        api.due.clear()
        model.load()
        assertEquals("Nothing is due back", model.state.value.summary)
    }

    test("floor staff and managers have Returns on home, with the number due; a driver neither sees nor opens it") {
        assertTrue(Screen.RETURNS in HomeModel.screensFor(Role.FLOOR_STAFF))
        assertTrue(Screen.RETURNS in HomeModel.screensFor(Role.MANAGER))
        for (role in listOf(Role.DRIVER, Role.COMPLIANCE, Role.ADMIN)) {
            assertFalse(Screen.RETURNS in HomeModel.screensFor(role), "$role")
        }
        val tile = HomeModel.home(maria, returnsDue = 3).tiles.single { it.screen == Screen.RETURNS }
        assertEquals("Returns", tile.title)
        assertEquals("3", tile.badge)
        assertNull(HomeModel.home(maria, returnsDue = 0).tiles.single { it.screen == Screen.RETURNS }.badge)
        assertTrue(HomeModel.home(dana).tiles.none { it.screen == Screen.RETURNS })

        val identity = DeviceIdentity("device-1", "C11-0000001-LIC", "Green Valley Distribution", "https://custody.example.com")
        val nav = Navigator().apply { start(identity, dana) }
        assertFalse(nav.open(Screen.RETURNS))
        assertEquals(Screen.HOME, nav.screen.value)
        nav.start(identity, sam)
        assertTrue(nav.open(Screen.RETURNS))
        nav.start(identity, maria)
        assertTrue(nav.open(Screen.RETURNS))
    }

    test("scans reach the returns screen; core refuses a driver who got there anyway") {
        val (api, model, _) = setUp(lastLocation = "Returns cage")
        model.load()
        val identity = DeviceIdentity("device-1", "C11-0000001-LIC", "Green Valley Distribution", "https://custody.example.com")
        val nav = Navigator().apply { start(identity, maria) }
        val router = ScanRouter(nav, mapOf(Screen.RETURNS to model))
        nav.open(Screen.RETURNS)
        assertEquals("Back in Returns cage: Flower - OG Kush", router.route(wedge(BACK1)).message)

        api.user = dana
        val refused = model.onScan(wedge(BACK2))
        assertEquals(Signal.RED, refused.signal)
        assertEquals("driver may not check returns in; ask a manager", refused.message)
        assertEquals(listOf(BACK2, PACKED, PICKED, OUT1), model.state.value.rows.map { it.tag })
    }
}
