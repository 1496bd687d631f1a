//! `CustodyClient`: one device store, its sync client and the app's listeners. Each method
//! converts its arguments, calls the one core function that does the work, converts the answer
//! and tells the listeners what changed. No rule of the business lives here.
//!
//! Blocking methods (everything but enrolment and sync) write to or read the local database and
//! return in milliseconds; call them off the UI thread (Kotlin `Dispatchers.IO`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use custody_core::event::EventBody as CoreBody;
use custody_core::ids;
use custody_core::receiving::{opening, session};
use custody_core::store::{Store, StoreKey};
use custody_core::sync::{RetryPolicy, SyncClient};
use custody_core::tls::ServerTrust;
use custody_core::{approvals, conflicts, counts};

use crate::error::CustodyError;
use crate::listener::{ChangeKind, ChangeListener, SyncListener};
use crate::types::*;

type Result<T, E = CustodyError> = std::result::Result<T, E>;

#[derive(uniffi::Object)]
pub struct CustodyClient {
    pub(crate) store: Arc<Store>,
    /// Replaced by `trust_server_authority`; cloned (cheaply) for each call.
    sync: Mutex<SyncClient>,
    /// One sync at a time per device; a second `sync_now` waits for the first.
    sync_lock: tokio::sync::Mutex<()>,
    sync_listener: Mutex<Option<Arc<dyn SyncListener>>>,
    change_listener: Mutex<Option<Arc<dyn ChangeListener>>>,
}

impl CustodyClient {
    fn sync_client(&self) -> SyncClient {
        self.sync.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn changed(&self, kinds: &[ChangeKind]) {
        let listener = self.change_listener.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(listener) = listener {
            for kind in kinds {
                listener.on_change(*kind);
            }
        }
    }

    fn status_changed(&self) {
        let listener = self.sync_listener.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let (Some(listener), Ok(status)) = (listener, self.store.sync_status()) {
            listener.on_status(status);
        }
    }

    fn record_body(&self, tag: &str, body: CoreBody) -> Result<LedgerEvent> {
        let event = self.store.record(&tag_in(tag)?, body)?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(event.into())
    }
}

#[uniffi::export]
impl CustodyClient {
    /// Opens (creating if needed) the device store at `db_path`, a file in the app's private
    /// storage, with `store_key`: the 32 bytes the app keeps in the Android Keystore or the iOS
    /// Keychain (generated once per installation). Every secret the store keeps at rest derives
    /// from it; a store opened with another key is refused.
    #[uniffi::constructor]
    pub fn new(db_path: String, store_key: Vec<u8>) -> Result<Arc<Self>> {
        let key = StoreKey::from_bytes(&store_key).map_err(|e| CustodyError::InvalidInput(e.to_string()))?;
        let store = Store::open(&db_path, &key)?;
        Ok(Arc::new(CustodyClient {
            store: Arc::new(store),
            sync: Mutex::new(SyncClient::default()),
            sync_lock: tokio::sync::Mutex::new(()),
            sync_listener: Mutex::new(None),
            change_listener: Mutex::new(None),
        }))
    }

    /// Trusts the certificate authority in `ca_pem` (PEM text, one or more certificates) for the
    /// sync server's certificate, beside the phone's own trusted authorities: for a private
    /// deployment whose server certificate comes from its own authority. Applies to every later
    /// enrolment and sync. `InvalidInput` if the text holds no usable certificate.
    pub fn trust_server_authority(&self, ca_pem: String) -> Result<()> {
        let trust = ServerTrust::platform_and(&ca_pem).map_err(|e| CustodyError::InvalidInput(e.to_string()))?;
        *self.sync.lock().unwrap_or_else(|p| p.into_inner()) = SyncClient::with_trust(RetryPolicy::default(), &trust);
        Ok(())
    }

    /// Replaces the sync-status listener (`null`/`nil` removes it).
    pub fn set_sync_listener(&self, listener: Option<Arc<dyn SyncListener>>) {
        *self.sync_listener.lock().unwrap_or_else(|p| p.into_inner()) = listener;
    }

    /// Replaces the change listener (`null`/`nil` removes it).
    pub fn set_change_listener(&self, listener: Option<Arc<dyn ChangeListener>>) {
        *self.change_listener.lock().unwrap_or_else(|p| p.into_inner()) = listener;
    }

