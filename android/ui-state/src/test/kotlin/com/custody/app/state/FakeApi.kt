package com.custody.app.state

import com.custody.core.AdjustmentRequest
import com.custody.core.AdjustmentStatus
import com.custody.core.CountEntry
import com.custody.core.CountScanResult
import com.custody.core.CountScope
import com.custody.core.CountSession
import com.custody.core.CountSessionSummary
import com.custody.core.CountStatus
import com.custody.core.CustodyException
import com.custody.core.DeviceIdentity
import com.custody.core.EventBody
import com.custody.core.EventKind
import com.custody.core.LedgerEvent
import com.custody.core.PendingApproval
import com.custody.core.Person
import com.custody.core.Quantity
import com.custody.core.Role
import com.custody.core.ScopedPackage
import com.custody.core.SignedInUser
import com.custody.core.SyncReport
import com.custody.core.SyncStatus
import com.custody.core.UnitOfMeasure
import java.math.BigDecimal
import java.time.Instant

/**
 * A stand-in for the client with the generated types, for the decisions that need a particular
 * answer from core (a refusal, a recount round). Its messages imitate core's; the tests that
 * check core's real words use the real client (RealBindingsTests).
 */
class FakeApi : CustodyApi {
    var identity: DeviceIdentity? = DeviceIdentity("device-1", "C11-0000001-LIC", "Green Valley Distribution", "http://127.0.0.1:1")
    val roster = mutableMapOf(
        "M-100" to ("2468" to SignedInUser("user-sam", "Sam Manager", Role.MANAGER)),
        "F-200" to ("1357" to SignedInUser("user-maria", "Maria Floor", Role.FLOOR_STAFF)),
    )
    var user: SignedInUser? = null
    var status = SyncStatus(online = false, pending = 0uL, lastSuccess = null, lastAttempt = null, lastError = null, rejected = 0uL)
    var syncFailure: CustodyException? = null
    var report = SyncReport(1u, 2uL, 0uL, 0uL, 0uL, 0uL, emptyList())

    val sessions = linkedMapOf<String, CountSession>()

    /** Every count call: (correction, tag, location, quantity). */
    val countCalls = mutableListOf<CountCall>()
    private val totals = mutableMapOf<String, BigDecimal>()

    val approvals = mutableListOf<PendingApproval>()
    val decisions = mutableListOf<Triple<String, Boolean, String>>()
    var decisionFailure: CustodyException? = null

    val received = mutableListOf<LedgerEvent>()
    var receiveFailure: CustodyException? = null

    data class CountCall(val correction: Boolean, val sessionId: String, val tag: String, val location: String, val quantity: Quantity)

    override fun identity() = identity

    override suspend fun enrol(serverUrl: String, code: String, deviceName: String): DeviceIdentity {
        if (code != "GOOD-CODE") throw CustodyException.Unauthorized("the enrolment code is unknown, used or expired; ask a manager for a new one")
        return DeviceIdentity("device-1", "C11-0000001-LIC", "Green Valley Distribution", serverUrl).also { identity = it }
    }

    override fun signIn(badge: String, pin: String): SignedInUser {
        if (identity == null) throw CustodyException.NotEnrolled("this device is not enrolled yet; enrol it with a code from a manager")
        val (expected, who) = roster[badge] ?: throw CustodyException.BadCredentials("badge or PIN not recognised")
        if (pin != expected) throw CustodyException.BadCredentials("badge or PIN not recognised")
        user = who
        return who
    }

    override fun signOut() {
        user = null
    }

    override fun currentUser() = user

    override fun syncStatus() = status

    override suspend fun syncNow(): SyncReport {
        syncFailure?.let {
            status = status.copy(online = false, lastAttempt = Instant.now())
            throw it
        }
        status = status.copy(online = true, pending = 0uL, lastSuccess = Instant.now(), lastAttempt = Instant.now(), lastError = null)
        return report
    }

    override fun scanTag(raw: String): String {
        val tag = raw.filter { !it.isWhitespace() && !it.isISOControl() }.uppercase()
        if (tag.length != 24 || !tag.all { it.isLetterOrDigit() }) {
            throw CustodyException.InvalidInput("a package tag has exactly 24 letters and digits; \"$tag\" has ${tag.length}")
        }
        return tag
    }

    override fun parseQuantity(text: String): Quantity {
        val m = Regex("""^\s*(-?\d+(?:\.\d+)?)\s*(each|mg|g|kg|oz|lb)\s*$""").find(text)
            ?: throw CustodyException.InvalidInput("\"${text.trim()}\" is not a number; enter an amount like 12.5")
        return Quantity(m.groupValues[1], UnitOfMeasure.valueOf(m.groupValues[2].uppercase()))
    }

