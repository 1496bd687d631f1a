package com.custody.app.state

import com.custody.core.types.Conflict
import com.custody.core.types.ConflictKind
import com.custody.core.types.ConflictLine
import com.custody.core.types.EventBody
import com.custody.core.types.Resolution
import com.custody.core.types.Role
import com.custody.core.types.SignedInUser
import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

private const val MOVED = "1A4FF0100000000000000031"
private const val SHORT = "1A4FF0100000000000000032"
private const val RAISED_BY = "0190f0e0-0000-7000-8000-0000000000a1"

fun conflictsTests() = "conflicts" to Tests("conflicts").apply {
    fun setUp(role: Role = Role.MANAGER): Pair<FakeApi, ConflictsModel> {
        val api = FakeApi()
        api.user = SignedInUser("user-sam", if (role == Role.MANAGER) "Sam Manager" else "Maria Floor", role)
        api.conflictLines += ConflictLine(
            Conflict(MOVED, ConflictKind.CONCURRENT_MOVE, RAISED_BY, "0190f0e0-0000-7000-8000-0000000000a0",
                "$MOVED was moved to Vault A and to Vault B by two devices at the same time; check where it is", null),
            null,
        )
        api.conflictLines += ConflictLine(
            Conflict(SHORT, ConflictKind.NEGATIVE_STOCK, "0190f0e0-0000-7000-8000-0000000000b1", null, "adjusting $SHORT by -6 g leaves -1 g", null),
            null,
        )
        return api to ConflictsModel(api)
    }

    test("open conflicts are listed with the decision their kind takes") {
        val (_, model) = setUp()
        model.load()
        val open = model.state.value.open
        assertEquals(listOf(MOVED, SHORT), open.map { it.tag })
        assertEquals(listOf(Decision.LOCATED_AT, Decision.ACKNOWLEDGED), open.map { it.decision })
        assertEquals("Moved to two places", open[0].title)
        assertTrue(open[0].detail.contains("check where it is"))
        assertTrue(model.state.value.resolved.isEmpty())
    }

    test("a manager says where the package is: green, and it moves to the resolved history with the note") {
        val (api, model) = setUp()
        model.load()
        assertTrue(model.onScan(Scan("LOC:Vault A", ScanSource.WEDGE)).isGreen)
        model.editNote("found it on shelf 1")
        val f = model.resolve(MOVED, RAISED_BY, ConflictKind.CONCURRENT_MOVE)
        assertEquals("Resolved: the package is at Vault A ($MOVED)", f.message)
        val body = api.resolutions.single().body as EventBody.ConflictResolved
        assertEquals(Resolution.LocatedAt("Vault A"), body.resolution)
        assertEquals("found it on shelf 1", body.note)
        val s = model.state.value
        assertEquals(listOf(SHORT), s.open.map { it.tag })
        val done = s.resolved.single()
        assertEquals("Sam Manager", done.resolvedBy)
        assertEquals("the package is at Vault A", done.outcome)
        assertEquals("found it on shelf 1", done.note)
        assertEquals("", s.note)
    }

    test("without a note core refuses: red with its sentence, the conflict stays open") {
        val (api, model) = setUp()
        model.load()
        val f = model.resolve(SHORT, "0190f0e0-0000-7000-8000-0000000000b1", ConflictKind.NEGATIVE_STOCK)
        assertEquals(Signal.RED, f.signal)
        assertTrue(f.message.contains("needs a note"), f.message)
        assertTrue(api.resolutions.isEmpty())
        assertEquals(2, model.state.value.open.size)
    }

    test("a floor worker who reached the list is refused by core; nothing recorded") {
        val (api, model) = setUp(Role.FLOOR_STAFF)
        model.load()
        model.editNote("it is fine")
        val f = model.resolve(SHORT, "0190f0e0-0000-7000-8000-0000000000b1", ConflictKind.NEGATIVE_STOCK)
        assertEquals("only a manager may resolve a conflict; Maria Floor is floor staff", f.message)
        assertTrue(api.resolutions.isEmpty())
    }

    test("a scan that is not a location label says what to scan") {
        val (_, model) = setUp()
        model.load()
        val f = model.onScan(Scan(MOVED, ScanSource.WEDGE))
        assertEquals(Signal.RED, f.signal)
        assertTrue(f.message.contains("location label"), f.message)
        assertEquals("", model.state.value.location)
    }

    test("only managers see the conflicts tile") {
        assertTrue(Screen.CONFLICTS in HomeModel.screensFor(Role.MANAGER))
        for (role in listOf(Role.FLOOR_STAFF, Role.DRIVER, Role.COMPLIANCE, Role.ADMIN)) {
            assertTrue(Screen.CONFLICTS !in HomeModel.screensFor(role), "$role")
        }
        val nav = Navigator()
        nav.start(FakeApi().identity, SignedInUser("u", "Maria Floor", Role.FLOOR_STAFF))
        assertEquals(false, nav.open(Screen.CONFLICTS))
        assertNull(HomeModel.home(SignedInUser("u", "Maria Floor", Role.FLOOR_STAFF)).tiles.firstOrNull { it.screen == Screen.CONFLICTS })
    }
}
