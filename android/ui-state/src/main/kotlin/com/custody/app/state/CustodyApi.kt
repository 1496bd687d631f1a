package com.custody.app.state

import com.custody.core.types.CountSession
import com.custody.core.types.CountSessionSummary
import com.custody.core.CustodyClient
import com.custody.core.Gps
import com.custody.core.types.LedgerEvent
import com.custody.core.OrderSummary
import com.custody.core.types.PendingApproval
import com.custody.core.PickList
import com.custody.core.PickResult
import com.custody.core.types.CountScanResult
import com.custody.core.types.Quantity
import com.custody.core.types.ReturnDue
import com.custody.core.RosterPerson
import com.custody.core.Route
import com.custody.core.ScannedCode
import com.custody.core.StopConfirmation
import com.custody.core.SyncReport
import com.custody.core.types.DeviceIdentity
import com.custody.core.types.InboxEntry
import com.custody.core.types.StateSubmissions
import com.custody.core.types.PatientDetails
import com.custody.core.types.SignedInUser
import com.custody.core.types.SyncStatus
import com.custody.core.types.UnitOfMeasure
import com.custody.core.PackageFlags
import com.custody.core.ReceivingDiscrepancy
import com.custody.core.ReceivingProgress
import com.custody.core.ReceivingSettings
import com.custody.core.ReceivingVerdict
import com.custody.core.StateTask
import com.custody.core.types.ReceivingSessionSummary
import com.custody.core.types.RejectReason

/**
 * The part of the generated `CustodyClient` the screens use, so a model can be tested with the
 * real client ([ClientApi]) or with a stand-in. Every method is the client's (or a top-level
 * binding function), with its types and its `CustodyException`s; nothing is added.
 *
 * Blocking methods touch only the local database and return in milliseconds, but never call them
 * on the Android main thread.
 */
interface CustodyApi {
    fun identity(): DeviceIdentity?

    suspend fun enrol(serverUrl: String, code: String, deviceName: String): DeviceIdentity

    /**
     * Badge and PIN. Offline when this phone holds the person's signing key (the PIN opens it);
     * online the first time they sign in on this phone (or after a PIN reset, or after too many
     * wrong PINs erased the key): the server checks badge and PIN and registers a key for them
     * here. `BadCredentials` for a wrong badge or PIN (offline, with how many tries are left);
     * `Offline` when it must go online and cannot.
     */
    suspend fun signIn(badge: String, pin: String): SignedInUser

    fun signOut()

    /** The facility's roster as this phone holds it; `signsInHere` says who can sign in offline. */
    fun people(): List<RosterPerson>

    fun currentUser(): SignedInUser?

    fun syncStatus(): SyncStatus

    suspend fun syncNow(): SyncReport

    /**
     * What scanner text is: a Metrc package tag, a GS1 barcode or a `LOC:` location label (core's
     * reader, the top-level `parseScan`), or `CustodyException.InvalidInput` saying why it is none
     * of them (an empty `LOC:` label included).
     */
    fun parseScan(raw: String): ScannedCode

    /**
     * What a person typed into an amount field in `unit` (core's reader, the top-level
     * `parseQuantity`): a plain number is in `unit`, a number with a unit stays as typed.
     */
    fun parseQuantity(text: String, unit: UnitOfMeasure): Quantity

    fun formatQuantity(quantity: Quantity): String

    fun countUnit(unit: UnitOfMeasure): UnitOfMeasure

    // ---- receiving against the manifest (core's session; every rule and sentence is core's) ----

    /** Imports a manifest file (its JSON text) and opens its receiving session; the session's id. */
    fun openReceiving(manifestJson: String): String

    /** The receiving sessions on this phone, open ones first. */
    fun receivingSessions(): List<ReceivingSessionSummary>

    fun receivingScan(sessionId: String, raw: String, location: String): ReceivingVerdict

    /** Checks a GS1 label against the manifest line of [rawTag]; core's sentence per mismatch. */
    fun receivingLabel(sessionId: String, rawTag: String, rawLabel: String): List<String>

    fun receivingProgress(sessionId: String): ReceivingProgress

    fun packageFlags(sessionId: String): List<PackageFlags>

    fun markInspected(sessionId: String, raw: String, note: String)

    fun recordWeight(sessionId: String, raw: String, weight: Quantity, scale: String?)

    fun recordWeightByHand(sessionId: String, raw: String, weight: Quantity, reason: String)

    fun decidePackage(sessionId: String, raw: String, reject: RejectReason?, note: String)