    // ---- device and people ---------------------------------------------------------------

    /// This device's enrolment, or `null` before it is enrolled.
    pub fn identity(&self) -> Result<Option<DeviceIdentity>> {
        Ok(self.store.identity()?)
    }

    pub fn sign_out(&self) -> Result<()> {
        self.store.sign_out()?;
        self.changed(&[ChangeKind::SignIn]);
        Ok(())
    }

    /// Everyone on the facility's roster, by badge (for a manager's people screen).
    pub fn people(&self) -> Result<Vec<RosterPerson>> {
        let device = self.store.identity()?.map(|i| i.device_id);
        Ok(self
            .store
            .roster()?
            .into_iter()
            .map(|e| RosterPerson {
                signs_in_here: device.is_some_and(|d| e.active_key(d).is_some()),
                id: e.id,
                name: e.name,
                role: e.role,
                badge: e.badge,
                active: e.active,
            })
            .collect())
    }

    pub fn current_user(&self) -> Result<Option<SignedInUser>> {
        Ok(self.store.current_user()?)
    }

    pub fn sync_status(&self) -> Result<SyncStatus> {
        Ok(self.store.sync_status()?)
    }

    /// Folds the write-ahead log into the database file; for idle moments. Never needed for
    /// durability.
    pub fn checkpoint(&self) -> Result<()> {
        Ok(self.store.checkpoint()?)
    }

    // ---- scanning and the ledger ---------------------------------------------------------

    /// Records any change to a package by the signed-in person: one durable write, or a refusal
    /// that changes nothing.
    pub fn record(&self, tag: String, body: EventBody) -> Result<LedgerEvent> {
        let body = body.try_into()?;
        self.record_body(&tag, body)
    }

    /// Moves a package to another location (a put-away or relocation scan).
    pub fn move_package(&self, tag: String, to: String) -> Result<LedgerEvent> {
        self.record_body(&tag, CoreBody::Moved { to: location_in(&to)? })
    }

    /// Every package, by tag.
    pub fn packages(&self) -> Result<Vec<Package>> {
        Ok(self.store.packages()?)
    }

    pub fn packages_at(&self, location: String) -> Result<Vec<Package>> {
        Ok(self.store.packages_at(&location_in(&location)?)?)
    }

    /// The package with this tag (as scanned), or `null` if this device does not know it.
    pub fn find_package(&self, tag: String) -> Result<Option<Package>> {
        Ok(self.store.package(&tag_in(&tag)?)?)
    }

    /// A package's full history, newest first, with each event's sync state.
    pub fn history(&self, tag: String) -> Result<Vec<HistoryEntry>> {
        Ok(self.store.history(&tag_in(&tag)?)?.into_iter().map(Into::into).collect())
    }

    /// Every conflict: the open ones for a manager to resolve first, then the resolved ones (who,
    /// when, what and why), as history. A conflict's stable id is its `event_id` and `kind`.
    pub fn conflicts(&self) -> Result<Vec<ConflictLine>> {
        Ok(self.store.work(conflicts::conflict_list)?)
    }

    /// A manager resolves the open conflict of `tag` raised by `event_id` (its `kind`): records a
    /// resolution event the fold honours on every phone. The note is required.
    pub fn resolve_conflict(
        &self,
        tag: String,
        event_id: String,
        kind: ConflictKind,
        resolution: Resolution,
        note: String,
    ) -> Result<LedgerEvent> {
        let tag = tag_in(&tag)?;
        let conflict = custody_core::event::ConflictId { event: id_in("conflict event", &event_id)?, kind };
        let event = self.store.work(|w| conflicts::resolve_conflict(w, &tag, conflict, resolution, &note))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(event.into())
    }

    // ---- count sessions ------------------------------------------------------------------

    /// Product categories of items (item name -> category), for counts scoped by category: the
    /// state's when it sent them, else the facility's settings from the server.
    pub fn item_categories(&self) -> Result<HashMap<String, String>> {
        Ok(categories_out(self.store.work(counts::item_categories)?))
    }

