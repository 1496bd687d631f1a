package com.custody.app.state

import com.custody.core.types.CountEntry
import com.custody.core.types.CustodyException
import com.custody.core.types.PendingApproval
import com.custody.core.types.Quantity
import com.custody.core.types.ScopedPackage
import com.custody.core.types.CountStatus
import com.custody.core.types.SignedInUser
import com.custody.core.types.UnitOfMeasure
import kotlinx.coroutines.runBlocking
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

private const val P1 = "1A4FF0100000000000000001" // weighed (grams)
private const val P2 = "1A4FF0100000000000000002" // counted (each)
private const val P9 = "1A4FF0100000000000000009" // not in the count
private const val SESSION = "0190f0e0-0000-7000-8000-000000000001"

private fun wedge(text: String) = Scan(text, ScanSource.WEDGE)

fun signInTests() = "signin" to Tests("sign-in").apply {
    fun pin(model: SignInModel, digits: String) = digits.forEach(model::pinDigit)
    fun submit(model: SignInModel): Feedback = assertNotNull(runBlocking { model.submit() }, "a submit with no check running answers")

    test("badge scan, then PIN: green with the person's name, home by role") {
        val api = FakeApi()
        val model = SignInModel(api)
        model.load()
        assertEquals(SignInStep.BADGE, model.state.value.step)
        assertTrue(model.onScan(wedge("M-100\r")).isGreen)
        assertEquals(SignInStep.PIN, model.state.value.step)
        assertEquals("M-100", model.state.value.badge)
        pin(model, "2468")
        assertEquals(4, model.state.value.pinDots)
        assertFalse(model.state.value.toString().contains("2468"), "the PIN must not be in the state")
        val f = submit(model)
        assertEquals("Signed in: Sam Manager", f.message)
        assertEquals(SignInStep.SIGNED_IN, model.state.value.step)
        assertEquals("Sam Manager", model.state.value.user?.name)
        assertNull(model.state.value.checking)
    }

    test("the first sign-in on this phone says it checks with the server; the next one checks on the phone; the pad waits meanwhile") {
        val api = FakeApi()
        val model = SignInModel(api)
        val seen = mutableListOf<SignInState>()
        api.duringSignIn = {
            seen += model.state.value
            // What the person might press while core checks: nothing is sent twice, nothing typed.
            assertNull(model.submit(), "OK again while checking does nothing")
            model.pinDigit('9')
            model.restart()
            assertEquals(Signal.RED, model.onScan(wedge("M-100")).signal, "a badge scanned meanwhile waits")
            assertEquals(seen.last(), model.state.value, "nothing changed while the check ran")
        }
        model.onScan(wedge("F-200"))
        pin(model, "1357")
        assertTrue(submit(model).isGreen)
        assertEquals(1, api.signInCalls)
        val online = seen.single()
        assertEquals(SignInCheck.WITH_SERVER, online.checking)
        assertTrue(online.busy)
        assertEquals("Checking your badge and PIN with the server…", online.prompt)
        assertEquals(Pair(SignInStep.PIN, "F-200"), Pair(online.step, online.badge))
        assertEquals(0, online.pinDots, "the pad is cleared as soon as the PIN is sent")
        assertFalse(online.toString().contains("1357"))

        assertTrue(model.signOut().isGreen)
        model.onScan(wedge("F-200"))
        pin(model, "1357")
        assertTrue(submit(model).isGreen)
        assertEquals(SignInCheck.ON_PHONE, seen.last().checking)
        assertEquals("Checking your PIN…", seen.last().prompt)
        assertNull(model.state.value.checking)
    }

    test("a wrong PIN is red with core's words; the PIN is cleared, the badge kept") {
        val model = SignInModel(FakeApi())
        model.onScan(wedge("F-200"))
        pin(model, "0000")
        val f = submit(model)
        assertEquals(Signal.RED, f.signal)
        assertEquals("badge or PIN not recognised; try again or ask a manager", f.message)
        val s = model.state.value
        assertEquals(f.message, s.error)
        assertEquals(0, s.pinDots)
        assertEquals(SignInStep.PIN, s.step)
        assertEquals("F-200", s.badge)
        assertFalse(s.busy)
        assertFalse(s.needsNetwork)
        assertEquals("Enter your PIN, or scan your badge again", s.prompt)
        pin(model, "1357")
        assertTrue(submit(model).isGreen)
    }

    test("a wrong PIN on the phone shows core's count of tries left") {
        val api = FakeApi().apply { keysHere += "F-200" }
        val model = SignInModel(api)
        model.onScan(wedge("F-200"))
        pin(model, "0000")
        val f = submit(model)
        assertEquals(Signal.RED, f.signal)
        assertEquals("badge or PIN not recognised; 4 more wrong PINs and this phone erases your key (then sign in online)", f.message)
        assertEquals(f.message, model.state.value.error)
        assertEquals(SignInStep.PIN, model.state.value.step)
    }

    test("no network when the server must be asked: red in core's words, a prompt to connect, the badge kept") {
        val api = FakeApi().apply { serverReachable = false }
        val model = SignInModel(api)
        model.onScan(wedge("M-100"))
        pin(model, "2468")
        val f = submit(model)
        assertEquals(Signal.RED, f.signal)
        assertEquals(
            "this phone does not hold your signing key yet (first sign-in here, a new PIN, or too many wrong PINs); connect to the network and sign in again",
            f.message,
        )
        val s = model.state.value
        assertEquals(f.message, s.error)
        assertTrue(s.needsNetwork)
        assertEquals("Connect this phone to the network (Wi-Fi or mobile data), then enter your PIN again", s.prompt)
        assertEquals(Triple(SignInStep.PIN, "M-100", 0), Triple(s.step, s.badge, s.pinDots))
        assertNull(api.user)

        api.serverReachable = true
        pin(model, "2468")
        assertNull(model.state.value.error, "typing the PIN again clears the red line")
        assertTrue(submit(model).isGreen)
        assertFalse(model.state.value.needsNetwork)
        assertNull(model.state.value.error)
    }

    test("no PIN yet, or no badge yet: say what is missing, call nothing") {
        val api = FakeApi()
        val model = SignInModel(api)
        assertEquals("Scan your badge first.", submit(model).message)
        model.onScan(wedge("F-200"))
        assertEquals("Enter your PIN.", submit(model).message)
        assertEquals(0, api.signInCalls)
    }

    test("a new badge scan during the PIN starts over with that badge") {
        val model = SignInModel(FakeApi())
        model.onScan(wedge("F-200"))
        pin(model, "13")
        model.onScan(wedge("M-100"))
        assertEquals("M-100", model.state.value.badge)
        assertEquals(0, model.state.value.pinDots)
    }

    test("a device that is not enrolled goes to enrolment") {
        val api = FakeApi().apply { identity = null }
        val model = SignInModel(api)
        model.load()
        assertTrue(model.state.value.needsEnrolment)
        model.onScan(wedge("F-200"))
        pin(model, "1357")
        val f = submit(model)
        assertEquals(Signal.RED, f.signal)
        assertTrue(model.state.value.needsEnrolment)
    }

    test("signed in: a badge scan is refused until sign-out") {
        val api = FakeApi()
        val model = SignInModel(api)
        model.onScan(wedge("F-200"))
        pin(model, "1357")
        submit(model)
        assertEquals(Signal.RED, model.onScan(wedge("M-100")).signal)
        assertTrue(model.signOut().isGreen)
        assertNull(api.user)
        assertEquals(SignInStep.BADGE, model.state.value.step)
    }

    test("after an app restart nobody is signed in: the badge step shows") {
        val api = FakeApi()
        val model = SignInModel(api)
        model.onScan(wedge("F-200"))
        pin(model, "1357")
        assertTrue(submit(model).isGreen)
        api.user = null // a new process: core holds nobody's key open
        val restarted = SignInModel(api)
        restarted.load()
        assertEquals(SignInStep.BADGE, restarted.state.value.step)
        assertEquals("Scan your badge", restarted.state.value.prompt)
    }

    test("a sync that signs the person out (deactivated, new PIN) sends the screen back to the badge") {
        val api = FakeApi()
        val model = SignInModel(api)
        model.onScan(wedge("F-200"))
        pin(model, "1357")
        submit(model)
        assertFalse(model.checkSession(), "still signed in: nothing changes")
        assertEquals(SignInStep.SIGNED_IN, model.state.value.step)
        api.user = null // core signed her out at the sync
        assertTrue(model.checkSession())
        val s = model.state.value
        assertEquals(SignInStep.BADGE, s.step)
        assertNull(s.user)
        assertEquals("Maria Floor signed out at the last sync; scan your badge to sign in again", s.prompt)
        assertFalse(model.checkSession(), "only once")
    }

    test("enrolment: missing fields are named; a bad code is red; a good one enrols") {
        val api = FakeApi().apply { identity = null }
        val model = EnrolModel(api)
        val missing = runBlocking { model.enrol() }
        assertEquals("Enter the server address, the enrolment code, a name for this device.", missing.message)
        model.onScan(wedge("https://custody.example.com"))
        model.edit(code = "BAD", deviceName = "Handheld 3")
        val bad = runBlocking { model.enrol() }
        assertEquals(Signal.RED, bad.signal)
        assertTrue(model.state.value.error!!.contains("enrolment code"))
        model.onScan(wedge("GOOD-CODE"))
        val good = runBlocking { model.enrol() }
        assertEquals("Enrolled at Green Valley Distribution", good.message)
        assertEquals("https://custody.example.com", api.identity?.serverUrl)
    }
}