    fun explainWeightDifference(sessionId: String, reason: String)

    fun receivingDiscrepancies(sessionId: String): List<ReceivingDiscrepancy>

    fun completeReceiving(sessionId: String, intake: String): List<LedgerEvent>

    fun openStateTasks(): List<StateTask>

    /** The facility's receiving settings (scales, potency tolerance), read only. */
    fun receivingSettings(): ReceivingSettings

    fun countSessions(): List<CountSessionSummary>

    fun countSession(sessionId: String): CountSession

    fun joinCount(sessionId: String)

    /** What the signed-in person counted of each package this round, summed by core (by tag). */
    fun yourCounts(sessionId: String): List<CountScanResult>

    fun countScan(sessionId: String, rawTag: String, location: String, quantity: Quantity): CountScanResult

    fun countCorrect(sessionId: String, rawTag: String, location: String, quantity: Quantity): CountScanResult

    fun pendingApprovals(): List<PendingApproval>

    fun approveAdjustment(requestId: String, note: String): List<LedgerEvent>

    fun rejectAdjustment(requestId: String, note: String)

    // ---- outbound: picking and packing ----

    fun orders(): List<OrderSummary>

    fun generatePickList(orderId: String): PickList

    fun pickList(orderId: String): PickList

    fun pickScan(orderId: String, raw: String, quantity: Quantity?): PickResult

    fun pack(orderId: String, raw: String, container: String, grossWeight: Quantity)

    /**
     * What the final check would refuse now, one sentence each, writing nothing: empty when
     * packing can finish. The packing screen's checklist.
     */
    fun packingCheck(orderId: String): List<String>

    fun finishPacking(orderId: String): PickList

    // ---- outbound: the driver's route ----

    fun manifests(): List<Route>

    fun route(manifestId: String): Route

    fun depart(manifestId: String): List<LedgerEvent>

    fun confirmStop(manifestId: String, stop: UInt, confirmation: StopConfirmation): List<LedgerEvent>

    fun failStop(manifestId: String, stop: UInt, reason: String, gps: Gps?)

    /** Opens a medical order's patient; core logs every call, so only on the person's tap. */
    fun patient(orderId: String, purpose: String): PatientDetails

    // ---- outbound: return check-in at the vault ----

    /**
     * Packages out on a departed manifest that are neither delivered nor checked back in,
     * refused ones first (core's order).
     */
    fun returnsDue(): List<ReturnDue>

    /**
     * Checks a scanned package ([raw]: the label as scanned) back into stock at [location]. Core
     * refuses a package delivered, never out or on no manifest, and anyone but floor staff and
     * managers.
     */
    fun returnCheckIn(raw: String, location: String): LedgerEvent

    // ---- the state system: the receiving inbox and the state submissions screen ----

    /** The manifests the state lists for this facility (as of the last sync); empty when not connected. */
    fun receivingInbox(): List<InboxEntry>

    /** Opens receiving for a manifest of the inbox (core records the state's lab results); the session's id. */
    fun openReceivingFromInbox(manifestNumber: String): String

    /** Whether the person signed in may see the state submissions screen (core's role rule). */
    fun maySeeStateSubmissions(): Boolean

    /** The failed queue, outbox length and oldest queued write, as the server last sent them. */
    fun stateSubmissions(): StateSubmissions

    /** Every conflict: open ones first, then the resolved ones as history. */
    fun conflicts(): List<com.custody.core.types.ConflictLine>

    /** A manager resolves an open conflict (core checks role, note, and that the decision fits). */
    fun resolveConflict(
        tag: String,
        eventId: String,
        kind: com.custody.core.types.ConflictKind,
        resolution: com.custody.core.types.Resolution,
        note: String,
    ): LedgerEvent
}

/** [CustodyApi] over the real generated client: one line per method. */
class ClientApi(val client: CustodyClient) : CustodyApi {
    override fun identity() = client.identity()

    override suspend fun enrol(serverUrl: String, code: String, deviceName: String) =
        client.enrol(serverUrl, code, deviceName)

    override suspend fun signIn(badge: String, pin: String) = client.signIn(badge, pin)

    override fun signOut() = client.signOut()

    override fun people() = client.people()

    override fun currentUser() = client.currentUser()

    override fun syncStatus() = client.syncStatus()

    override suspend fun syncNow() = client.syncNow()

    override fun parseScan(raw: String) = com.custody.core.parseScan(raw)

    override fun parseQuantity(text: String, unit: UnitOfMeasure) = com.custody.core.parseQuantity(text, unit)