    /// Opens a blind count (managers only); returns the session id.
    pub fn open_count(&self, name: String, scope: CountScope) -> Result<String> {
        let id = self.store.work(|w| counts::open_count(w, &name, scope))?;
        self.changed(&[ChangeKind::CountSessions]);
        Ok(id.to_string())
    }

    /// Count sessions on this device, newest first.
    pub fn count_sessions(&self) -> Result<Vec<CountSessionSummary>> {
        Ok(self.store.work(counts::count_sessions)?)
    }

    /// A session as counters see it (no expected quantities).
    pub fn count_session(&self, session_id: String) -> Result<CountSession> {
        let id = id_in("count session", &session_id)?;
        Ok(self.store.work(|w| counts::count_session(w, id))?)
    }

    /// What the signed-in person has counted of each package this round (all their devices
    /// added up), by tag: the lines the counting screen shows.
    pub fn your_counts(&self, session_id: String) -> Result<Vec<CountScanResult>> {
        let id = id_in("count session", &session_id)?;
        Ok(self.store.work(|w| counts::your_counts(w, id))?)
    }

    pub fn join_count(&self, session_id: String) -> Result<()> {
        let id = id_in("count session", &session_id)?;
        self.store.work(|w| counts::join_count(w, id))?;
        self.changed(&[ChangeKind::CountSessions]);
        Ok(())
    }

    /// Records a count scan: the tag as scanned, where it was found, how much is there. Adds to
    /// what this person counted of it this round.
    pub fn count_scan(&self, session_id: String, raw_tag: String, location: String, quantity: Quantity) -> Result<CountScanResult> {
        let id = id_in("count session", &session_id)?;
        let location = location_in(&location)?;
        let result = self.store.work(|w| counts::count_scan(w, id, &raw_tag, &location, quantity))?;
        self.changed(&[ChangeKind::CountSessions]);
        Ok(result)
    }

    /// Replaces what this person counted of a package this round.
    pub fn count_correct(&self, session_id: String, raw_tag: String, location: String, quantity: Quantity) -> Result<CountScanResult> {
        let id = id_in("count session", &session_id)?;
        let location = location_in(&location)?;
        let result = self.store.work(|w| counts::count_correct(w, id, &raw_tag, &location, quantity))?;
        self.changed(&[ChangeKind::CountSessions]);
        Ok(result)
    }

    /// Closes the current round (managers only).
    pub fn close_count(&self, session_id: String) -> Result<CloseOutcome> {
        let id = id_in("count session", &session_id)?;
        let outcome = self.store.work(|w| counts::close_count(w, id))?;
        self.changed(&[ChangeKind::CountSessions, ChangeKind::Inventory]);
        Ok(outcome.into())
    }

    /// Every round's comparison so far (managers and compliance).
    pub fn count_variances(&self, session_id: String) -> Result<Vec<VarianceLine>> {
        let id = id_in("count session", &session_id)?;
        Ok(self.store.work(|w| counts::count_variances(w, id))?.into_iter().map(Into::into).collect())
    }

    pub fn count_discrepancies(&self, session_id: String) -> Result<Vec<Discrepancy>> {
        let id = id_in("count session", &session_id)?;
        Ok(self.store.work(|w| counts::count_discrepancies(w, id))?.into_iter().map(Into::into).collect())
    }

    pub fn investigation(&self, session_id: String, tag: String) -> Result<Investigation> {
        let id = id_in("count session", &session_id)?;
        let tag = tag_in(&tag)?;
        Ok(self.store.work(|w| counts::investigation(w, id, &tag))?.into())
    }

    pub fn record_investigation(&self, session_id: String, tag: String, root_cause: String, corrective_action: String) -> Result<()> {
        let id = id_in("count session", &session_id)?;
        let tag = tag_in(&tag)?;
        self.store.work(|w| counts::record_investigation(w, id, &tag, &root_cause, &corrective_action))?;
        self.changed(&[ChangeKind::CountSessions]);
        Ok(())
    }

    // ---- adjustments and approvals -------------------------------------------------------

    /// The adjustment reasons a request may give: the state's list, else the facility's settings
    /// from the server, else the built-in list.
    pub fn adjustment_reasons(&self) -> Result<Vec<AdjustmentReason>> {
        Ok(self.store.work(approvals::adjustment_reasons)?)
    }