    override fun formatQuantity(quantity: Quantity) = "${quantity.amount} ${CountModel.unitSymbol(quantity.unit)}"

    override fun countUnit(unit: UnitOfMeasure) = if (unit == UnitOfMeasure.EACH) UnitOfMeasure.EACH else UnitOfMeasure.G

    override fun receive(
        tag: String,
        item: String,
        batch: String,
        quantity: Quantity,
        location: String,
        expiresOn: String?,
        manifest: String?,
    ): LedgerEvent {
        receiveFailure?.let { throw it }
        val t = scanTag(tag)
        val event = LedgerEvent(
            id = "event-${received.size + 1}",
            tag = t,
            kind = EventKind.RECEIVED,
            body = EventBody.Received(item, batch, quantity, location, expiresOn, manifest),
            userId = user?.id ?: throw CustodyException.NotSignedIn("nobody is signed in on this device; sign in with your badge and PIN"),
            deviceId = "device-1",
            deviceSeq = received.size.toULong() + 1uL,
            recordedAt = Instant.now(),
        )
        received += event
        return event
    }

    fun addSession(
        id: String,
        status: CountStatus = CountStatus.COUNTING,
        packages: List<ScopedPackage>,
        recount: List<String> = emptyList(),
        entries: List<CountEntry> = emptyList(),
    ) {
        val round = if (status == CountStatus.RECOUNT) 2u else 1u
        sessions[id] = CountSession(
            summary = CountSessionSummary(id, "Vault A count", status, round, "Sam Manager", packages.size.toULong()),
            scope = CountScope(listOf("Vault A / Shelf 1"), emptyList()),
            inScope = packages,
            entries = entries,
            recount = recount,
            participants = emptyList(),
        )
    }

    override fun countSessions() = sessions.values.map { it.summary }

    override fun countSession(sessionId: String) =
        sessions[sessionId] ?: throw CustodyException.NotFound("there is no count session $sessionId on this device; sync, or check the session")

    override fun joinCount(sessionId: String) {
        val s = countSession(sessionId)
        if (s.summary.status == CountStatus.CLOSED) throw CustodyException.Refused("this count session is closed; nothing more can be counted in it")
    }

    override fun countScan(sessionId: String, rawTag: String, location: String, quantity: Quantity) =
        count(false, sessionId, rawTag, location, quantity)

    override fun countCorrect(sessionId: String, rawTag: String, location: String, quantity: Quantity) =
        count(true, sessionId, rawTag, location, quantity)

    private fun count(correction: Boolean, sessionId: String, rawTag: String, location: String, quantity: Quantity): CountScanResult {
        val s = countSession(sessionId)
        val tag = scanTag(rawTag)
        countCalls += CountCall(correction, sessionId, tag, location, quantity)
        val scoped = s.inScope.firstOrNull { it.tag == tag }
            ?: throw CustodyException.Refused("$tag is not in this count's scope (it should be at Vault B); count only what the session covers")
        if (s.summary.status == CountStatus.RECOUNT && tag !in s.recount) {
            throw CustodyException.Refused("$tag is not being recounted; only packages with a variance are counted again")
        }
        val amount = BigDecimal(quantity.amount)
        val total = if (correction) amount else (totals[tag] ?: BigDecimal.ZERO) + amount
        totals[tag] = total
        return CountScanResult(tag, scoped.item, s.summary.round, Quantity(total.toPlainString(), countUnit(scoped.unit)))
    }

    override fun pendingApprovals(): List<PendingApproval> {
        if (user == null) throw CustodyException.NotSignedIn("nobody is signed in on this device; sign in with your badge and PIN")
        return approvals.toList()
    }

    override fun approveAdjustment(requestId: String, note: String): List<LedgerEvent> {
        decide(requestId, true, note)
        return emptyList()
    }

    override fun rejectAdjustment(requestId: String, note: String) {
        decide(requestId, false, note)
    }

    private fun decide(requestId: String, approve: Boolean, note: String) {
        decisionFailure?.let { throw it }
        decisions += Triple(requestId, approve, note)
        approvals.removeAll { it.request.id == requestId }
    }

    companion object {
        fun request(id: String, tag: String, delta: String, by: String, sessionId: String? = null) = AdjustmentRequest(
            id = id,
            facility = "C11-0000001-LIC",
            tag = tag,
            delta = Quantity(delta, UnitOfMeasure.G),
            reasonCode = "Scale Variance",
            note = "scale drift",
            sessionId = sessionId,
            countedBy = emptyList(),
            requestedBy = Person("user-x", by, "device-2", Instant.parse("2026-11-03T10:42:00Z")),
            status = AdjustmentStatus.PENDING,
            decision = null,
            refusals = emptyList(),
        )
    }
}