fun countTests() = "count" to Tests("blind count").apply {
    fun setUp(status: CountStatus = CountStatus.COUNTING, recount: List<String> = emptyList(), entries: List<CountEntry> = emptyList()): Pair<FakeApi, CountModel> {
        val api = FakeApi()
        api.user = SignedInUser("user-maria", "Maria Floor", com.custody.core.types.Role.FLOOR_STAFF)
        api.addSession(
            SESSION,
            status = status,
            packages = listOf(
                ScopedPackage(P1, "Live Resin - Blue Dream 1g", "Vault A / Shelf 1", UnitOfMeasure.G),
                ScopedPackage(P2, "Pre-roll 5-pack", "Vault A / Shelf 1", UnitOfMeasure.EACH),
            ),
            recount = recount,
            entries = entries,
        )
        return api to CountModel(api)
    }

    test("the session list, and nothing counted before joining and scanning a shelf") {
        val (api, model) = setUp()
        model.loadSessions()
        val row = model.state.value.sessions.single()
        assertEquals("Counting", row.status)
        assertEquals(2L, row.packages)
        assertEquals("Choose a count session first.", model.onScan(wedge(P2)).message)
        assertTrue(model.join(SESSION).isGreen)
        assertEquals(CountModel.PROMPT_SHELF, model.state.value.prompt)
        val f = model.onScan(wedge(P2))
        assertEquals(Signal.RED, f.signal)
        assertTrue(f.message.startsWith("Scan the shelf label"))
        assertTrue(api.countCalls.isEmpty())
    }

    test("core reads the scan: a shelf label in any case sets the location; an empty label is red in core's words") {
        val (api, model) = setUp()
        model.join(SESSION)
        val empty = model.onScan(wedge("LOC:  \r\n"))
        assertEquals(Signal.RED, empty.signal)
        assertEquals("the location is empty: scan or type it again", empty.message)
        assertNull(model.state.value.location)
        assertEquals("Shelf: Vault A / Shelf 1", model.onScan(wedge("loc:Vault A / Shelf 1\r\n")).message)
        assertEquals("Vault A / Shelf 1", model.state.value.location)
        assertEquals("Shelf: Cage 1", model.onScan(wedge("  LOC: Cage 1")).message)
        assertEquals("Cage 1", model.state.value.location)
        assertTrue(api.countCalls.isEmpty())
    }

    test("garbage is red in core's words and a product barcode is no package; neither is counted") {
        val (api, model) = setUp()
        model.join(SESSION)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        val garbage = model.onScan(wedge("hello"))
        assertEquals(Signal.RED, garbage.signal)
        assertEquals("this is not a package tag, a GS1 barcode or a location label: 'hello'", garbage.message)
        val gs1 = model.onScan(wedge("(01)00012345600012(10)LR-1"))
        assertEquals(Signal.RED, gs1.signal)
        assertEquals(GS1_NOT_A_PACKAGE, gs1.message)
        // Waiting for a weight, anything scanned that is not an amount drops the wait and says so.
        model.onScan(wedge(P1))
        assertNotNull(model.state.value.awaiting)
        val dropped = model.onScan(wedge("hello"))
        assertTrue(dropped.message.startsWith("Live Resin - Blue Dream 1g was not counted (no amount entered). this is not"), dropped.message)
        assertNull(model.state.value.awaiting)
        assertEquals("Vault A / Shelf 1", model.state.value.location)
        assertTrue(api.countCalls.isEmpty())
    }

    test("a counted item adds 1 each per scan, green with 'counted' and the running count") {
        val (api, model) = setUp()
        model.join(SESSION)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        assertEquals("Counted Pre-roll 5-pack: your count 1 each", model.onScan(wedge(P2.lowercase())).message)
        val second = model.onScan(wedge(P2))
        assertEquals("Counted Pre-roll 5-pack: your count 2 each", second.message)
        assertEquals(Quantity("1", UnitOfMeasure.EACH), api.countCalls.last().quantity)
        assertEquals("Vault A / Shelf 1", api.countCalls.last().location)
        assertEquals(listOf(CountLine(P2, "Pre-roll 5-pack", "2 each")), model.state.value.lines)
    }

    test("a weighed package asks for the weight, read in grams; twice warns that it adds") {
        val (api, model) = setUp()
        model.join(SESSION)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        val ask = model.onScan(wedge(P1))
        assertTrue(ask.isGreen)
        assertEquals(P1, model.state.value.awaiting?.tag)
        assertTrue(api.countCalls.isEmpty(), "nothing is counted before the weight")
        val bad = model.enterAmount("abc")
        assertEquals(Signal.RED, bad.signal)
        assertNotNull(model.state.value.awaiting, "a bad amount keeps the package waiting")
        val f = model.enterAmount("9.5")
        assertEquals("Counted Live Resin - Blue Dream 1g: your count 9.5 g", f.message)
        assertEquals(Quantity("9.5", UnitOfMeasure.G), api.countCalls.last().quantity)
        assertNull(model.state.value.awaiting)
        model.onScan(wedge(P1))
        assertTrue(model.state.value.awaiting?.note!!.contains("already counted 9.5 g"))
    }

    test("a scale in wedge mode types the weight like a scan: it counts the package waiting") {
        val (api, model) = setUp()
        model.join(SESSION)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        model.onScan(wedge(P1))
        assertEquals("Counted Live Resin - Blue Dream 1g: your count 9.50 g", model.onScan(wedge("9.50 g\r")).message)
        assertEquals(Quantity("9.50", UnitOfMeasure.G), api.countCalls.single().quantity)
        assertTrue(CountModel.looksLikeAmount("12"))
        assertFalse(CountModel.looksLikeAmount(P1), "a tag is never an amount")
        assertFalse(CountModel.looksLikeAmount("123456789012345678901234"), "24 digits are a tag")
        assertFalse(CountModel.looksLikeAmount("LOC:Shelf 1"))
    }

    test("a correction replaces this person's count") {
        val (api, model) = setUp()
        model.join(SESSION)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        model.onScan(wedge(P1))
        model.enterAmount("9.5")
        model.correct(P1)
        assertTrue(model.state.value.awaiting!!.correction)
        assertEquals("Corrected Live Resin - Blue Dream 1g: your count 9.25 g", model.enterAmount("9.25 g").message)
        assertTrue(api.countCalls.last().correction)
    }

    test("garbage is red with core's reason and reaches no count") {
        val (api, model) = setUp()
        model.join(SESSION)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        val f = model.onScan(wedge("1A4FF01"))
        assertEquals(Signal.RED, f.signal)
        assertTrue(f.message.contains("exactly 24"), f.message)
        assertTrue(api.countCalls.isEmpty())
    }

    test("a package outside the count: core says why, and nothing is counted") {
        val (api, model) = setUp()
        model.join(SESSION)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        val f = model.onScan(wedge(P9))
        assertEquals(Signal.RED, f.signal)
        assertTrue(f.message.contains("not in this count's scope"), f.message)
        assertEquals("0", api.countCalls.single().quantity.amount, "the probe counts nothing")
    }

    test("in a recount, a package without a variance is refused before it is weighed") {
        val (api, model) = setUp(status = CountStatus.RECOUNT, recount = listOf(P2))
        model.join(SESSION)
        assertEquals(2, model.state.value.round)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        val f = model.onScan(wedge(P1))
        assertEquals(Signal.RED, f.signal)
        assertTrue(f.message.contains("not being recounted"), f.message)
        assertNull(model.state.value.awaiting)
        assertEquals(Quantity("0", UnitOfMeasure.G), api.countCalls.single().quantity)
    }

    test("scanning on while a weight is awaited says the first was not counted") {
        val (_, model) = setUp()
        model.join(SESSION)
        model.onScan(wedge("LOC:Vault A / Shelf 1"))
        model.onScan(wedge(P1))
        val f = model.onScan(wedge(P2))
        assertTrue(f.message.startsWith("Live Resin - Blue Dream 1g was not counted"), f.message)
        assertTrue(f.message.endsWith("your count 1 each"), f.message)
    }

    test("joining shows what this person already counted this round, never what is expected") {
        val mine = CountEntry(1u, P1, "user-maria", "Maria Floor", "device-1", "Vault A / Shelf 1", Quantity("4.5", UnitOfMeasure.G))
        val more = mine.copy(counted = Quantity("5", UnitOfMeasure.G), deviceId = "device-2")
        val others = mine.copy(userId = "user-omar", userName = "Omar")
        val (_, model) = setUp(entries = listOf(mine, more, others))
        model.join(SESSION)
        assertEquals(listOf(CountLine(P1, "Live Resin - Blue Dream 1g", "9.5 g")), model.state.value.lines)
    }
}

