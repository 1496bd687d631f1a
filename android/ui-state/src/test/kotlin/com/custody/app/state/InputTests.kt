package com.custody.app.state

import com.custody.core.types.CustodyException
import com.custody.core.types.Role
import com.custody.core.types.SignedInUser
import com.custody.core.types.SyncStatus
import kotlinx.coroutines.runBlocking
import java.time.Duration
import java.time.Instant
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Types [text] into [input] one key at a time, [gap] ms apart; returns the scans it produced. */
private fun ScanInput.type(text: String, start: Long = 0, gap: Long = 5): List<ScanInput.Result> =
    text.mapIndexed { i, c -> onChar(c, start + i * gap) }.filter { it != ScanInput.Result.Pending }

fun scanInputTests() = "scan" to Tests("scan input").apply {
    test("a wedge scan ends at Enter, CR LF gives one scan, a stray Enter nothing") {
        val input = ScanInput()
        val results = input.type("1A4FF0100000000000000001\r\n\n")
        assertEquals(listOf<ScanInput.Result>(ScanInput.Result.Scanned(Scan("1A4FF0100000000000000001", ScanSource.WEDGE))), results)
        assertEquals("", input.pending)
    }

    test("Tab ends a scan too, and two scans in a row stay apart") {
        val input = ScanInput()
        val results = input.type("LOC:Vault A\t1a4ff0100000000000000002\t")
        assertEquals(listOf("LOC:Vault A", "1a4ff0100000000000000002"), results.map { (it as ScanInput.Result.Scanned).scan.text })
    }

    test("characters left from long ago are not glued to the next scan") {
        val input = ScanInput(staleAfterMillis = 1_000)
        input.type("xy", start = 0)
        val results = input.type("1A4FF0100000000000000001\n", start = 60_000)
        assertEquals("1A4FF0100000000000000001", (results.single() as ScanInput.Result.Scanned).scan.text)
    }

    test("a scan with no end is dropped with a reason once it is too long") {
        val input = ScanInput(maxLength = 10)
        val results = input.type("x".repeat(11))
        val garbage = assertIs<ScanInput.Result.Garbage>(results.single())
        assertTrue(garbage.message.contains("longer than 10"), garbage.message)
        assertEquals("", input.pending)
    }

    test("text delivered whole splits on the same terminators and drops empty parts") {
        val scans = ScanInput.onText("\n1A4FF0100000000000000001\r\n\r\nLOC:Shelf 2\n", ScanSource.CAMERA)
        assertEquals(listOf("1A4FF0100000000000000001", "LOC:Shelf 2"), scans.map { it.text })
        assertTrue(scans.all { it.source == ScanSource.CAMERA })
        assertEquals(emptyList(), ScanInput.onText("\r\n\t", ScanSource.TYPED))
    }

    test("DataWedge: our action gives the data string with its symbology; other actions nothing") {
        val dw = DataWedge()
        val extras = mapOf(DataWedge.DATA_STRING to "1A4FF0100000000000000001\n", DataWedge.LABEL_TYPE to "LABEL-TYPE-CODE128", DataWedge.SOURCE to "scanner")
        val scans = dw.parse(DataWedge.DEFAULT_ACTION, extras)
        assertEquals(listOf(Scan("1A4FF0100000000000000001", ScanSource.DATAWEDGE, "CODE128")), scans)
        assertEquals(emptyList(), dw.parse("com.other.app.SCAN", extras))
        assertEquals(emptyList(), dw.parse(DataWedge.DEFAULT_ACTION, mapOf(DataWedge.SOURCE to "scanner")))
    }

    test("DataWedge: a configured action, the legacy extras and raw decode_data bytes") {
        val dw = DataWedge(action = "com.fleet.SCAN")
        assertEquals(listOf("LOC:Vault A"), dw.parse("com.fleet.SCAN", mapOf(DataWedge.LEGACY_DATA_STRING to "LOC:Vault A")).map { it.text })
        val gs1 = "(01)00012345600012(10)LR-1"
        val raw = dw.parse("com.fleet.SCAN", mapOf(DataWedge.DECODE_DATA to listOf(gs1.toByteArray(Charsets.ISO_8859_1))))
        assertEquals(listOf(gs1), raw.map { it.text })
    }
}