    /// Requests an adjustment; name the count session when it resolves a discrepancy. Returns
    /// the request id.
    pub fn request_adjustment(
        &self,
        tag: String,
        delta: Quantity,
        reason_code: String,
        note: String,
        session_id: Option<String>,
    ) -> Result<String> {
        let session = session_id.map(|s| id_in("count session", &s)).transpose()?;
        let tag = tag_in(&tag)?;
        let id = self.store.work(|w| approvals::request_adjustment(w, &tag, delta, &reason_code, &note, session))?;
        self.changed(&[ChangeKind::Adjustments, ChangeKind::CountSessions]);
        Ok(id.to_string())
    }

    pub fn adjustment(&self, request_id: String) -> Result<AdjustmentRequest> {
        let id = id_in("adjustment request", &request_id)?;
        Ok(self.store.work(|w| approvals::adjustment(w, id))?.into())
    }

    /// Every adjustment request on this device.
    pub fn adjustments(&self) -> Result<Vec<AdjustmentRequest>> {
        Ok(self.store.work(approvals::adjustments)?.into_iter().map(Into::into).collect())
    }

    /// Requests waiting for a decision, with whether the signed-in person may decide each.
    pub fn pending_approvals(&self) -> Result<Vec<PendingApproval>> {
        Ok(self.store.work(approvals::pending_approvals)?.into_iter().map(Into::into).collect())
    }

    /// Approves a request: the decision, the adjustment and the end of the quarantine commit
    /// together. Returns the ledger events recorded.
    pub fn approve_adjustment(&self, request_id: String, note: String) -> Result<Vec<LedgerEvent>> {
        let id = id_in("adjustment request", &request_id)?;
        let events = self.store.work(|w| approvals::approve_adjustment(w, id, &note))?;
        self.changed(&[ChangeKind::Adjustments, ChangeKind::Inventory, ChangeKind::CountSessions]);
        Ok(events.into_iter().map(Into::into).collect())
    }

    pub fn reject_adjustment(&self, request_id: String, note: String) -> Result<()> {
        let id = id_in("adjustment request", &request_id)?;
        self.store.work(|w| approvals::reject_adjustment(w, id, &note))?;
        self.changed(&[ChangeKind::Adjustments]);
        Ok(())
    }

    // ---- receiving against the inbound manifest ------------------------------------------
    // Receiving writes are announced as `Inventory` (the packages coming in).

    /// Imports a Metrc manifest file (JSON) and opens its receiving session; returns its id.
    pub fn open_receiving(&self, manifest_json: String) -> Result<String> {
        let id = self.store.work(|w| session::open_receiving(w, &manifest_json))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(id.to_string())
    }

    /// Scans a package at `location` against the manifest: matched, unexpected or a duplicate.
    pub fn receiving_scan(&self, session_id: String, raw: String, location: String) -> Result<ReceivingVerdict> {
        let id = id_in("receiving session", &session_id)?;
        let location = location_in(&location)?;
        let verdict = self.store.work(|w| session::receiving_scan(w, id, &raw, &location))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(verdict.into())
    }

    /// Every receiving session on this device (opened here or on another phone and synced),
    /// open ones first: the list a receiver picks from when the manifest is already open.
    pub fn receiving_sessions(&self) -> Result<Vec<ReceivingSessionSummary>> {
        Ok(self.store.work(session::receiving_sessions)?)
    }

    pub fn receiving_progress(&self, session_id: String) -> Result<ReceivingProgress> {
        let id = id_in("receiving session", &session_id)?;
        Ok(self.store.work(|w| session::receiving_progress(w, id))?.into())
    }

    /// Records a batch's certificate of analysis.
    pub fn record_coa(&self, session_id: String, coa: Coa) -> Result<()> {
        let id = id_in("receiving session", &session_id)?;
        let coa = coa.try_into()?;
        self.store.work(|w| session::record_coa(w, id, coa))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(())
    }

    /// Each manifest package's failed checks against its batch's certificate.
    pub fn package_flags(&self, session_id: String) -> Result<Vec<PackageFlags>> {
        let id = id_in("receiving session", &session_id)?;
        let flags = self.store.work(|w| session::package_flags(w, id))?;
        Ok(flags.into_iter().map(|(tag, flags)| PackageFlags { tag, flags: flags.iter().map(|f| f.to_string()).collect() }).collect())
    }

