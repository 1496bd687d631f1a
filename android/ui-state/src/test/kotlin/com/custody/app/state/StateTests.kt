package com.custody.app.state

import com.custody.core.types.FailedWrite
import com.custody.core.types.InboxEntry
import com.custody.core.types.Role
import com.custody.core.types.SignedInUser
import com.custody.core.types.StateStatus
import com.custody.core.types.StateSubmissions
import java.time.Instant
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

private val READ_AT: Instant = Instant.parse("2026-12-03T17:00:00Z") // 09:00 in Los Angeles

private fun submissions(queued: ULong = 42uL, oldest: Instant? = Instant.parse("2026-12-03T14:00:00Z")) = StateSubmissions(
    status = StateStatus(
        connected = true,
        stopped = null,
        keyWarning = "the user key expires on 2026-12-20",
        queued = queued,
        oldestQueuedAt = oldest,
        unapproved = 2uL,
        failed = listOf(
            FailedWrite(7L, "adjust", listOf("1A4FF0100000022000000001"), "Reason 'Spoilage' requires a note.", Instant.parse("2026-12-02T20:30:00Z")),
        ),
        lastPullAt = Instant.parse("2026-12-03T16:48:00Z"),
    ),
    asOf = Instant.parse("2026-12-03T14:00:00Z"),
    oldestQueuedAgeSecs = oldest?.let { READ_AT.epochSecond - it.epochSecond },
    readAt = READ_AT,
    timeZone = "America/Los_Angeles",
)

fun stateTests() = "state" to Tests("state").apply {
    test("ages read the way a manager says them") {
        assertEquals(listOf("just now", "12 min ago", "3 h ago", "47 h ago", "2 days ago"), listOf(5L, 725L, 3 * 3600L + 59, 47 * 3600L, 50 * 3600L).map(::ago))
        assertEquals("06:00", localTime(Instant.parse("2026-12-03T14:00:00Z"), "America/Los_Angeles", READ_AT))
        assertEquals("Dec 2 12:30", localTime(Instant.parse("2026-12-02T20:30:00Z"), "America/Los_Angeles", READ_AT))
        assertEquals("14:00 UTC", localTime(Instant.parse("2026-12-03T14:00:00Z"), null, READ_AT))
    }

    test("a manager sees the failed queue, the outbox and its oldest write in the facility's time") {
        val api = FakeApi()
        api.user = SignedInUser("user-sam", "Sam Manager", Role.MANAGER)
        api.submissions = submissions()
        val model = StateSubmissionsModel(api)
        model.load()
        val s = model.state.value
        assertTrue(s.visible && s.hasStatus && s.connected)
        assertEquals(42L, s.queued)
        assertEquals("06:00 (3 h ago)", s.oldestQueued)
        assertEquals(2L, s.unapproved)
        assertEquals("the user key expires on 2026-12-20", s.keyWarning)
        val f = s.failed.single()
        assertEquals(listOf("adjustment", "Reason 'Spoilage' requires a note.", "Dec 2 12:30 (20 h ago)"), listOf(f.what, f.message, f.queued))
        assertEquals("last read from the state 08:48 (12 min ago)", s.lastPull)
        // Offline: the last status the server sent, with its age.
        assertEquals("as of 3 h ago", s.asOf)
    }

    test("an empty outbox has no oldest write; no status yet says so") {
        val api = FakeApi()
        api.user = SignedInUser("user-sam", "Sam Manager", Role.MANAGER)
        api.submissions = submissions(queued = 0uL, oldest = null)
        val model = StateSubmissionsModel(api)
        model.load()
        assertEquals(0L, model.state.value.queued)
        assertNull(model.state.value.oldestQueued)
        api.submissions = null
        model.load()
        assertTrue(model.state.value.visible)
        assertFalse(model.state.value.hasStatus)
    }

    test("floor staff do not see the screen: core's role answer decides") {
        val api = FakeApi()
        api.user = SignedInUser("user-maria", "Maria Floor", Role.FLOOR_STAFF)
        api.submissions = submissions()
        val model = StateSubmissionsModel(api)
        model.load()
        assertFalse(model.state.value.visible)
        assertEquals(0L, model.state.value.queued, "nothing of the status is shown")
        api.user = SignedInUser("user-cleo", "Cleo Compliance", Role.COMPLIANCE)
        model.load()
        assertTrue(model.state.value.visible)
    }

    fun inboxApi(): FakeApi {
        val api = FakeApi()
        api.user = SignedInUser("user-maria", "Maria Floor", Role.FLOOR_STAFF)
        api.inbox += InboxEntry("0000777001", "Emerald Extracts", "C11-0000099-LIC", 12uL, Instant.parse("2026-12-03T22:05:00Z"), READ_AT, null, false)
        api.inbox += InboxEntry("0000777002", "", "C11-0000098-LIC", 3uL, null, READ_AT, "session-old", false)
        return api
    }

    test("the inbox lists the state's manifests with the shipper, packages and arrival") {
        val api = inboxApi()
        val model = InboxModel(api, zone = { "America/Los_Angeles" }, now = { READ_AT })
        model.load()
        val rows = model.state.value.rows
        assertEquals(listOf("0000777001", "0000777002"), rows.map { it.manifestNumber })
        assertEquals(listOf("Emerald Extracts", "C11-0000098-LIC"), rows.map { it.shipper })
        assertEquals(listOf(12L, 3L), rows.map { it.packages })
        assertEquals("14:05", rows[0].arrival)
        assertNull(rows[0].sessionId)
        assertEquals("session-old", rows[1].sessionId)
    }

    test("picking a manifest opens receiving from it; one already open continues") {
        val api = inboxApi()
        val model = InboxModel(api)
        model.load()
        assertEquals("session-0000777001", model.open("0000777001"))
        assertEquals(listOf("0000777001"), api.openedFromInbox)
        assertEquals("session-0000777001", model.state.value.rows[0].sessionId, "the list shows it open")
        assertEquals(Signal.GREEN, model.state.value.feedback?.signal)
        assertEquals("session-old", model.open("0000777002"))
        assertEquals(listOf("0000777001"), api.openedFromInbox, "an open session is continued, not opened again")
    }

    test("a manifest gone from the inbox is red with core's sentence") {
        val api = inboxApi()
        val model = InboxModel(api)
        model.load()
        api.inbox.removeAt(0)
        assertNull(model.open("0000777001"))
        assertEquals(Signal.RED, model.state.value.feedback?.signal)
        assertTrue(model.state.value.feedback!!.message.contains("is not in this facility's inbox"))
        assertEquals(listOf("0000777002"), model.state.value.rows.map { it.manifestNumber }, "the list is read again")
    }
}