fun feedbackTests() = "feedback" to Tests("feedback").apply {
    test("green: a short beep and no buzz") {
        val f = Feedback.green("Counted Blue Dream")
        assertEquals(Signal.GREEN, f.signal)
        assertEquals(Sound.BEEP, f.sound)
        assertNull(f.vibration)
        assertTrue(f.soundMillis < 200)
    }

    test("red: an error tone and a buzz; with the sound off it still buzzes") {
        val f = Feedback.red("quarantined")
        assertEquals(Sound.BUZZ, f.sound)
        assertNotNull(f.vibration)
        val quiet = Feedback.red("quarantined", FeedbackSettings(sound = false, vibration = false))
        assertNull(quiet.sound)
        assertNotNull(quiet.vibration, "a silent red answer must still be felt")
        assertNull(Feedback.green("ok", FeedbackSettings(sound = false)).sound)
    }

    test("the person's settings apply to an answer a model made") {
        val f = Feedback.green("Counted").forSettings(FeedbackSettings(sound = false))
        assertNull(f.sound)
        val r = Feedback.red("refused")
        val quiet = r.forSettings(FeedbackSettings(sound = true, vibration = false))
        assertEquals(Sound.BUZZ, quiet.sound)
        assertNull(quiet.vibration)
        assertEquals(r.id, quiet.id)
    }

    test("two equal answers in a row are still two answers") {
        assertNotEquals(Feedback.red("same").id, Feedback.red("same").id)
    }

    test("an error shows core's sentence unchanged; an app bug says so") {
        val e = CustodyException.Refused("1A4FF0100000000000000001 is quarantined; it is not counted")
        assertEquals("1A4FF0100000000000000001 is quarantined; it is not counted", Feedback.error(e).message)
        assertEquals(Signal.RED, Feedback.error(e).signal)
        assertTrue(errorText(IllegalStateException("boom")).startsWith("Something went wrong in the app"))
    }
}

fun homeTests() = "home" to Tests("home by role").apply {
    fun user(role: Role) = SignedInUser("u", "Pat", role)

    test("floor staff receive, pick and pack, count, check returns in and sync; no approvals, no routes") {
        assertEquals(listOf(Screen.RECEIVE, Screen.PICK, Screen.COUNT, Screen.RETURNS, Screen.SYNC), HomeModel.home(user(Role.FLOOR_STAFF)).tiles.map { it.screen })
    }

    test("a manager also sees approvals, with the number waiting, and the routes") {
        val home = HomeModel.home(user(Role.MANAGER), pendingApprovals = 2)
        assertEquals(
            listOf(Screen.RECEIVE, Screen.PICK, Screen.COUNT, Screen.RETURNS, Screen.APPROVALS, Screen.CONFLICTS, Screen.ROUTE, Screen.SYNC),
            home.tiles.map { it.screen },
        )
        assertEquals("2", home.tiles.first { it.screen == Screen.APPROVALS }.badge)
        assertEquals("Routes", home.tiles.first { it.screen == Screen.ROUTE }.title)
        assertEquals("Manager", home.role)
    }

    test("compliance counts and follows approvals; a driver has their route; admins only sync, with a note") {
        assertEquals(listOf(Screen.COUNT, Screen.APPROVALS, Screen.SYNC), HomeModel.screensFor(Role.COMPLIANCE))
        val driver = HomeModel.home(user(Role.DRIVER))
        assertEquals(listOf(Screen.ROUTE, Screen.SYNC), driver.tiles.map { it.screen })
        assertEquals("My route", driver.tiles.first().title)
        assertNull(driver.notYetHere)
        assertEquals(listOf(Screen.SYNC), HomeModel.screensFor(Role.ADMIN))
        assertNotNull(HomeModel.home(user(Role.ADMIN)).notYetHere)
    }

    test("the sync tile carries the pending count, or ! after a failure") {
        val waiting = HomeModel.home(user(Role.FLOOR_STAFF), sync = SyncStatusState(pending = 3, connection = "Offline"))
        assertEquals("3", waiting.tiles.last().badge)
        assertEquals("Offline", waiting.tiles.last().subtitle)
        val failed = HomeModel.home(user(Role.FLOOR_STAFF), sync = SyncStatusState(pending = 0, attention = true))
        assertEquals("!", failed.tiles.last().badge)
    }
}

