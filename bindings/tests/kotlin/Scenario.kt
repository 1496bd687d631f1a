// End to end through the generated Kotlin bindings, the real library and a real sync server on
// loopback: three phones, sign-in online the first time and offline after, stock received, a
// blind count offline, a recount by another person on a shared handheld, a discrepancy, an
// adjustment approved from a manager's phone, a revoked phone, and a person whose PIN is reset
// and who is then deactivated, signed out of the handheld at its next sync.
package com.custody.tests

import com.custody.core.*
import com.custody.core.types.*
import com.custody.testing.SwitchableProxy
import java.math.BigDecimal
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.*
import kotlinx.coroutines.runBlocking

private const val SAM_BADGE = "M-100"   // manager, runs the count from the office (phone B)
private const val SAM_PIN = "2468"
private const val ANA_BADGE = "M-101"   // second manager, approves from the road (phone C)
private const val ANA_PIN = "1470"
private const val MARIA_BADGE = "F-200" // floor staff, counts on the shared handheld (phone A)
private const val MARIA_PIN = "1357"
private const val OMAR_BADGE = "F-201"  // floor staff, recounts on the same handheld
private const val OMAR_PIN = "8642"

private const val P1 = "1A4FF0100000000000000001" // 10.00 g on the books, 9.50 g on the shelf
private const val P2 = "1A4FF0100000000000000002" // 12 units, all there
private const val P3 = "1A4FF0100000000000000003" // in another vault: outside the count
private const val R1 = "1A4FF0100000000000000031" // received against a manifest: accepted
private const val R2 = "1A4FF0100000000000000032" // received against a manifest: rejected (its label)
private const val R3 = "1A4FF0100000000000000033" // not on the manifest
private const val R4 = "1A4FF0100000000000000034" // a bare receipt, refused by the server
private const val SHELF_1 = "Vault A / Shelf 1"
private const val SHELF_2 = "Vault A / Shelf 2"

private fun g(amount: String) = Quantity(amount, UnitOfMeasure.G)
private fun each(amount: String) = Quantity(amount, UnitOfMeasure.EACH)
private fun Quantity.decimal() = BigDecimal(amount)
private fun assertAmount(expected: String, actual: Quantity) =
    assertEquals(0, BigDecimal(expected).compareTo(actual.decimal()), "expected $expected, got ${actual.amount} ${actual.unit}")

/** Asserts the block throws [T] and its message contains [text]; returns it. */
private inline fun <reified T : CustodyException> assertRefusal(text: String, block: () -> Unit): T {
    val e = assertFailsWith<T>(block = block)
    assertTrue(e.message!!.contains(text), "message of ${T::class.simpleName} was: ${e.message}")
    return e
}

