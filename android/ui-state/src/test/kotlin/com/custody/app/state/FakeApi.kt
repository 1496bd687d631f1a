package com.custody.app.state

import com.custody.core.Cancelled
import com.custody.core.Container
import com.custody.core.types.CountScope
import com.custody.core.types.CountSession
import com.custody.core.types.CountSessionSummary
import com.custody.core.types.CustodyException
import com.custody.core.types.EventBody
import com.custody.core.Gps
import com.custody.core.types.LedgerEvent
import com.custody.core.types.OrderLine
import com.custody.core.OrderSummary
import com.custody.core.types.PendingApproval
import com.custody.core.PickLine
import com.custody.core.PickList
import com.custody.core.PickResult
import com.custody.core.types.Quantity
import com.custody.core.types.ReturnDue
import com.custody.core.RosterPerson
import com.custody.core.Route
import com.custody.core.RoutePackage
import com.custody.core.RouteStop
import com.custody.core.ScannedCode
import com.custody.core.types.ScopedPackage
import com.custody.core.StopConfirmation
import com.custody.core.SyncReport
import com.custody.core.normalizePackageTag
import com.custody.core.PackageFlags
import com.custody.core.ReceivingDiscrepancy
import com.custody.core.ReceivingProgress
import com.custody.core.ReceivingSettings
import com.custody.core.ReceivingVerdict
import com.custody.core.ReceivingVerdictKind
import com.custody.core.Scale
import com.custody.core.StateTask
import com.custody.core.types.ReceivingSessionSummary
import com.custody.core.types.RejectReason
import com.custody.core.types.AdjustmentRequest
import com.custody.core.types.AdjustmentStatus
import com.custody.core.types.CountEntry
import com.custody.core.types.CountScanResult
import com.custody.core.types.CountStatus
import com.custody.core.types.Customer
import com.custody.core.types.DeliveryOutcome
import com.custody.core.types.DeviceIdentity
import com.custody.core.types.EventKind
import com.custody.core.types.InboxEntry
import com.custody.core.types.StateSubmissions
import com.custody.core.types.OrderStatus
import com.custody.core.types.PatientDetails
import com.custody.core.types.Person
import com.custody.core.types.ReturnKind
import com.custody.core.types.Role
import com.custody.core.types.SignedInUser
import com.custody.core.types.StopState
import com.custody.core.types.SyncStatus
import com.custody.core.types.UnitOfMeasure
import com.custody.core.types.Vehicle
import com.custody.core.unitSymbol
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

    data class CountCall(val correction: Boolean, val sessionId: String, val tag: String, val location: String, val quantity: Quantity)

    override fun identity() = identity

    override suspend fun enrol(serverUrl: String, code: String, deviceName: String): DeviceIdentity {
        if (code != "GOOD-CODE") throw CustodyException.Unauthorized("the enrolment code is unknown, used or expired; ask a manager for a new one")
        return DeviceIdentity("device-1", "C11-0000001-LIC", "Green Valley Distribution", serverUrl).also { identity = it }
    }

    /** Badges whose key this phone holds (they sign in offline); the others go to the server. */
    val keysHere = mutableSetOf<String>()

    /** Whether the server can be reached for a first sign-in. */
    var serverReachable = true

    /** Wrong PINs in a row per badge with a key here; at 5 the key is erased (as core does). */
    private val wrongPins = mutableMapOf<String, Int>()

    /** Called while [signIn] runs, before it answers: what the screen shows during the check. */
    var duringSignIn: (suspend () -> Unit)? = null

    /** How many times [signIn] was called. */
    var signInCalls = 0

    override suspend fun signIn(badge: String, pin: String): SignedInUser {
        signInCalls++
        duringSignIn?.invoke()
        if (identity == null) throw CustodyException.NotEnrolled("this device is not enrolled yet; enrol it with a code from a manager")
        val entry = roster[badge]
        if (badge in keysHere && entry != null) {
            if (pin != entry.first) {
                val wrong = (wrongPins[badge] ?: 0) + 1
                wrongPins[badge] = wrong
                if (wrong >= 5) {
                    keysHere -= badge
                    throw CustodyException.Offline("too many wrong PINs: this phone has erased your signing key; connect to the network and sign in again")
                }
                throw CustodyException.BadCredentials("badge or PIN not recognised; ${5 - wrong} more wrong PINs and this phone erases your key (then sign in online)")
            }
            wrongPins.remove(badge)
        } else {
            if (!serverReachable) {
                throw CustodyException.Offline(
                    "this phone does not hold your signing key yet (first sign-in here, a new PIN, or too many wrong PINs); connect to the network and sign in again",
                )
            }
            if (entry == null || pin != entry.first) throw CustodyException.BadCredentials("badge or PIN not recognised; try again or ask a manager")
            keysHere += badge
        }
        user = entry.second
        return entry.second
    }

    override fun people() = roster.map { (badge, entry) ->
        val who = entry.second
        RosterPerson(who.id, who.name, who.role, badge, active = true, signsInHere = badge in keysHere)
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

    /** Package tags are read by core's one tag reader, as the real client reads them. */
    private fun scanTag(raw: String): String = normalizePackageTag(raw)

    /**
     * Core's scan reader for what the tests scan: `LOC:` labels (any case, trimmed; one with no
     * name refused), package tags (read by core's [normalizePackageTag]), GS1 barcodes written with
     * their (AI)s; anything else refused. The sentences are core's, and RealBindingsTests checks
     * that the real `parseScan` answers these cases the same way.
     */
    override fun parseScan(raw: String): ScannedCode {
        val text = raw.trim { it.isWhitespace() || it.isISOControl() }
        if (text.isEmpty()) throw CustodyException.InvalidInput("the scan is empty: scan again")
        if (text.startsWith("LOC:", ignoreCase = true)) {
            val name = text.substring(4).trim { it.isWhitespace() || it.isISOControl() }
            if (name.isEmpty()) throw CustodyException.InvalidInput("the location is empty: scan or type it again")
            return ScannedCode.Location(name)
        }
        if (GS1.matches(text)) {
            val ais = GS1_AI.findAll(text).associate { it.groupValues[1] to it.groupValues[2] }
            val expiry = ais["17"]?.let { "20${it.substring(0, 2)}-${it.substring(2, 4)}-${it.substring(4, 6)}" }
            return ScannedCode.Gs1(gtin = ais["01"], batch = ais["10"], expiry = expiry, serial = ais["21"], netWeight = null)
        }
        val compact = text.filter { it != ' ' }.uppercase()
        if (compact.startsWith("1A4") || (compact.length == 24 && compact.all { it.isLetterOrDigit() })) {
            return ScannedCode.Package(scanTag(text))
        }
        throw CustodyException.InvalidInput("this is not a package tag, a GS1 barcode or a location label: '$text'")
    }

    override fun parseQuantity(text: String, unit: UnitOfMeasure) = com.custody.core.parseQuantity(text, unit)

    override fun formatQuantity(quantity: Quantity) = "${quantity.amount} ${unitSymbol(quantity.unit)}"

    override fun countUnit(unit: UnitOfMeasure) = if (unit == UnitOfMeasure.EACH) UnitOfMeasure.EACH else UnitOfMeasure.G

    // ---- receiving: one session at a time, enough to drive the model's decisions ----

    /** The manifest the fake session holds: tag -> item. */
    val manifest = linkedMapOf<String, String>()
    var manifestNumber = "0001234567"
    /** Core's flag sentences per tag (the fake does not compute them; a test sets them). */
    val flags = mutableMapOf<String, List<String>>()
    val scans = mutableMapOf<String, String>()
    val weights = mutableMapOf<String, Pair<Quantity, String?>>()
    val decisionsMade = mutableMapOf<String, Pair<RejectReason?, String>>()
    var sessionCompleted = false
    var scales = listOf(Scale("Bay scale 1", "2027-06-30", true), Scale("Old scale", "2026-11-01", false))

    override fun openReceiving(manifestJson: String): String {
        signedIn()
        if (!manifestJson.trim().startsWith("{")) throw CustodyException.InvalidInput("the manifest file could not be read: it is not JSON")
        return "session-$manifestNumber"
    }

    override fun receivingSessions() = listOf(ReceivingSessionSummary("session-$manifestNumber", manifestNumber, "Emerald Extracts", manifest.size.toULong(), sessionCompleted))

    override fun receivingScan(sessionId: String, raw: String, location: String): ReceivingVerdict {
        val who = signedIn()
        val tag = scanTag(raw)
        scans[tag]?.let { by -> return ReceivingVerdict(ReceivingVerdictKind.DUPLICATE, tag, "$tag was already scanned by $by at 10:42", null, by, Instant.now()) }
        scans[tag] = who.name
        val item = manifest[tag] ?: return ReceivingVerdict(ReceivingVerdictKind.UNEXPECTED, tag, "$tag is not on this manifest; set it aside", null, null, null)
        return ReceivingVerdict(ReceivingVerdictKind.MATCHED, tag, "$tag: $item", item, null, null)
    }

    override fun receivingLabel(sessionId: String, rawTag: String, rawLabel: String): List<String> {
        val code = parseScan(rawLabel) as? ScannedCode.Gs1 ?: throw CustodyException.InvalidInput("that is not a product label; scan the GS1 barcode on the package")
        val tag = scanTag(rawTag)
        val mismatch = listOfNotNull(code.batch?.takeIf { it != "LR-1" }?.let { "the label says batch ${it.uppercase()} but the manifest says batch LR-1" })
        flags[tag] = flags[tag].orEmpty() + mismatch
        return mismatch
    }

    override fun receivingProgress(sessionId: String) = ReceivingProgress(
        manifestNumber, "Emerald Extracts", manifest.size.toUInt(),
        matched = scans.keys.filter { it in manifest }, unexpected = scans.keys.filter { it !in manifest },
        scannedTwice = emptyList(), missing = manifest.keys.filter { it !in scans },
    )

    override fun packageFlags(sessionId: String) = manifest.keys.map { PackageFlags(it, flags[it].orEmpty()) }

    override fun markInspected(sessionId: String, raw: String, note: String) {
        signedIn()
    }

    override fun recordWeight(sessionId: String, raw: String, weight: Quantity, scale: String?) {
        signedIn()
        if (weight.amount.substringAfter('.', "").length > 2) {
            throw CustodyException.InvalidInput("${weight.amount} g is finer than the 0.01 g receiving weighs to; enter the weight to two decimals of a gram")
        }
        weights[scanTag(raw)] = weight to scale
    }

    override fun recordWeightByHand(sessionId: String, raw: String, weight: Quantity, reason: String) {
        if (reason.isBlank()) throw CustodyException.InvalidInput("say why: a reason is needed")
        recordWeight(sessionId, raw, weight, null)
    }

    override fun decidePackage(sessionId: String, raw: String, reject: RejectReason?, note: String) {
        val who = signedIn()
        val tag = scanTag(raw)
        val flagged = flags[tag].orEmpty()
        if (reject == null && flagged.isNotEmpty() && (who.role != Role.MANAGER || note.isBlank())) {
            throw CustodyException.Refused("$tag failed its checks (${flagged.joinToString(", ")}); only a manager may accept it, with a note")
        }
        decisionsMade[tag] = reject to note
    }

    override fun explainWeightDifference(sessionId: String, reason: String) {
        signedIn()
    }

    override fun receivingDiscrepancies(sessionId: String) =
        manifest.keys.filter { it !in decisionsMade }.map { ReceivingDiscrepancy("$it is neither accepted nor rejected", false) }

    override fun completeReceiving(sessionId: String, intake: String): List<LedgerEvent> {
        val open = receivingDiscrepancies(sessionId)
        if (open.isNotEmpty()) throw CustodyException.Refused("the session cannot be completed yet: ${open.joinToString("; ") { it.text }}")
        sessionCompleted = true
        return decisionsMade.filter { it.value.first == null }.keys.mapIndexed { i, tag ->
            val (weight, _) = weights.getValue(tag)
            LedgerEvent(
                id = "event-${i + 1}", tag = tag, kind = EventKind.RECEIVED,
                body = EventBody.Received(manifest.getValue(tag), "LR-1", weight, intake, null, manifestNumber),
                userId = signedIn().id, deviceId = "device-1", deviceSeq = i.toULong() + 1uL, recordedAt = Instant.now(),
            ).also { received += it }
        }
    }

    override fun openStateTasks() =
        if (sessionCompleted) listOf(StateTask("session-$manifestNumber", "accept manifest $manifestNumber in the state system")) else emptyList()

    override fun receivingSettings() = ReceivingSettings("2.0", scales)

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

    /** The fake's stand-in for core's sum (the real one is checked in RealBindingsTests and Scenario.kt). */
    override fun yourCounts(sessionId: String): List<CountScanResult> {
        val me = user?.id ?: throw CustodyException.NotSignedIn("nobody is signed in on this device; sign in with your badge and PIN")
        val s = countSession(sessionId)
        return s.entries.filter { it.userId == me && it.round == s.summary.round }
            .groupBy { it.tag }
            .toSortedMap()
            .map { (tag, entries) ->
                val total = entries.fold(BigDecimal.ZERO) { acc, e -> acc + BigDecimal(e.counted.amount) }
                val item = s.inScope.firstOrNull { it.tag == tag }?.item ?: tag
                CountScanResult(tag, item, s.summary.round, Quantity(total.toPlainString(), entries.first().counted.unit))
            }
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

    // ---- outbound ----

    /** Orders on this "device" with their pick lists, by order id. */
    val pickLists = linkedMapOf<String, PickList>()

    /** Packages on the shelf that are not on any pick list: tag -> item (for a wrong-package refusal). */
    val shelf = mutableMapOf<String, String>()
    val pickCalls = mutableListOf<PickCall>()
    val packCalls = mutableListOf<PackCall>()
    var finishCalls = 0
    var packingChecks = 0
    var packingCheckFailure: CustodyException? = null

    val routes = linkedMapOf<String, Route>()
    val confirmations = mutableListOf<Pair<UInt, StopConfirmation>>()
    val failedStops = mutableListOf<Triple<UInt, String, Gps?>>()

    /** Sealed patient records this device holds, by order id. */
    val patients = mutableMapOf<String, PatientDetails>()

    /** Every patient() call: (order id, purpose). Core logs each one; so must the tests. */
    val patientCalls = mutableListOf<Pair<String, String>>()

    data class PickCall(val orderId: String, val raw: String, val quantity: Quantity?)

    data class PackCall(val orderId: String, val tag: String, val container: String, val grossWeight: Quantity)

    private fun signedIn(): SignedInUser =
        user ?: throw CustodyException.NotSignedIn("nobody is signed in on this device; sign in with your badge and PIN")

    private fun role(r: Role) = HomeModel.roleName(r).lowercase()

    override fun orders() = pickLists.values.map { it.order }

    override fun generatePickList(orderId: String): PickList {
        val who = signedIn()
        if (who.role != Role.MANAGER) throw CustodyException.NotAllowed("${role(who.role)} may not allocate stock; ask a manager")
        val list = pickList(orderId)
        return list.copy(order = list.order.copy(status = OrderStatus.ALLOCATED)).also { pickLists[orderId] = it }
    }

    override fun pickList(orderId: String) =
        pickLists[orderId] ?: throw CustodyException.NotFound("there is no order $orderId on this device; sync, or check the order")

    override fun pickScan(orderId: String, raw: String, quantity: Quantity?): PickResult {
        val who = signedIn()
        val list = pickList(orderId)
        pickCalls += PickCall(orderId, raw, quantity)
        val tag = (parseScan(raw) as? ScannedCode.Package)?.tag
            ?: throw CustodyException.InvalidInput("that is not a package tag; scan the package's Metrc tag")
        if (list.order.status != OrderStatus.ALLOCATED) {
            throw CustodyException.Refused("order ${list.order.number} is ${list.order.status.name.lowercase()}; nothing can be picked for it")
        }
        val line = list.lines.firstOrNull { it.tag == tag } ?: run {
            val waiting = list.lines.firstOrNull { it.item == shelf[tag] && it.pickedTag == null }
            throw CustodyException.Refused(
                if (waiting != null) {
                    "$tag is not the package allocated: the pick list says ${waiting.tag} (${waiting.location}); take that one, or ask a manager to approve a substitute"
                } else {
                    "$tag is not on this pick list; put it back"
                },
            )
        }
        if (line.pickedTag != null) throw CustodyException.Refused("$tag was already picked by ${line.pickedBy}")
        val split = line.splitInto
        if (split != null && quantity == null) {
            throw CustodyException.InvalidInput("$tag is split on this pick list: weigh out ${formatQuantity(line.quantity)} and enter the weight")
        }
        if (quantity != null && !same(quantity, line.quantity)) {
            throw CustodyException.Refused("$tag: the pick list needs ${formatQuantity(line.quantity)}, not ${formatQuantity(quantity)}")
        }
        val picked = split ?: tag
        val lines = list.lines.map { if (it === line) it.copy(pickedBy = who.name, pickedTag = picked) else it }
        pickLists[orderId] = list.copy(lines = lines)
        return PickResult(picked, line.line, line.quantity, if (split != null) tag else null, lines.count { it.pickedTag == null }.toUInt())
    }

    override fun pack(orderId: String, raw: String, container: String, grossWeight: Quantity) {
        val list = pickList(orderId)
        val tag = scanTag(raw)
        if (container.isBlank()) throw CustodyException.InvalidInput("a container needs a number or label; scan or type it")
        if (grossWeight.unit == UnitOfMeasure.EACH || BigDecimal(grossWeight.amount).signum() <= 0) {
            throw CustodyException.InvalidInput("a gross weight must be a weight (mg, g, kg, oz or lb) above zero")
        }
        val line = list.lines.firstOrNull { it.pickedTag == tag }
            ?: throw CustodyException.Refused("$tag has not been picked for this order; pick it before packing")
        packCalls += PackCall(orderId, tag, container.trim(), grossWeight)
        pickLists[orderId] = list.copy(lines = list.lines.map { if (it === line) it.copy(container = container.trim()) else it })
    }

    override fun packingCheck(orderId: String): List<String> {
        packingChecks += 1
        packingCheckFailure?.let { throw it }
        return missingOf(pickList(orderId))
    }

    /** The final check's findings, in core's words (core also names lines picked short). */
    private fun missingOf(list: PickList): List<String> =
        list.lines.filter { it.pickedTag == null }.map { "${it.tag} (${it.location}) not picked" } +
            list.lines.filter { it.pickedTag != null && it.container == null }.map { "${it.pickedTag} not in a container" }

    override fun finishPacking(orderId: String): PickList {
        finishCalls += 1
        val list = pickList(orderId)
        if (list.order.status != OrderStatus.ALLOCATED) {
            throw CustodyException.Refused("order ${list.order.number} is ${list.order.status.name.lowercase()}; there is nothing to pack")
        }
        val missing = missingOf(list)
        if (missing.isNotEmpty()) throw CustodyException.Refused("packing is not finished: ${missing.joinToString("; ")}")
        val containers = list.lines.groupBy { it.container!! }.map { (number, lines) -> Container(number, lines.map { it.pickedTag!! }) }
        return list.copy(order = list.order.copy(status = OrderStatus.PACKED), containers = containers).also { pickLists[orderId] = it }
    }

    /** Core's refusal of the next departure (a package already gone on another manifest...). */
    var departFailure: CustodyException? = null

    override fun manifests() = routes.values.toList()

    override fun route(manifestId: String) =
        routes[manifestId] ?: throw CustodyException.NotFound("there is no manifest $manifestId on this device; sync, or check the manifest")

    override fun depart(manifestId: String): List<LedgerEvent> {
        signedIn()
        val r = route(manifestId)
        if (r.departedAt != null) throw CustodyException.Refused("this manifest departed at 08:00 (${r.driverName})")
        r.cancelled?.let { throw CustodyException.Refused("manifest ${r.number} was cancelled by ${it.by} (${it.reason}); do not load it") }
        departFailure?.let { throw it }
        routes[manifestId] = r.copy(departedAt = Instant.now())
        return r.stops.flatMap { it.packages }.map { event(it.tag, EventKind.SHIPPED, EventBody.Shipped(r.number)) }
    }

    override fun confirmStop(manifestId: String, stop: UInt, confirmation: StopConfirmation): List<LedgerEvent> {
        signedIn()
        if (confirmation.receiverName.isBlank() || confirmation.receiverLicence.isBlank()) {
            throw CustodyException.InvalidInput("enter the receiver's name and licence number")
        }
        val s = stopOf(manifestId, stop)
        confirmation.refused.forEach { if (it.reason.isBlank()) throw CustodyException.InvalidInput("say why ${it.tag} was refused") }
        confirmations += stop to confirmation
        val refused = confirmation.refused.associate { it.tag to it.reason }
        update(manifestId, s.copy(
            state = StopState.DONE,
            receiverName = confirmation.receiverName,
            receiverLicence = confirmation.receiverLicence,
            confirmedAt = Instant.now(),
            packages = s.packages.map { p ->
                p.copy(outcome = if (p.tag in refused) DeliveryOutcome.REFUSED else DeliveryOutcome.DELIVERED, reason = refused[p.tag], at = Instant.now())
            },
        ))
        return s.packages.filter { it.tag !in refused }.map { event(it.tag, EventKind.DELIVERED, EventBody.Delivered(s.recipient.licence)) }
    }

    override fun failStop(manifestId: String, stop: UInt, reason: String, gps: Gps?) {
        signedIn()
        if (reason.isBlank()) throw CustodyException.InvalidInput("say why: a reason is needed")
        val s = stopOf(manifestId, stop)
        failedStops += Triple(stop, reason, gps)
        update(manifestId, s.copy(
            state = StopState.FAILED,
            failedReason = reason,
            packages = s.packages.map { it.copy(outcome = DeliveryOutcome.REFUSED, reason = reason) },
        ))
    }

    override fun patient(orderId: String, purpose: String): PatientDetails {
        val who = signedIn()
        patientCalls += orderId to purpose
        if (who.role != Role.MANAGER && who.role != Role.DRIVER) {
            throw CustodyException.NotAllowed("${role(who.role)} may not see patient details; ask a manager")
        }
        return patients[orderId] ?: throw CustodyException.Refused("this device does not hold that patient's details; sync while online")
    }

    // ---- returns at the vault ----

    /** What core lists as due back, in its order (refused first). */
    val due = mutableListOf<ReturnDue>()

    /** Packages delivered: tag -> (recipient, stop), for core's refusal to take them back. */
    val deliveredTo = mutableMapOf<String, Pair<String, Int>>()

    /** Packages in stock that never went out: tag -> their status as core names it ("active"). */
    val inStock = mutableMapOf<String, String>()

    /** Every returnCheckIn call: (raw, location). */
    val returnCalls = mutableListOf<Pair<String, String>>()
    var returnsFailure: CustodyException? = null

    override fun returnsDue(): List<ReturnDue> {
        returnsFailure?.let { throw it }
        return due.toList()
    }

    /** Core's checks in core's order: the location, who asks, the scan, then the package's state. */
    override fun returnCheckIn(raw: String, location: String): LedgerEvent {
        returnCalls += raw to location
        val where = location.trim()
        if (where.isEmpty()) throw CustodyException.InvalidInput("the location is empty: scan or type it again")
        val who = signedIn()
        if (who.role != Role.FLOOR_STAFF && who.role != Role.MANAGER) {
            throw CustodyException.NotAllowed("${role(who.role)} may not check returns in; ask a manager")
        }
        val tag = (parseScan(raw) as? ScannedCode.Package)?.tag
            ?: throw CustodyException.InvalidInput("that is not a package tag; scan the package's Metrc tag")
        deliveredTo[tag]?.let { (recipient, stop) ->
            throw CustodyException.Refused("$tag was delivered to $recipient at stop $stop; it cannot be checked back in")
        }
        inStock[tag]?.let { status ->
            throw CustodyException.Refused("$tag is $status; only a package that went out and was not delivered, or was picked for a cancelled order, can be checked in")
        }
        val row = due.firstOrNull { it.tag == tag }
            ?: throw CustodyException.NotFound("$tag is not in this facility's records; check the tag, or sync")
        due.remove(row)
        return event(tag, EventKind.RETURNED, EventBody.Returned(where, row.reason))
    }

    // ---- the state system ----

    val inbox = mutableListOf<InboxEntry>()
    val openedFromInbox = mutableListOf<String>()
    var submissions: StateSubmissions? = null

    override fun receivingInbox(): List<InboxEntry> = inbox.toList()

    override fun openReceivingFromInbox(manifestNumber: String): String {
        val who = signedIn()
        if (who.role != Role.FLOOR_STAFF && who.role != Role.MANAGER && who.role != Role.COMPLIANCE) {
            throw CustodyException.NotAllowed("${role(who.role)} may not receive packages")
        }
        val i = inbox.indexOfFirst { it.manifestNumber == manifestNumber.trim() }
        if (i < 0) {
            throw CustodyException.NotFound("manifest $manifestNumber is not in this facility's inbox from the state system; sync and pick it from the inbox again, or import the manifest file")
        }
        val id = "session-$manifestNumber"
        inbox[i] = inbox[i].copy(session = id)
        openedFromInbox += manifestNumber
        return id
    }

    override fun maySeeStateSubmissions(): Boolean = user?.role == Role.MANAGER || user?.role == Role.COMPLIANCE

    override fun stateSubmissions(): StateSubmissions {
        val who = signedIn()
        if (who.role != Role.MANAGER && who.role != Role.COMPLIANCE) {
            throw CustodyException.Refused("${role(who.role)} may not see the state submissions; ask a manager or compliance officer")
        }
        return submissions ?: StateSubmissions(null, null, null, Instant.parse("2026-12-03T17:00:00Z"), "America/Los_Angeles")
    }

    /** The fold's conflicts, as core lists them. */
    val conflictLines = mutableListOf<com.custody.core.types.ConflictLine>()

    override fun conflicts(): List<com.custody.core.types.ConflictLine> {
        signedIn()
        return conflictLines.sortedBy { it.conflict.resolved != null }
    }

    /** Core's checks, in core's words: managers only, a note, an open conflict, a fitting decision. */
    override fun resolveConflict(
        tag: String,
        eventId: String,
        kind: com.custody.core.types.ConflictKind,
        resolution: com.custody.core.types.Resolution,
        note: String,
    ): LedgerEvent {
        val who = signedIn()
        if (who.role != Role.MANAGER) throw CustodyException.NotAllowed("only a manager may resolve a conflict; ${who.name} is ${role(who.role)}")
        if (note.isBlank()) throw CustodyException.InvalidInput("a resolution needs a note saying what was found and checked; write it and resolve again")
        val i = conflictLines.indexOfFirst { it.conflict.tag == tag && it.conflict.eventId == eventId && it.conflict.kind == kind }
        if (i < 0) throw CustodyException.NotFound("there is no conflict raised by event $eventId for $tag on this phone; sync, then pick it from the list")
        val line = conflictLines[i]
        if (line.conflict.resolved != null) throw CustodyException.Refused("this conflict of $tag was already resolved by ${line.resolvedBy}; nothing changed")
        if (resolution is com.custody.core.types.Resolution.LocatedAt && resolution.location.isBlank()) {
            throw CustodyException.InvalidInput("a location name cannot be empty")
        }
        val e = event(tag, EventKind.CONFLICT_RESOLVED, EventBody.ConflictResolved(eventId, kind, resolution, note))
        val done = com.custody.core.types.ConflictResolution(e.id, who.id, Instant.parse("2026-12-03T17:30:00Z"), resolution, note)
        conflictLines[i] = com.custody.core.types.ConflictLine(line.conflict.copy(resolved = done), who.name)
        resolutions += e
        return e
    }

    val resolutions = mutableListOf<LedgerEvent>()

    private fun stopOf(manifestId: String, stop: UInt): RouteStop {
        val r = route(manifestId)
        if (r.departedAt == null) throw CustodyException.Refused("the route has not departed; start it first")
        val s = r.stops.firstOrNull { it.number == stop } ?: throw CustodyException.Refused("this route has no stop $stop")
        if (s.state != StopState.PENDING) throw CustodyException.Refused("stop $stop was already confirmed by ${r.driverName} at 10:00")
        return s
    }

    private fun update(manifestId: String, stop: RouteStop) {
        val r = route(manifestId)
        routes[manifestId] = r.copy(stops = r.stops.map { if (it.number == stop.number) stop else it })
    }

    private fun same(a: Quantity, b: Quantity) = a.unit == b.unit && BigDecimal(a.amount).compareTo(BigDecimal(b.amount)) == 0

    private var eventSeq = 0uL

    private fun event(tag: String, kind: EventKind, body: EventBody) = LedgerEvent(
        id = "event-${++eventSeq}",
        tag = tag,
        kind = kind,
        body = body,
        userId = signedIn().id,
        deviceId = "device-1",
        deviceSeq = eventSeq,
        recordedAt = Instant.now(),
    )

    companion object {
        private val GS1 = Regex("""^(\(\d{2,4}\)[^()]+)+$""")
        private val GS1_AI = Regex("""\((\d{2,4})\)([^()]+)""")

        val GREEN_LEAF = Customer("C10-0000123-LIC", "Green Leaf Dispensary", "12 Main St, Sacramento")

        fun order(id: String, number: String, status: OrderStatus, patientRef: String? = null, lines: Int = 1) = OrderSummary(
            id = id,
            number = number,
            recipient = GREEN_LEAF,
            requestedOn = "2026-12-01",
            status = status,
            patientRef = patientRef,
            lines = (1..lines).map { OrderLine(it.toUInt(), "Item $it", Quantity("1", UnitOfMeasure.EACH), "10.00") },
        )

        fun pickLine(
            line: Int,
            tag: String,
            item: String,
            quantity: Quantity,
            location: String = "Vault A / Shelf 1",
            splitInto: String? = null,
        ) = PickLine(
            line = line.toUInt(),
            tag = tag,
            item = item,
            batch = "B-$line",
            location = location,
            expiresOn = "2027-06-30",
            quantity = quantity,
            splitInto = splitInto,
            substituteFor = null,
            pickedBy = null,
            pickedTag = null,
            container = null,
        )

        fun routePackage(tag: String, item: String, container: String = "1") = RoutePackage(
            tag = tag,
            item = item,
            batch = "B-1",
            quantity = Quantity("1", UnitOfMeasure.EACH),
            container = container,
            grossWeight = Quantity("120", UnitOfMeasure.G),
            wholesalePrice = "10.00",
            outcome = DeliveryOutcome.PENDING,
            reason = null,
            at = null,
        )

        fun stop(number: Int, orderId: String, recipient: String, packages: List<RoutePackage>, patientRef: String? = null) = RouteStop(
            number = number.toUInt(),
            orderId = orderId,
            orderNumber = "SO-$number",
            recipient = Customer("C10-000000$number-LIC", recipient, "$number Elm St"),
            patientRef = patientRef,
            plannedRoute = "I-5 N",
            estimatedDeparture = Instant.parse("2026-12-01T08:00:00Z"),
            estimatedArrival = Instant.parse("2026-12-01T09:00:00Z").plusSeconds(3600L * number),
            state = StopState.PENDING,
            receiverName = null,
            receiverLicence = null,
            failedReason = null,
            confirmedAt = null,
            packages = packages,
        )

        fun route(id: String, stops: List<RouteStop>, departed: Boolean = false, number: String = "M-0042", cancelled: Cancelled? = null) = Route(
            id = id,
            number = number,
            driverName = "Dana Driver",
            driverUserId = "user-dana",
            vehicle = Vehicle("Ford", "Transit", "8ABC123"),
            departedAt = if (departed) Instant.parse("2026-12-01T08:05:00Z") else null,
            closed = cancelled != null,
            cancelled = cancelled,
            stops = stops,
        )

        /** A package from a truck: refused (the receiver's [why]) or not confirmed. */
        fun returnDue(tag: String, item: String, stop: Int, recipient: String, refused: Boolean, why: String = "damaged seal") = ReturnDue(
            tag = tag,
            item = item,
            batch = "B-$stop",
            quantity = Quantity("3.5", UnitOfMeasure.G),
            container = "1",
            orderNumber = "SO-$stop",
            recipient = recipient,
            manifestId = "0190f0e0-0000-7000-8000-0000000000b1",
            manifestNumber = "M-0042",
            stop = stop.toUInt(),
            kind = if (refused) ReturnKind.REFUSED else ReturnKind.NOT_CONFIRMED,
            reason = if (refused) {
                "refused at stop $stop ($recipient): $why"
            } else {
                "not delivered at stop $stop ($recipient); the driver recorded no outcome"
            },
        )

        /** A package picked (packed into [container], if given) for an order a manager cancelled: no manifest. */
        fun cancelledPick(tag: String, item: String, order: String, recipient: String, container: String?, why: String = "customer withdrew") = ReturnDue(
            tag = tag,
            item = item,
            batch = "B-9",
            quantity = Quantity("1", UnitOfMeasure.EACH),
            container = container,
            orderNumber = order,
            recipient = recipient,
            manifestId = null,
            manifestNumber = null,
            stop = null,
            kind = ReturnKind.ORDER_CANCELLED,
            reason = "put back: order $order cancelled by Sam Manager: $why",
        )

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