    pub fn mark_inspected(&self, session_id: String, raw: String, note: String) -> Result<()> {
        let id = id_in("receiving session", &session_id)?;
        self.store.work(|w| session::mark_inspected(w, id, &raw, &note))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(())
    }

    /// Reads the GS1 label on a package (scan its tag first) and checks the label's batch and
    /// expiry against the manifest: returns core's sentence for each mismatch (empty when the
    /// label agrees). A mismatch stays a flag on the package until a manager decides it.
    pub fn receiving_label(&self, session_id: String, raw_tag: String, raw_label: String) -> Result<Vec<String>> {
        let id = id_in("receiving session", &session_id)?;
        let flags = self.store.work(|w| session::receiving_label(w, id, &raw_tag, &raw_label))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(flags.iter().map(|f| f.to_string()).collect())
    }

    /// A manager enters the stock already on hand when the facility starts with Custody: every
    /// line or none. Packages otherwise enter stock only through receiving (or a split).
    pub fn record_opening_balance(&self, lines: Vec<OpeningBalanceLine>) -> Result<Vec<LedgerEvent>> {
        let lines = lines.into_iter().map(TryInto::try_into).collect::<Result<Vec<_>>>()?;
        let events = self.store.work(|w| opening::record_opening_balance(w, &lines))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(events.into_iter().map(Into::into).collect())
    }

    /// Records a package's weight from a registered scale, or typed by hand (`scale` null).
    pub fn record_weight(&self, session_id: String, raw: String, weight: Quantity, scale: Option<String>) -> Result<()> {
        let id = id_in("receiving session", &session_id)?;
        self.store.work(|w| session::record_weight(w, id, &raw, weight, scale.as_deref()))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(())
    }

    /// Records a weight typed by hand, with the reason no scale was used.
    pub fn record_weight_by_hand(&self, session_id: String, raw: String, weight: Quantity, reason: String) -> Result<()> {
        let id = id_in("receiving session", &session_id)?;
        self.store.work(|w| session::record_weight_by_hand(w, id, &raw, weight, &reason))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(())
    }

    /// Accepts (`reject` null) or rejects a package.
    pub fn decide_package(&self, session_id: String, raw: String, reject: Option<RejectReason>, note: String) -> Result<()> {
        let id = id_in("receiving session", &session_id)?;
        self.store.work(|w| session::decide_package(w, id, &raw, reject, &note))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(())
    }

    pub fn explain_weight_difference(&self, session_id: String, reason: String) -> Result<()> {
        let id = id_in("receiving session", &session_id)?;
        self.store.work(|w| session::explain_weight_difference(w, id, &reason))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(())
    }