    override fun formatQuantity(quantity: Quantity) = com.custody.core.formatQuantity(quantity)

    override fun countUnit(unit: UnitOfMeasure) = com.custody.core.countUnit(unit)

    override fun openReceiving(manifestJson: String) = client.openReceiving(manifestJson)

    override fun receivingSessions() = client.receivingSessions()

    override fun receivingScan(sessionId: String, raw: String, location: String) = client.receivingScan(sessionId, raw, location)

    override fun receivingLabel(sessionId: String, rawTag: String, rawLabel: String) = client.receivingLabel(sessionId, rawTag, rawLabel)

    override fun receivingProgress(sessionId: String) = client.receivingProgress(sessionId)

    override fun packageFlags(sessionId: String) = client.packageFlags(sessionId)

    override fun markInspected(sessionId: String, raw: String, note: String) = client.markInspected(sessionId, raw, note)

    override fun recordWeight(sessionId: String, raw: String, weight: Quantity, scale: String?) =
        client.recordWeight(sessionId, raw, weight, scale)

    override fun recordWeightByHand(sessionId: String, raw: String, weight: Quantity, reason: String) =
        client.recordWeightByHand(sessionId, raw, weight, reason)

    override fun decidePackage(sessionId: String, raw: String, reject: RejectReason?, note: String) =
        client.decidePackage(sessionId, raw, reject, note)

    override fun explainWeightDifference(sessionId: String, reason: String) = client.explainWeightDifference(sessionId, reason)

    override fun receivingDiscrepancies(sessionId: String) = client.receivingDiscrepancies(sessionId)

    override fun completeReceiving(sessionId: String, intake: String) = client.completeReceiving(sessionId, intake)

    override fun openStateTasks() = client.openStateTasks()

    override fun receivingSettings() = client.receivingSettings()

    override fun countSessions() = client.countSessions()

    override fun countSession(sessionId: String) = client.countSession(sessionId)

    override fun joinCount(sessionId: String) = client.joinCount(sessionId)

    override fun yourCounts(sessionId: String) = client.yourCounts(sessionId)

    override fun countScan(sessionId: String, rawTag: String, location: String, quantity: Quantity) =
        client.countScan(sessionId, rawTag, location, quantity)

    override fun countCorrect(sessionId: String, rawTag: String, location: String, quantity: Quantity) =
        client.countCorrect(sessionId, rawTag, location, quantity)

    override fun pendingApprovals() = client.pendingApprovals()

    override fun approveAdjustment(requestId: String, note: String) = client.approveAdjustment(requestId, note)

    override fun rejectAdjustment(requestId: String, note: String) = client.rejectAdjustment(requestId, note)

    override fun orders() = client.orders()

    override fun generatePickList(orderId: String) = client.generatePickList(orderId)

    override fun pickList(orderId: String) = client.pickList(orderId)

    override fun pickScan(orderId: String, raw: String, quantity: Quantity?) = client.pickScan(orderId, raw, quantity)

    override fun pack(orderId: String, raw: String, container: String, grossWeight: Quantity) =
        client.pack(orderId, raw, container, grossWeight)

    override fun packingCheck(orderId: String) = client.packingCheck(orderId)

    override fun finishPacking(orderId: String) = client.finishPacking(orderId)

    override fun manifests() = client.manifests()

    override fun route(manifestId: String) = client.route(manifestId)

    override fun depart(manifestId: String) = client.depart(manifestId)

    override fun confirmStop(manifestId: String, stop: UInt, confirmation: StopConfirmation) =
        client.confirmStop(manifestId, stop, confirmation)

    override fun failStop(manifestId: String, stop: UInt, reason: String, gps: Gps?) = client.failStop(manifestId, stop, reason, gps)

    override fun patient(orderId: String, purpose: String) = client.patient(orderId, purpose)

    override fun returnsDue() = client.returnsDue()

    override fun returnCheckIn(raw: String, location: String) = client.returnCheckIn(raw, location)

    override fun receivingInbox() = client.receivingInbox()

    override fun openReceivingFromInbox(manifestNumber: String) = client.openReceivingFromInbox(manifestNumber)

    override fun maySeeStateSubmissions() = client.maySeeStateSubmissions()

    override fun stateSubmissions() = client.stateSubmissions()

    override fun conflicts() = client.conflicts()

    override fun resolveConflict(
        tag: String,
        eventId: String,
        kind: com.custody.core.types.ConflictKind,
        resolution: com.custody.core.types.Resolution,
        note: String,
    ) = client.resolveConflict(tag, eventId, kind, resolution, note)
}