fun approvalsTests() = "approvals" to Tests("approvals").apply {
    fun setUp(): Pair<FakeApi, ApprovalsModel> {
        val api = FakeApi()
        api.user = SignedInUser("user-sam", "Sam Manager", com.custody.core.types.Role.MANAGER)
        api.approvals += PendingApproval(FakeApi.request("req-1", P1, "-0.50", "Maria Floor", sessionId = SESSION), null)
        api.approvals += PendingApproval(FakeApi.request("req-2", P2, "-1", "Sam Manager"), "you requested this adjustment; another manager must decide it")
        return api to ApprovalsModel(api)
    }

    test("the pending list says who asked and whether this person may decide") {
        val (_, model) = setUp()
        model.load()
        val rows = model.state.value.rows
        assertEquals(listOf("req-1", "req-2"), rows.map { it.requestId })
        assertEquals("-0.50 g", rows[0].change)
        assertEquals("Maria Floor", rows[0].requestedBy)
        assertTrue(rows[0].canDecide && rows[0].fromCount)
        assertFalse(rows[1].canDecide)
        assertTrue(rows[1].cannotDecide!!.contains("another manager"))
    }

    test("approve with a note: green, and the request leaves the list") {
        val (api, model) = setUp()
        model.load()
        model.editNote("  matches the scale log ")
        val f = model.approve("req-1")
        assertEquals("Approved -0.50 g on $P1", f.message)
        assertEquals(Triple("req-1", true, "matches the scale log"), api.decisions.single())
        assertEquals(listOf("req-2"), model.state.value.rows.map { it.requestId })
        assertEquals("", model.state.value.note)
    }

    test("a refused decision is red with core's reason; the request stays") {
        val (api, model) = setUp()
        model.load()
        api.decisionFailure = CustodyException.NotAllowed("you counted this package; another manager must decide it")
        val f = model.reject("req-1")
        assertEquals(Signal.RED, f.signal)
        assertEquals("you counted this package; another manager must decide it", model.state.value.feedback?.message)
        assertEquals(2, model.state.value.rows.size)
    }

    test("not signed in: the list is empty and says why") {
        val api = FakeApi()
        val model = ApprovalsModel(api)
        model.load()
        assertTrue(model.state.value.error!!.contains("sign in"))
        assertTrue(model.state.value.rows.isEmpty())
    }
}