    pub fn receiving_discrepancies(&self, session_id: String) -> Result<Vec<ReceivingDiscrepancy>> {
        let id = id_in("receiving session", &session_id)?;
        let list = self.store.work(|w| session::receiving_discrepancies(w, id))?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// Completes the session: accepted packages enter the ledger at `intake`. Returns the
    /// ledger events recorded.
    pub fn complete_receiving(&self, session_id: String, intake: String) -> Result<Vec<LedgerEvent>> {
        let id = id_in("receiving session", &session_id)?;
        let intake = location_in(&intake)?;
        let events = self.store.work(|w| session::complete_receiving(w, id, &intake))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(events.into_iter().map(Into::into).collect())
    }

    /// Completed sessions whose manifest still has to be accepted in the state system.
    pub fn open_state_tasks(&self) -> Result<Vec<StateTask>> {
        let tasks = self.store.work(session::open_state_tasks)?;
        Ok(tasks.into_iter().map(|(id, task)| StateTask { session_id: id, task }).collect())
    }

    pub fn confirm_state_acceptance(&self, session_id: String) -> Result<()> {
        let id = id_in("receiving session", &session_id)?;
        self.store.work(|w| session::confirm_state_acceptance(w, id))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(())
    }

    /// The facility's receiving settings (potency tolerance, scales with whether each may weigh
    /// today) as the server last sent them; core's defaults until the first sync.
    pub fn receiving_settings(&self) -> Result<ReceivingSettings> {
        let (settings, today) = self.store.work(|w| {
            let today = w.now()?.date_naive();
            Ok::<_, session::ReceivingError>((session::receiving_settings(w)?, today))
        })?;
        Ok(ReceivingSettings::from_core(settings, today))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl CustodyClient {
    /// Enrols this device with the one-time code a manager issued.
    pub async fn enrol(&self, server_url: String, code: String, device_name: String) -> Result<DeviceIdentity> {
        let identity = self.sync_client().enrol(&self.store, &server_url, &code, &device_name).await?;
        self.changed(&[ChangeKind::SignIn]);
        self.status_changed();
        Ok(identity)
    }

    /// Pushes this device's pending events and work, pulls what it lacks. The sync listener hears
    /// the outcome either way; the change listener hears what the sync brought.
    pub async fn sync_now(&self) -> Result<SyncReport> {
        let _one_at_a_time = self.sync_lock.lock().await;
        let user_before = self.store.current_user().ok().flatten().map(|u| u.id);
        let result = self.sync_client().sync(&self.store).await;
        self.status_changed();
        let report = result?;
        let mut changes = Vec::new();
        if report.accepted + report.rejected + report.pulled > 0 {
            changes.push(ChangeKind::Inventory);
        }
        if report.doc_messages_received > 0 || !report.doc_refusals.is_empty() {
            changes.extend([ChangeKind::CountSessions, ChangeKind::Adjustments, ChangeKind::Outbound]);
        }
        if self.store.current_user().ok().flatten().map(|u| u.id) != user_before {
            changes.push(ChangeKind::SignIn);
        }
        self.changed(&changes);
        Ok(report.into())
    }

    /// Signs a person in with badge and PIN: offline when this phone holds their signing key
    /// (the PIN opens it), online the first time here (or after a PIN reset, or after too many
    /// wrong PINs erased the key): the server checks badge and PIN and registers a new key.
    /// `BadCredentials` for a wrong badge or PIN; `Offline` when it must go online and cannot.
    pub async fn sign_in(&self, badge: String, pin: String) -> Result<SignedInUser> {
        let user = self.sync_client().sign_in(&self.store, &badge, &pin).await?;
        self.changed(&[ChangeKind::SignIn]);
        Ok(user)
    }

    /// The manager signed in on this phone issues an enrolment code for another device.
    pub async fn issue_enrolment_code(&self) -> Result<EnrolmentCode> {
        Ok(self.sync_client().issue_enrolment_code(&self.store).await?)
    }

    /// The manager signed in on this phone revokes a lost or stolen device; its token and the
    /// keys of everyone who signed in on it stop working at once.
    pub async fn revoke_device(&self, device_id: String) -> Result<()> {
        let device = ids::DeviceId::parse(&device_id)?;
        Ok(self.sync_client().revoke_device(&self.store, device).await?)
    }

    /// The manager signed in on this phone deactivates a person (an id from the roster): every
    /// phone signs them out and erases their key at its next sync.
    pub async fn deactivate_user(&self, user_id: String) -> Result<()> {
        let user = ids::UserId::parse(&user_id)?;
        Ok(self.sync_client().deactivate_user(&self.store, user).await?)
    }

    /// The manager signed in on this phone sets a new PIN (4 to 12 digits) for a person: their
    /// keys on every phone are revoked, so they sign in online with the new PIN.
    pub async fn reset_pin(&self, user_id: String, pin: String) -> Result<()> {
        let user = ids::UserId::parse(&user_id)?;
        Ok(self.sync_client().reset_pin(&self.store, user, &pin).await?)
    }
}

/// The unit a count of a package in `unit` is entered in (grams for weights, each for units).
#[uniffi::export]
pub fn count_unit(unit: UnitOfMeasure) -> UnitOfMeasure {
    counts::count_unit(unit)
}

/// What scanner text is: a package tag, a GS1 barcode or a location label (`LOC:...`), or
/// `InvalidInput` saying why it is none of them.
#[uniffi::export]
pub fn parse_scan(raw: String) -> Result<ScannedCode> {
    Ok(custody_core::scan::parse_scan(&raw)?.into())
}