fun scenario(run: Runner) {
    val url = env("CUSTODY_SERVER_URL")
    val code = env("CUSTODY_ENROLMENT_CODE")
    val facility = env("CUSTODY_FACILITY")
    val dir: Path = Files.createTempDirectory(Path.of(env("CUSTODY_WORK_DIR")), "phones")
    val proxy = SwitchableProxy(url)

    lateinit var a: Phone // the shared floor handheld, which syncs through the proxy
    lateinit var b: Phone // Sam's office phone
    lateinit var c: Phone // Ana's phone
    lateinit var session: String
    lateinit var request: String

    run.scenario("three phones, a blind count, a recount and a remote approval")

    run.step("scanner text and quantities cross the bindings, errors keep core's sentence") {
        assertEquals(P1, normalizePackageTag(" 1a4f f010 0000 0000 0000 0001\r\n"))
        assertRefusal<CustodyException.InvalidInput>("exactly 24") { normalizePackageTag("1A4") }
        assertEquals(g("12.5"), parseQuantity("12.5g", UnitOfMeasure.OZ))
        assertEquals("1 oz (28.35 g)", formatQuantity(Quantity("1", UnitOfMeasure.OZ)))
        assertRefusal<CustodyException.InvalidInput>("\"ten\" is not a number") { formatQuantity(g("ten")) }
        assertEquals(UnitOfMeasure.G, countUnit(UnitOfMeasure.LB))
    }

    run.step("a new device must be enrolled; a manager signs in online and enrols three phones") {
        b = Phone("office", dir)
        assertRefusal<CustodyException.NotEnrolled>("ask a manager for an enrolment code") { b.signIn(SAM_BADGE, SAM_PIN) }
        val office = runBlocking { b.client.enrol(url, code, "office") }
        assertEquals(facility, office.facility)
        // A code carries a signed-in manager's signature: nobody is signed in yet.
        assertRefusal<CustodyException.NotSignedIn>("scan your badge and enter your PIN") { runBlocking { b.client.issueEnrolmentCode() } }
        // Sam's first sign-in on this phone goes to the server, which checks badge and PIN.
        assertRefusal<CustodyException.BadCredentials>("badge or PIN not recognised") { b.signIn(SAM_BADGE, "0000") }
        assertRefusal<CustodyException.BadCredentials>("badge or PIN not recognised") { b.signIn("M-999", SAM_PIN) }
        assertNull(b.client.currentUser())
        assertFalse(b.client.people().single { it.badge == SAM_BADGE }.signsInHere)
        assertEquals("Sam Manager", b.signIn(SAM_BADGE, SAM_PIN).name)
        val people = b.client.people().associateBy { it.badge }
        assertEquals(setOf(SAM_BADGE, ANA_BADGE, MARIA_BADGE, OMAR_BADGE, "D-300", "D-301"), people.keys)
        assertEquals(Triple("Sam Manager", Role.MANAGER, true), people.getValue(SAM_BADGE).let { Triple(it.name, it.role, it.signsInHere) })
        assertTrue(people.values.all { it.active })
        assertEquals(listOf(SAM_BADGE), people.values.filter { it.signsInHere }.map { it.badge }, "only Sam's key is on this phone")
        val codeA = runBlocking { b.client.issueEnrolmentCode() }
        val codeC = runBlocking { b.client.issueEnrolmentCode() }
        assertTrue(codeA.expiresAt.isAfter(java.time.Instant.now()))

        a = Phone("handheld", dir)
        runBlocking { a.client.enrol(proxy.url, codeA.code, "vault handheld 1") }
        c = Phone("ana", dir)
        runBlocking { c.client.enrol(url, codeC.code, "ana on the road") }
        val ids = listOf(a, b, c).map { it.client.identity()!!.deviceId }
        assertEquals(3, ids.toSet().size)

        // A used code is refused by the server, with its reason.
        val stranger = Phone("stranger", dir)
        assertRefusal<CustodyException.Unauthorized>("not valid, was already used or has expired") {
            runBlocking { stranger.client.enrol(url, codeA.code, "stranger") }
        }
        stranger.client.close()

        assertRefusal<CustodyException.BadCredentials>("badge or PIN not recognised") { a.signIn(MARIA_BADGE, "0000") }
        assertEquals(Role.FLOOR_STAFF, a.signIn(MARIA_BADGE, MARIA_PIN).role)
        assertEquals(Role.MANAGER, c.signIn(ANA_BADGE, ANA_PIN).role)
        // The server takes codes from managers only; Maria's signature is hers, and she is not one.
        assertRefusal<CustodyException.NotAllowed>("Maria Floor is floor staff; only a manager or admin may do this") {
            runBlocking { a.client.issueEnrolmentCode() }
        }
    }

    run.step("signed in once online, the handheld signs Maria in with no signal; wrong PINs count down; a new person needs the network") {
        proxy.goOffline()
        a.client.signOut()
        assertNull(a.client.currentUser())
        assertRefusal<CustodyException.BadCredentials>("badge or PIN not recognised; 4 more wrong PINs and this phone erases your key") {
            a.signIn(MARIA_BADGE, "0000")
        }
        assertRefusal<CustodyException.BadCredentials>("3 more wrong PINs") { a.signIn(MARIA_BADGE, "9999") }
        assertEquals("Maria Floor", a.signIn(MARIA_BADGE, MARIA_PIN).name)
        a.client.signOut()
        assertRefusal<CustodyException.BadCredentials>("4 more wrong PINs") { a.signIn(MARIA_BADGE, "0000") }
        // Omar never signed in on this handheld: his key must come from the server, out of reach.
        assertRefusal<CustodyException.Offline>("this phone does not hold your signing key yet") { a.signIn(OMAR_BADGE, OMAR_PIN) }
        assertRefusal<CustodyException.Offline>("connect to the network and sign in again") { a.signIn(OMAR_BADGE, OMAR_PIN) }
        assertNull(a.client.currentUser())
        val here = a.client.people().associateBy { it.badge }
        assertEquals(Pair(true, false), Pair(here.getValue(MARIA_BADGE).signsInHere, here.getValue(OMAR_BADGE).signsInHere))

        // The app restarts (still no signal): nobody is signed in; Maria's PIN opens her key again.
        assertEquals("Maria Floor", a.signIn(MARIA_BADGE, MARIA_PIN).name)
        a = a.restart()
        assertNull(a.client.currentUser(), "who is signed in does not survive the app")
        assertRefusal<CustodyException.NotSignedIn>("scan your badge") { a.client.movePackage(P1, SHELF_2) }
        assertEquals("Maria Floor", a.signIn(MARIA_BADGE, MARIA_PIN).name)
        proxy.goOnline()
    }

    run.step("the manager enters the opening balance; every phone sees it after a sync") {
        b.client.recordOpeningBalance(
            listOf(
                OpeningBalanceLine(P1, "Live Resin - Blue Dream 1g", "LR-2026-11-A", g("10.00"), SHELF_1, "2027-06-30"),
                OpeningBalanceLine(P2, "Live Resin Cart 1g", "LRC-2026-10", each("12"), SHELF_2, null),
                OpeningBalanceLine(P3, "Flower - OG Kush", "FL-2026-09", g("7.00"), "Vault B / Shelf 9", null),
            ),
        )
        assertTrue(b.client.findPackage(P1)!!.pending)
        assertEquals(3uL, b.client.syncStatus().pending)
        assertEquals(3uL, b.sync().accepted)
        assertEquals(3uL, a.sync().pulled)
        assertEquals(3uL, c.sync().pulled)
        assertEquals(b.client.packages(), a.client.packages())
        val p1 = a.client.findPackage(P1.lowercase())!!
        assertAmount("10.00", p1.facts.quantity)
        assertEquals(Pair("2027-06-30", false), Pair(p1.facts.expiresOn, p1.pending))
        assertEquals(EventKind.RECEIVED, a.client.history(P1).single().event.kind)
    }

    run.step("receiving against a manifest file through the bindings; a bare receipt is refused by the server with its reason") {
        val manifest = """{"ManifestNumber": "0005550001", "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
            "ShipperFacilityName": "Emerald Extracts", "RecipientFacilityLicenseNumber": "$facility",
            "Packages": [
              {"PackageLabel": "$R1", "ItemName": "Live Resin - Blue Dream 1g", "ShippedQuantity": 25.5, "ShippedUnitOfMeasureName": "Grams",
               "ProductionBatchNumber": "LR-R-1", "LabTestingState": "TestPassed", "ExpirationDate": "2027-06-30"},
              {"PackageLabel": "$R2", "ItemName": "Live Resin - Blue Dream 1g", "ShippedQuantity": 25.5, "ShippedUnitOfMeasureName": "Grams",
               "ProductionBatchNumber": "LR-R-1", "LabTestingState": "TestPassed", "ExpirationDate": "2027-06-30"}
            ]}"""
        val session = a.client.openReceiving(manifest)
        assertEquals(listOf("0005550001"), a.client.receivingSessions().map { it.manifestNumber })
        val matched = a.client.receivingScan(session, R1.lowercase() + "\r\n", "Receiving bay")
        assertEquals(ReceivingVerdictKind.MATCHED, matched.kind)
        assertEquals("$R1: Live Resin - Blue Dream 1g", matched.message)
        assertTrue(a.client.receivingScan(session, R1, "Receiving bay").message.startsWith("$R1 was already scanned by Maria Floor at "))
        assertEquals("$R3 is not on this manifest; set it aside", a.client.receivingScan(session, R3, "Receiving bay").message)
        a.client.receivingScan(session, R2, "Receiving bay")
        assertEquals(
            listOf("the label says batch LR-R-9 but the manifest says batch LR-R-1"),
            a.client.receivingLabel(session, R2, "(01)00012345600012(10)LR-R-9"),
        )
        assertRefusal<CustodyException.InvalidInput>("finer than the 0.01 g receiving weighs to") {
            a.client.recordWeightByHand(session, R1, g("25.505"), "no scale at the dock")
        }
        assertRefusal<CustodyException.InvalidInput>("a reason is needed") { a.client.recordWeightByHand(session, R1, g("25.50"), "") }
        a.client.recordWeightByHand(session, R1, g("25.50"), "no scale at the dock")
        a.client.recordWeightByHand(session, R2, g("25.50"), "no scale at the dock")
        // No certificate was recorded: every package is flagged in core's words; only a manager accepts.
        assertTrue(a.client.packageFlags(session).single { it.tag == R1 }.flags.contains("no certificate of analysis for batch LR-R-1"))
        assertRefusal<CustodyException.Refused>("only a manager may accept it, with a note") { a.client.decidePackage(session, R1, null, "") }
        a.client.decidePackage(session, R3, RejectReason.NOT_ON_MANIFEST, "")
        a.sync()
        b.sync()
        b.client.decidePackage(session, R1, null, "COA on file in the office")
        b.client.decidePackage(session, R2, RejectReason.WRONG_ITEM, "label shows another batch")
        assertEquals(emptyList<ReceivingDiscrepancy>(), b.client.receivingDiscrepancies(session).filter { !it.resolved })
        val received = b.client.completeReceiving(session, "Intake")
        assertEquals(listOf(R1), received.map { it.tag })
        assertEquals(listOf("accept manifest 0005550001 in the state system"), b.client.openStateTasks().map { it.task })
        assertEquals(Pair(1uL, 0uL), b.sync().let { it.accepted to it.rejected })

        // A bare receipt (what the old receiving screen wrote) is refused by the server; the phone shows why.
        a.client.record(R4, EventBody.Received("Live Resin - Blue Dream 1g", "LR-R-1", g("1.00"), "Intake", null, null))
        assertEquals(1uL, a.sync().rejected)
        val refused = a.client.history(R4).single()
        assertEquals(EventState.REJECTED, refused.state)
        assertTrue(refused.rejectReason!!.contains("enters stock only through receiving against its manifest"), refused.rejectReason)
        assertEquals(1uL, a.client.syncStatus().rejected)
    }

    run.step("the facility's settings come from the server at sync, not from the phone") {
        // Set with `custody-server settings ...` by tests/test-server.sh before the phones enrolled.
        for (phone in listOf(a, b, c)) {
            val settings = phone.client.receivingSettings()
            assertEquals(0, BigDecimal("1.5").compareTo(BigDecimal(settings.potencyTolerance)))
            assertEquals(listOf("Bay scale 1" to true, "Old scale" to false), settings.scales.map { it.name to it.usable },
                "a scale past its calibration due date is listed as not usable")
            assertEquals("Vape", phone.client.itemCategories()["Live Resin Cart 1g"])
        }
        val old = b.client.receivingSettings().scales.single { it.name == "Old scale" }
        assertTrue(old.calibrationDue.matches(Regex("""\d{4}-\d{2}-\d{2}""")), old.calibrationDue)
    }

    run.step("what the rules forbid arrives as the right exception with core's message") {
        assertRefusal<CustodyException.InvalidInput>("exactly 24") { normalizePackageTag("1A4") }
        assertEquals(P2, normalizePackageTag("1a4ff0100000000000000002\r\n"))
        assertRefusal<CustodyException.NotAllowed>("floor staff may not open a count session; ask a manager") {
            a.client.openCount("nope", CountScope(listOf(SHELF_1), emptyList()))
        }
        assertRefusal<CustodyException.NotAllowed>("floor staff may not record an adjustment; ask a manager") {
            a.client.record(P1, EventBody.Adjusted(g("-1"), "Entry Error", "typo", null))
        }
        assertRefusal<CustodyException.InvalidInput>("\"ten\" is not a number") {
            a.client.recordOpeningBalance(listOf(OpeningBalanceLine(P3, "x", "y", g("ten"), SHELF_1, null)))
        }
        assertRefusal<CustodyException.NotAllowed>("only a manager may enter an opening balance") {
            a.client.recordOpeningBalance(listOf(OpeningBalanceLine(R3, "x", "y", g("1"), SHELF_1, null)))
        }
        assertRefusal<CustodyException.Refused>("was delivered to C11-0000002-LIC but it is active") {
            b.client.record(P1, EventBody.Delivered("C11-0000002-LIC"))
        }
        assertRefusal<CustodyException.NotFound>("no count session") { a.client.countSession("0190f0e0-0000-7000-8000-000000000000") }
        assertRefusal<CustodyException.InvalidInput>("not a valid count session id") { a.client.countSession("42") }
        a.client.signOut()
        assertRefusal<CustodyException.NotSignedIn>("scan your badge and enter your PIN") { a.client.movePackage(P1, SHELF_2) }
        a.signIn(MARIA_BADGE, MARIA_PIN)
        assertEquals(b.client.packages(), a.client.packages(), "a refusal changes nothing")
    }

    run.step("a blind count: the handheld counts with no signal and syncs when it is back") {
        session = b.client.openCount("Vault A cycle count", CountScope(listOf(SHELF_1, SHELF_2), emptyList()))
        b.sync()
        a.sync()
        a.client.joinCount(session)
        val view = a.client.countSession(session)
        assertEquals(listOf(P1, P2), view.inScope.map { it.tag }, "the other vault is not in scope")
        assertEquals(CountStatus.COUNTING, view.summary.status)
        assertRefusal<CustodyException.NotAllowed>("floor staff may not see count variances") { a.client.countVariances(session) }

        proxy.goOffline()
        val scan = a.client.countScan(session, P1.lowercase() + "\r\n", SHELF_1, g("9.50"))
        assertEquals(Pair(P1, 1u), Pair(scan.tag, scan.round))
        assertAmount("9.50", scan.yourCount)
        a.client.countScan(session, P2, SHELF_2, each("12"))
        assertRefusal<CustodyException.Refused>("not in this count's scope") { a.client.countScan(session, P3, SHELF_1, g("7")) }
        assertRefusal<CustodyException.InvalidInput>("cannot be negative") { a.client.countScan(session, P1, SHELF_1, g("-1")) }
        val offline = assertRefusal<CustodyException.Offline>("will sync later") { a.sync() }
        val heardOffline = a.heard.statuses.last()
        assertFalse(heardOffline.online)
        assertEquals(offline.message, heardOffline.lastError)
        assertEquals(2, a.client.countSession(session).entries.size, "the scans are kept on the phone")
        a.client.countScan(session, P1, SHELF_1, g("0.25"))
        val lines = a.client.yourCounts(session)
        assertEquals(listOf(P1, P2), lines.map { it.tag }, "the counting screen's lines come from core, by tag")
        assertAmount("9.75", lines[0].yourCount)
        assertAmount("12", lines[1].yourCount)
        a.client.countCorrect(session, P1, SHELF_1, g("9.50"))
        assertAmount("9.50", a.client.yourCounts(session)[0].yourCount)

        proxy.goOnline()
        a.sync()
        assertTrue(a.heard.statuses.last().online)
        assertNull(a.heard.statuses.last().lastError)
    }

    run.step("closing finds the variance; the recount must be done by someone else") {
        b.sync()
        val outcome = b.client.closeCount(session)
        assertIs<CloseOutcome.RecountNeeded>(outcome)
        val p1 = outcome.lines.single { it.tag == P1 }
        assertEquals(VarianceOutcome.Variance, p1.outcome)
        assertAmount("10", p1.expected)
        assertAmount("9.5", p1.counted)
        assertAmount("-0.5", p1.difference)
        assertEquals(VarianceOutcome.Match, outcome.lines.single { it.tag == P2 }.outcome)
        b.sync()

        a.sync()
        assertEquals(CountStatus.RECOUNT, a.client.countSession(session).summary.status)
        assertEquals(listOf(P1), a.client.countSession(session).recount)
        assertRefusal<CustodyException.NotAllowed>("a different person must recount it") {
            a.client.countScan(session, P1, SHELF_1, g("9.50"))
        }
        assertRefusal<CustodyException.Refused>("not being recounted") { a.client.countScan(session, P2, SHELF_2, each("12")) }
        assertRefusal<CustodyException.Refused>("still need a recount") { b.client.closeCount(session) }

        // The handheld is shared: Maria signs out, Omar signs in and recounts.
        a.client.signOut()
        assertEquals("Omar Floor", a.signIn(OMAR_BADGE, OMAR_PIN).name)
        a.client.joinCount(session)
        assertEquals(2u, a.client.countScan(session, P1, SHELF_1, g("9.50")).round)
        a.sync()
    }

    run.step("the variance persists: the package is quarantined and a discrepancy opens") {
        b.sync()
        val outcome = b.client.closeCount(session)
        assertIs<CloseOutcome.Closed>(outcome)
        assertEquals(listOf(P1), outcome.discrepancies)
        assertEquals(PackageStatus.QUARANTINED, b.client.findPackage(P1)!!.facts.status)
        val d = b.client.countDiscrepancies(session).single()
        assertEquals(DiscrepancyStatus.OPEN, d.status)
        assertAmount("9.5", d.recounted)
        b.client.recordInvestigation(session, P1, "data entry error in yesterday's fulfilment", "re-weigh at pick")
        val inv = b.client.investigation(session, P1)
        assertEquals(setOf("Maria Floor", "Omar Floor"), inv.entries.map { it.userName }.toSet())
        assertEquals(EventKind.QUARANTINED, inv.history.first().entry.event.kind)
        b.sync()

        a.sync()
        assertEquals(CountStatus.CLOSED, a.client.countSession(session).summary.status)
        assertRefusal<CustodyException.Refused>("this count session is closed") { a.client.countScan(session, P1, SHELF_1, g("1")) }
        assertRefusal<CustodyException.Refused>("was picked while quarantined") { a.client.record(P1, EventBody.Picked("SO-1001")) }
    }

    run.step("a manager on another phone approves the adjustment; the others may not") {
        assertRefusal<CustodyException.InvalidInput>("not one of the state's adjustment reasons") {
            b.client.requestAdjustment(P1, g("-0.50"), "Felt like it", "x", session)
        }
        request = b.client.requestAdjustment(P1, g("-0.50"), "Entry Error", "0.50 g short on count and recount", session)
        assertRefusal<CustodyException.NotAllowed>("you requested this adjustment") { b.client.approveAdjustment(request, "ok") }
        b.sync()

        a.sync()
        assertRefusal<CustodyException.NotAllowed>("only a manager may approve or reject an adjustment") {
            a.client.approveAdjustment(request, "mine")
        }

        c.sync()
        val pending = c.client.pendingApprovals().single()
        assertNull(pending.cannotDecide)
        assertEquals(2, pending.request.countedBy.size)
        assertAmount("-0.50", pending.request.delta)
        val events = c.client.approveAdjustment(request, "matches the fulfilment error")
        assertEquals(listOf(EventKind.ADJUSTED, EventKind.RELEASED), events.map { it.kind })
        assertRefusal<CustodyException.Refused>("already approved") { c.client.rejectAdjustment(request, "changed my mind") }
        c.sync()
    }

    run.step("every phone agrees on the package, the request and the count") {
        for (p in listOf(a, b, c, a, b)) p.sync()
        for (p in listOf(a, b, c)) {
            val p1 = p.client.findPackage(P1)!!
            assertAmount("9.50", p1.facts.quantity)
            assertEquals(Pair(PackageStatus.ACTIVE, false), Pair(p1.facts.status, p1.pending), p.name)
            assertEquals(b.client.packages(), p.client.packages(), p.name)
            assertEquals(AdjustmentStatus.APPROVED, p.client.adjustment(request).status, p.name)
            assertEquals("Ana Manager", p.client.adjustment(request).decision!!.by.name)
            assertEquals(CountStatus.CLOSED, p.client.countSession(session).summary.status, p.name)
            assertTrue(p.client.conflicts().isEmpty(), p.name)
            val status = p.client.syncStatus()
            // The handheld keeps the bare receipt the server refused (and its reason); nothing else was refused.
            assertEquals(Pair(0uL, if (p === a) 1uL else 0uL), Pair(status.pending, status.rejected), p.name)
            assertEquals(status, p.heard.statuses.last(), "${p.name}'s sync listener heard the final status")
            assertTrue(status.online && status.lastSuccess != null, p.name)
        }
        assertEquals(EventKind.RELEASED, a.client.history(P1).first().event.kind)
        assertEquals(c.client.identity()!!.deviceId, a.client.history(P1).first().event.deviceId)
        assertEquals(DiscrepancyStatus.RESOLVED, b.client.countDiscrepancies(session).single().status)
        assertEquals(request, b.client.countDiscrepancies(session).single().adjustmentId)
        assertTrue(a.heard.changes.containsAll(listOf(ChangeKind.INVENTORY, ChangeKind.COUNT_SESSIONS, ChangeKind.ADJUSTMENTS, ChangeKind.SIGN_IN)))
    }

    run.step("a revoked phone is refused by the server at once") {
        val lost = Phone("lost", dir)
        runBlocking { lost.client.enrol(url, runBlocking { b.client.issueEnrolmentCode() }.code, "lost phone") }
        lost.sync()
        val lostId = lost.client.identity()!!.deviceId
        // Only a manager may revoke: Omar, signed in on the handheld, is refused by the server.
        assertRefusal<CustodyException.NotAllowed>("only a manager or admin may do this") { runBlocking { a.client.revokeDevice(lostId) } }
        lost.sync()
        runBlocking { b.client.revokeDevice(lostId) }
        assertRefusal<CustodyException.Unauthorized>("revoked") { lost.sync() }
        lost.client.close()
    }

    run.step("a new PIN from the office signs Omar out of the handheld at its next sync; he signs in online with it") {
        assertEquals("Omar Floor", a.client.currentUser()?.name)
        val omar = b.client.people().single { it.badge == OMAR_BADGE }
        assertTrue(omar.active)
        assertTrue(a.client.people().single { it.badge == OMAR_BADGE }.signsInHere)
        assertRefusal<CustodyException.NotAllowed>("only a manager or admin may do this") { runBlocking { a.client.resetPin(omar.id, "2580") } }
        runBlocking { b.client.resetPin(omar.id, "2580") }
        val heardBefore = a.heard.changes.size
        a.sync()
        assertNull(a.client.currentUser(), "signed out by the sync")
        assertTrue(ChangeKind.SIGN_IN in a.heard.changes.drop(heardBefore), "the app hears that who is signed in changed")
        assertFalse(a.client.people().single { it.badge == OMAR_BADGE }.signsInHere, "his old key is erased from the handheld")
        assertRefusal<CustodyException.BadCredentials>("badge or PIN not recognised") { a.signIn(OMAR_BADGE, OMAR_PIN) }
        assertEquals("Omar Floor", a.signIn(OMAR_BADGE, "2580").name)
        a.sync()
        assertEquals("Omar Floor", a.client.currentUser()?.name, "his new key is good")
    }

    run.step("a manager deactivates Omar; the handheld signs him out at its next sync and refuses him after") {
        val omar = b.client.people().single { it.badge == OMAR_BADGE }
        runBlocking { b.client.deactivateUser(omar.id) }
        assertRefusal<CustodyException.Refused>("yourself") { runBlocking { b.client.deactivateUser(b.client.currentUser()!!.id) } }
        val heardBefore = a.heard.changes.size
        a.sync()
        assertNull(a.client.currentUser(), "deactivated: signed out at the next sync")
        assertTrue(ChangeKind.SIGN_IN in a.heard.changes.drop(heardBefore))
        val gone = a.client.people().single { it.badge == OMAR_BADGE }
        assertEquals(Pair(false, false), Pair(gone.active, gone.signsInHere))
        assertRefusal<CustodyException.BadCredentials>("badge or PIN not recognised") { a.signIn(OMAR_BADGE, "2580") }
        b.sync()
        assertFalse(b.client.people().single { it.badge == OMAR_BADGE }.active)
        // The handheld goes on with the others.
        assertEquals("Maria Floor", a.signIn(MARIA_BADGE, MARIA_PIN).name)
        a.sync()
        assertEquals(0uL, a.client.syncStatus().pending)
    }

    runCatching { a.client.close() }
    runCatching { b.client.close() }
    runCatching { c.client.close() }
    proxy.close()
}