fun receiveTests() = "receive" to Tests("receiving against the manifest").apply {
    fun receiving(role: com.custody.core.types.Role = com.custody.core.types.Role.FLOOR_STAFF): Pair<FakeApi, ReceiveModel> {
        val api = FakeApi().apply {
            user = if (role == com.custody.core.types.Role.MANAGER) SignedInUser("user-sam", "Sam Manager", role) else SignedInUser("user-maria", "Maria Floor", role)
            manifest[P1] = "Live Resin - Blue Dream 1g"
            manifest[P2] = "Pre-roll 5-pack"
        }
        val model = ReceiveModel(api)
        model.load()
        assertTrue(model.importManifest("{\"ManifestNumber\": \"0001234567\"}").isGreen)
        return api to model
    }

    test("nothing to scan into before a manifest is picked: red, and it says how to pick one") {
        val model = ReceiveModel(FakeApi())
        val f = model.onScan(wedge(P1))
        assertEquals(Signal.RED, f.signal)
        assertEquals("Pick a manifest first: from the inbox, or import its file.", f.message)
    }

    test("a bad manifest file is red in core's words and opens nothing") {
        val api = FakeApi().apply { user = SignedInUser("user-maria", "Maria Floor", com.custody.core.types.Role.FLOOR_STAFF) }
        val model = ReceiveModel(api)
        val f = model.importManifest("not json")
        assertEquals(Signal.RED, f.signal)
        assertEquals("the manifest file could not be read: it is not JSON", f.message)
        assertNull(model.state.value.sessionId)
    }

    test("scans answer matched, not on the manifest, already scanned by whom: core's sentences") {
        val (_, model) = receiving()
        assertEquals("Receiving manifest 0001234567", model.state.value.feedback!!.message)
        assertEquals(listOf("Bay scale 1"), model.state.value.scales, "a scale past its calibration due date is not offered")
        assertEquals("Bay scale 1", model.state.value.scale, "a named scale is the normal way")
        val ok = model.onScan(wedge(P1.lowercase() + "\r"))
        assertTrue(ok.isGreen)
        assertEquals("$P1: Live Resin - Blue Dream 1g", ok.message)
        val stranger = model.onScan(wedge(P9))
        assertEquals(Signal.RED, stranger.signal)
        assertEquals("$P9 is not on this manifest; set it aside", stranger.message)
        val twice = model.onScan(wedge(P1))
        assertEquals(Signal.RED, twice.signal)
        assertEquals("$P1 was already scanned by Maria Floor at 10:42", twice.message)
        assertEquals(listOf(P9), model.state.value.unexpected)
        assertEquals(listOf(P2), model.state.value.missing)
        assertEquals("Scanning at Dock 2", model.onScan(wedge("LOC:Dock 2")).message)
        assertEquals("Dock 2", model.state.value.bay)
    }

    test("a weight with three decimals in grams is red in core's words and records nothing") {
        val (api, model) = receiving()
        model.onScan(wedge(P1))
        val f = model.weigh("10.005")
        assertEquals(Signal.RED, f.signal)
        assertEquals("10.005 g is finer than the 0.01 g receiving weighs to; enter the weight to two decimals of a gram", f.message)
        assertTrue(api.weights.isEmpty())
        assertEquals("Weighed $P1: 10.01 g on Bay scale 1", model.weigh("10.01").message)
        assertEquals("Bay scale 1", api.weights.getValue(P1).second)
    }

    test("typed by hand: no scale chosen, and the reason is asked for") {
        val (api, model) = receiving()
        model.onScan(wedge(P2))
        model.chooseScale(null)
        val noReason = model.weigh("12")
        assertEquals(Signal.RED, noReason.signal)
        assertEquals("say why: a reason is needed", noReason.message)
        assertTrue(model.weigh("12", "scale 1 is at the other dock").isGreen)
        assertNull(api.weights.getValue(P2).second, "typed by hand names no scale")
    }

    test("a GS1 label needs a package first; a mismatch is red and becomes the package's flag") {
        val (_, model) = receiving()
        assertEquals("Scan the package's tag first, then the label on it.", model.onScan(wedge("(01)00012345600012(10)LR-9")).message)
        model.onScan(wedge(P1))
        assertTrue(model.onScan(wedge("(01)00012345600012(10)LR-1")).isGreen)
        val bad = model.onScan(wedge("(01)00012345600012(10)LR-9"))
        assertEquals(Signal.RED, bad.signal)
        assertEquals("$P1: the label says batch LR-9 but the manifest says batch LR-1. A manager decides it.", bad.message)
        assertEquals(listOf("the label says batch LR-9 but the manifest says batch LR-1"), model.state.value.rows.single { it.tag == P1 }.flags)
        // The receiver cannot accept it; core says who can.
        val refused = model.accept()
        assertEquals(Signal.RED, refused.signal)
        assertTrue(refused.message.contains("only a manager may accept it, with a note"), refused.message)
    }

    test("a manager accepts a flagged package with a note; completion puts stock in intake and shows the state task") {
        val (api, model) = receiving(com.custody.core.types.Role.MANAGER)
        assertTrue(model.state.value.manager)
        api.flags[P1] = listOf("no certificate of analysis for batch LR-1")
        model.onScan(wedge(P1))
        model.weigh("10.00")
        assertEquals(Signal.RED, model.accept().signal, "a flagged package needs the manager's note")
        assertTrue(model.accept("lab confirmed the pass by phone").isGreen)
        val early = model.complete()
        assertEquals(Signal.RED, early.signal)
        assertEquals("the session cannot be completed yet: $P2 is neither accepted nor rejected", early.message)
        model.select(P2)
        assertTrue(model.reject(com.custody.core.types.RejectReason.SHORT, "not on the truck").isGreen)
        val done = model.complete()
        assertEquals("Received 1 package into Intake", done.message)
        assertTrue(model.state.value.completed)
        assertEquals(listOf("accept manifest 0001234567 in the state system"), model.state.value.stateTasks)
        assertEquals("Intake", (api.received.single().body as com.custody.core.types.EventBody.Received).location)
    }
}