fun syncStatusTests() = "sync" to Tests("sync status").apply {
    val now = Instant.parse("2026-11-03T12:00:00Z")

    test("relative times") {
        assertEquals("just now", SyncStatusModel.ago(now.minusSeconds(30), now))
        assertEquals("just now", SyncStatusModel.ago(now.plusSeconds(20), now))
        assertEquals("5 min ago", SyncStatusModel.ago(now.minus(Duration.ofMinutes(5)), now))
        assertEquals("3 h ago", SyncStatusModel.ago(now.minus(Duration.ofMinutes(200)), now))
        assertEquals("1 day ago", SyncStatusModel.ago(now.minus(Duration.ofHours(30)), now))
        assertEquals("4 days ago", SyncStatusModel.ago(now.minus(Duration.ofDays(4)), now))
    }

    test("a device that never synced says so") {
        val model = SyncStatusModel(FakeApi()) { now }
        model.refresh()
        val s = model.state.value
        assertEquals("Not synced yet", s.connection)
        assertEquals("Never synced", s.lastSyncText)
        assertEquals("Nothing waiting to sync", s.pendingText)
        assertFalse(s.attention)
    }

    test("offline with changes waiting and a failure: all of it visible") {
        var clock = now
        val model = SyncStatusModel(FakeApi()) { clock }
        model.onStatus(
            SyncStatus(
                online = false,
                pending = 3uL,
                lastSuccess = now.minus(Duration.ofMinutes(5)),
                lastAttempt = now,
                lastError = "no connection to the sync server; your work is saved here and will sync later",
                rejected = 1uL,
            ),
        )
        val s = model.state.value
        assertFalse(s.online)
        assertTrue(s.connection.startsWith("Offline"))
        assertEquals("3 changes waiting to sync", s.pendingText)
        assertEquals("Last sync 5 min ago", s.lastSyncText)
        assertTrue(s.lastError!!.contains("will sync later"))
        assertEquals("1 change refused by the server; a manager must review it", s.rejectedText)
        assertTrue(s.attention)
        clock = now.plus(Duration.ofMinutes(10))
        model.tick()
        assertEquals("Last sync 15 min ago", model.state.value.lastSyncText)
    }

    test("sync now: a failure is red with core's reason and stays on screen") {
        val api = FakeApi().apply { syncFailure = CustodyException.Offline("no connection to the sync server; your work is saved here and will sync later") }
        val model = SyncStatusModel(api) { now }
        val f = runBlocking { model.syncNow() }
        assertEquals(Signal.RED, f.signal)
        assertTrue(f.message.contains("will sync later"))
        assertTrue(model.state.value.lastError!!.contains("will sync later"))
        assertFalse(model.state.value.syncing)
    }

    test("sync now: success is green and clears the error") {
        val api = FakeApi()
        val model = SyncStatusModel(api)
        val f = runBlocking { model.syncNow() }
        assertEquals("Synced: 2 sent, 0 received", f.message)
        assertTrue(model.state.value.online)
        assertEquals("Last sync just now", model.state.value.lastSyncText)
        assertNull(model.state.value.lastError)
    }
}
