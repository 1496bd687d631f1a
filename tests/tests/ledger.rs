//! End-to-end: phones working offline converge through a real server on loopback, without
//! losing or duplicating an event, whatever the order, the interruptions or the restarts.

use custody_core::fold::ConflictKind;
use custody_core::protocol::{InventoryReport, SyncRequest};
use custody_core::store::StoreError;
use custody_core::sync::{RetryPolicy, SyncClient, SyncError};
use custody_core::*;
use custody_e2e::*;

fn server_report(fleet: &Fleet) -> InventoryReport {
    InventoryReport::from_inventory(&fleet.server_inventory())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_phones_offline_converge_whatever_the_sync_order() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let (a, b, c) = (fleet.phone("bay").await, fleet.phone("vault").await, fleet.phone("office").await);
    a.sign_in(MANAGER).await;
    b.sign_in(FLOOR_2).await;
    c.sign_in(MANAGER).await;

    // Morning: ten packages enter the bay's stock (the manager's opening balance) and sync;
    // everyone picks them up; the floor worker carries on on the bay's phone.
    let tags: Vec<PackageTag> = (1..=10).map(tag).collect();
    for (i, t) in tags.iter().enumerate() {
        a.receive(t, 10_000 + i as i64 * 100, "Intake");
    }
    a.sign_in(FLOOR).await;
    assert_eq!(a.status().pending, 10);
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    c.sync().await.unwrap();
    assert_eq!(b.packages().len(), 10);
    assert!(b.packages().iter().all(|p| !p.pending));

    // Then all three go offline and keep working.
    a.move_to(&tags[0], "Vault A / Shelf 1"); // a and b move the same package: concurrent
    b.move_to(&tags[0], "Vault B / Shelf 4");
    a.move_to(&tags[1], "Vault A / Shelf 2");
    b.move_to(&tags[2], "Vault A / Shelf 3");
    c.adjust(&tags[3], -150, "recount found 1.50 g short"); // manager adjusts
    c.adjust(&tags[4], -6_000, "60 g written off"); // fine alone; together with b's split below, too much
    b.store
        .record(
            &tags[4],
            EventBody::Split {
                new_tag: tag(99),
                quantity: grams(5_000),
                item: ItemName::parse("Live Resin - Blue Dream 1g").unwrap(),
                batch: BatchNumber::parse("LR-2026-11-A").unwrap(),
                location: location("Pack bench"),
                expires_on: None,
            },
        )
        .unwrap();
    a.store.record(&tags[5], EventBody::Shipped { manifest: "M-1".into() }).unwrap(); // shipped by both
    c.store.record(&tags[5], EventBody::Shipped { manifest: "M-2".into() }).unwrap();
    b.store.record(&tags[6], EventBody::Quarantined { reason: "label damaged".into() }).unwrap();
    // The pick must sort after the quarantine: the fold orders by the phones' (corrected) clocks,
    // which on one machine differ by a few milliseconds at most.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    a.store.record(&tags[6], EventBody::Picked { order: "SO-77".into() }).unwrap(); // a has not seen the quarantine

    // Each phone shows its own work as pending.
    assert!(a.packages().iter().find(|p| p.tag == tags[0]).unwrap().pending);
    assert_eq!(c.status().pending, 3);

    // Sync in one order, then another; nobody syncs in the same order twice.
    for phone in [&c, &a, &b, &a, &c, &b] {
        phone.sync().await.unwrap();
    }

    let server = server_report(&fleet);
    assert_eq!(a.report(), server, "bay phone differs from the server");
    assert_eq!(b.report(), server, "vault phone differs from the server");
    assert_eq!(c.report(), server, "office phone differs from the server");

    // Every invariant break is on the list, for a manager, on every replica.
    let kinds: Vec<(ConflictKind, PackageTag)> = server.conflicts.iter().map(|c| (c.kind, c.tag.clone())).collect();
    assert!(kinds.contains(&(ConflictKind::ConcurrentMove, tags[0].clone())), "{kinds:?}");
    assert!(kinds.contains(&(ConflictKind::ShippedTwice, tags[5].clone())), "{kinds:?}");
    assert!(kinds.contains(&(ConflictKind::QuarantinedPicked, tags[6].clone())), "{kinds:?}");
    assert!(kinds.contains(&(ConflictKind::NegativeStock, tags[4].clone())), "{kinds:?}");
    assert_eq!(server.conflicts.len(), 4, "no spurious conflicts: {kinds:?}");

    // Quantities are exact: 103.00 g - 1.50 g, and the split-off package exists.
    let pkg = |t: &PackageTag| server.packages.iter().find(|p| &p.tag == t).unwrap().clone();
    assert_eq!(pkg(&tags[3]).quantity, grams(10_300 - 150));
    assert_eq!(pkg(&tag(99)).quantity, grams(5_000));
    assert_eq!(pkg(&tags[2]).location.as_str(), "Vault A / Shelf 3");
    assert_eq!(server.packages.len(), 11);

    // No event lost, none duplicated: 10 receipts + 11 offline events, all accepted once.
    let events = fleet.server().db.facility_events(&fleet.facility).unwrap();
    assert_eq!(events.len(), 21);
    for phone in [&a, &b, &c] {
        assert_eq!(phone.store.events().unwrap().len(), 21, "{} holds every event", phone.name);
        assert_eq!(phone.status().pending, 0);
        assert!(phone.store.verify_chains().unwrap().is_empty());
    }
    assert!(fleet.server().db.verify_chains(&fleet.facility).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sent_twice_and_a_sync_cut_off_midway_lose_and_duplicate_nothing() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let proxy = CuttingProxy::start_for(fleet.server()).await;
    let phone = {
        // Enrol directly, then point the phone's sync at the proxy.
        let code = fleet.server().db.issue_enrolment_code(&fleet.facility, None, chrono::Duration::hours(1)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.keep().join("cut.db");
        let store = Store::open(&path, &store_key()).unwrap();
        let client = SyncClient::with_trust(RetryPolicy { attempts: 1, ..fast_retry() }, &custody_e2e::test_ca().trust());
        client.enrol(&store, &proxy.url(), &code.code, "cut").await.unwrap();
        Phone { name: "cut".into(), store, path, client }
    };
    phone.sign_in(MANAGER).await;
    for n in 0..50 {
        phone.receive(&tag(n), 1_000 + n as i64, "Intake");
    }

    // The server stores the batch, but the answer never reaches the phone.
    proxy.cut_next_response();
    let err = phone.sync().await.unwrap_err();
    assert!(matches!(err, SyncError::Offline(_)), "{err}");
    assert_eq!(phone.status().pending, 50, "unacknowledged events stay pending");
    assert!(phone.status().last_error.is_some(), "the failure is visible");
    assert_eq!(fleet.server().db.facility_events(&fleet.facility).unwrap().len(), 50);

    // The retry resends the same events: all acknowledged, none stored twice.
    let report = phone.sync().await.unwrap();
    assert_eq!(report.accepted, 50);
    assert_eq!(phone.status().pending, 0);
    assert!(phone.status().last_error.is_none());
    assert_eq!(fleet.server().db.facility_events(&fleet.facility).unwrap().len(), 50);

    // The very same batch posted again by hand: every event accepted again, nothing added.
    let events: Vec<Event> = phone.store.events().unwrap().into_iter().map(|r| r.event).collect();
    for _ in 0..2 {
        let response = phone.post_events(&fleet.url(), events.clone()).await;
        assert_eq!(response.verdicts.len(), 50);
        assert!(response.verdicts.iter().all(|v| v.outcome == custody_core::protocol::Outcome::Accepted));
    }
    assert_eq!(fleet.server().db.facility_events(&fleet.facility).unwrap().len(), 50);

    // A second phone sees each package exactly once.
    let other = fleet.phone("other").await;
    other.sync().await.unwrap();
    assert_eq!(other.packages().len(), 50);
    assert_eq!(other.report(), server_report(&fleet));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_between_syncs_loses_nothing() {
    let mut fleet = Fleet::start("C11-0000001-LIC").await;
    let a = fleet.phone("a").await;
    a.sign_in(MANAGER).await;
    for n in 0..20 {
        a.receive(&tag(n), 2_500, "Intake");
    }
    a.sync().await.unwrap();

    fleet.restart().await;
    for n in 0..20 {
        a.move_to(&tag(n), "Vault C");
    }
    a.sync().await.unwrap();
    fleet.restart().await;

    let b = fleet.phone("b").await;
    b.sync().await.unwrap();
    assert_eq!(b.store.events().unwrap().len(), 40);
    assert!(b.packages().iter().all(|p| p.location.as_str() == "Vault C"));
    assert_eq!(b.report(), a.report());
    assert_eq!(server_report(&fleet), a.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_work_waits_and_the_status_says_so() {
    let mut fleet = Fleet::start("C11-0000001-LIC").await;
    let a = fleet.phone("driver").await;
    a.sign_in(MANAGER).await;
    a.sync().await.unwrap();
    let first = a.status();
    assert!(first.online);
    assert!(first.last_success.is_some());

    fleet.stop().await;
    a.receive(&tag(1), 100, "Intake");
    let err = a.sync().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("saved on this device"), "{err}");
    let status = a.status();
    assert!(!status.online);
    assert_eq!(status.pending, 1);
    assert_eq!(status.last_success, first.last_success);
    assert!(status.last_error.unwrap().contains("no connection"));
    assert!(a.packages()[0].pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facilities_are_isolated_and_bad_tokens_refused() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let other = fleet.add_facility("C11-0000002-LIC", "Other Distribution");
    let a = fleet.phone("a").await;
    let b = fleet.phone_at(&other, "b").await;
    a.sign_in(MANAGER).await;
    b.sign_in(MANAGER).await;
    a.receive(&tag(1), 100, "Intake");
    b.receive(&tag(2), 200, "Intake");
    a.sign_in(FLOOR).await;
    a.sync().await.unwrap();
    b.sync().await.unwrap();
    a.sync().await.unwrap();
    assert_eq!(a.packages().len(), 1, "a sees only its own facility");
    assert_eq!(b.packages().len(), 1);
    assert_eq!(b.packages()[0].tag, tag(2));

    // a's device forges an event for facility B, chained properly: refused and kept.
    let mut forged = a.store.events().unwrap().pop().unwrap().event;
    forged.id = uuid::Uuid::now_v7();
    forged.facility = other.clone();
    forged.device_seq += 1;
    forged.prev_hash = forged.hash.clone();
    forged.body = EventBody::Moved { to: location("Somewhere") };
    forged.hash = forged.compute_hash();
    let response = a.post_events(&fleet.url(), vec![forged.clone()]).await;
    match &response.verdicts[0].outcome {
        custody_core::protocol::Outcome::Rejected { reason } => {
            assert!(reason.contains("C11-0000002-LIC") && reason.contains("enrolled at C11-0000001-LIC"), "{reason}")
        }
        other => panic!("forged event was {other:?}"),
    }
    assert!(response.events.iter().all(|e| e.facility == fleet.facility), "a never receives B's events");
    b.sync().await.unwrap();
    assert_eq!(b.store.events().unwrap().len(), 1, "nothing of a's reached b");
    assert_eq!(fleet.server().db.rejected_events(&fleet.facility).unwrap().len(), 1);

    // Unknown token.
    let status = custody_e2e::https_client()
        .post(format!("{}/v1/sync", fleet.url()))
        .bearer_auth("cdt_0000000000000000000000000000000000000000000000000000000000000000")
        .json(&SyncRequest { cursor: 0, events: vec![], docs: vec![], ..Default::default() })
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);

    // A manager revokes b's device: its next sync is refused and says why.
    let manager_phone = fleet.phone_at(&other, "b-office").await;
    let b_id = b.store.identity().unwrap().unwrap().device_id;
    manager_phone.sign_in(MANAGER).await;
    manager_phone.client.revoke_device(&manager_phone.store, b_id).await.unwrap();
    b.receive(&tag(3), 100, "Intake");
    let err = b.sync().await.unwrap_err();
    assert!(matches!(&err, SyncError::Unauthorized(m) if m.contains("revoked")), "{err}");
    assert_eq!(b.status().pending, 1, "the work stays on the phone for a manager to recover");
    // A floor worker cannot revoke or issue codes.
    let err = a.client.issue_enrolment_code(&a.store).await.unwrap_err();
    assert!(matches!(&err, SyncError::Server { status: 403, .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_gets_a_clear_4xx_and_changes_nothing() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let a = fleet.phone("a").await;
    a.sign_in(MANAGER).await;
    let good = a.receive(&tag(1), 100, "Intake");
    let url = format!("{}/v1/sync", fleet.url());
    let http = custody_e2e::https_client();
    let good_json =
        serde_json::to_value(SyncRequest { cursor: 0, events: vec![good.clone()], docs: vec![], ..Default::default() }).unwrap();

    let post_json = |body: serde_json::Value| {
        let http = http.clone();
        let url = url.clone();
        let token = a.token();
        async move {
            let r = http.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body["error"]["message"].as_str().unwrap_or_default().to_string())
        }
    };

    // A bad tag.
    let mut bad_tag = good_json.clone();
    bad_tag["events"][0]["tag"] = "1A4FF0100000000000000001X".into();
    let (status, message) = post_json(bad_tag).await;
    assert_eq!(status, 422);
    assert!(message.contains("has 25 characters; a Metrc tag has exactly 24"), "{message}");

    // A negative weight.
    let mut negative = good_json.clone();
    negative["events"][0]["body"]["quantity"]["amount"] = "-5.00".into();
    let (status, message) = post_json(negative).await;
    assert_eq!(status, 422);
    assert!(message.contains("cannot be negative"), "{message}");

    // An unknown unit.
    let mut unit = good_json.clone();
    unit["events"][0]["body"]["quantity"]["unit"] = "stone".into();
    let (status, message) = post_json(unit).await;
    assert_eq!(status, 422);
    assert!(message.contains("unknown variant `stone`"), "{message}");

    // A truncated body.
    let text = good_json.to_string();
    let r = http
        .post(&url)
        .bearer_auth(a.token())
        .header("content-type", "application/json")
        .body(text[..text.len() / 2].to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "malformed_json");

    // The wrong content type.
    let r = http.post(&url).bearer_auth(a.token()).header("content-type", "text/plain").body(text.clone()).send().await.unwrap();
    assert_eq!(r.status(), 415);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("application/json"));

    // Nothing of the above was stored; the good event still syncs normally.
    assert!(fleet.server().db.facility_events(&fleet.facility).unwrap().is_empty());
    assert!(fleet.server().db.rejected_events(&fleet.facility).unwrap().is_empty());
    a.sync().await.unwrap();
    assert_eq!(fleet.server().db.facility_events(&fleet.facility).unwrap(), vec![good]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_the_server_rejects_is_kept_with_its_reason_and_leaves_every_inventory() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let a = fleet.phone("a").await;
    let b = fleet.phone("b").await;
    a.sign_in(MANAGER).await;
    a.receive(&tag(1), 5_000, "Intake");
    a.sign_in(FLOOR).await;
    a.sync().await.unwrap();

    // Maria is deactivated on the server while her phone is offline; her next move is refused.
    let maria = a.store.current_user().unwrap().unwrap().id;
    fleet.server().db.deactivate_user(maria).unwrap();
    a.move_to(&tag(1), "Vault Z");
    let report = a.sync().await.unwrap();
    assert_eq!(report.rejected, 1);
    let history = a.store.history(&tag(1)).unwrap();
    assert!(history[0].reject_reason.as_ref().unwrap().contains("deactivated"), "{:?}", history[0]);
    assert_eq!(a.store.package(&tag(1)).unwrap().unwrap().location.as_str(), "Intake");
    assert_eq!(a.status().rejected, 1);
    assert!(a.store.current_user().unwrap().is_none(), "a deactivated person is signed out");

    b.sync().await.unwrap();
    assert_eq!(b.report(), a.report());
    assert_eq!(fleet.server().db.rejected_events(&fleet.facility).unwrap().len(), 1);
}

/// A manager resets a floor worker's PIN and deactivates another from their own phone: at each
/// phone's next sync the person is signed out and the phone forgets their key; the old PIN opens
/// nothing, the new one works online, and what was recorded offline with the revoked key is kept
/// as rejected with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_reset_or_deactivation_takes_effect_at_every_phones_next_sync() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let office = fleet.phone("office").await;
    let vault = fleet.phone("vault").await;
    office.sign_in(MANAGER).await;
    vault.sign_in(MANAGER).await;
    vault.receive(&tag(1), 100, "Intake");
    let maria = vault.sign_in(FLOOR).await;
    vault.sync().await.unwrap();
    office.sync().await.unwrap();

    // Maria goes on counting offline while the office resets her PIN.
    let offline = vault.move_to(&tag(1), "Vault B");
    office.client.reset_pin(&office.store, maria.id, "9999").await.unwrap();
    // A floor worker may not do that, and nobody may reset their own.
    vault.client.reset_pin(&vault.store, maria.id, "1111").await.unwrap_err();
    let own = office.store.current_user().unwrap().unwrap().id;
    let err = office.client.reset_pin(&office.store, own, "1111").await.unwrap_err();
    assert!(err.to_string().contains("yourself"), "{err}");

    let report = vault.sync().await.unwrap();
    assert_eq!(report.rejected, 1);
    let history = vault.store.history(&tag(1)).unwrap();
    let kept = history.iter().find(|h| h.event.id == offline.id).unwrap();
    assert!(kept.reject_reason.as_deref().unwrap().contains("the PIN was reset"), "{kept:?}");
    assert_eq!(vault.store.current_user().unwrap(), None, "signed out at the next sync");
    assert!(matches!(vault.store.sign_in(FLOOR.2, FLOOR.3), Err(StoreError::NeedsOnlineSignIn)), "the phone forgot her key");
    let err = vault.client.sign_in(&vault.store, FLOOR.2, FLOOR.3).await.unwrap_err();
    assert!(matches!(err, SyncError::Store(StoreError::BadCredentials)), "the old PIN opens nothing: {err}");
    vault.client.sign_in(&vault.store, FLOOR.2, "9999").await.unwrap();
    vault.move_to(&tag(1), "Vault C");
    assert_eq!(vault.sync().await.unwrap().accepted, 1);

    // Deactivated: signed out everywhere at the next sync, and refused online.
    office.client.deactivate_user(&office.store, maria.id).await.unwrap();
    vault.sync().await.unwrap();
    assert_eq!(vault.store.current_user().unwrap(), None);
    let err = vault.client.sign_in(&vault.store, FLOOR.2, "9999").await.unwrap_err();
    assert!(matches!(err, SyncError::Store(StoreError::BadCredentials)), "{err}");
    assert_eq!(fleet.server_inventory().packages[&tag(1)].location, location("Vault C"));
}

/// The phone's own lock: every wrong PIN counts before it is tried, survives the app being
/// closed, and the fifth in a row erases the key, so the next sign-in must reach the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_on_the_phone_erase_the_key_after_five_even_across_restarts() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let phone = fleet.phone("vault").await;
    phone.sign_in(FLOOR).await;
    phone.store.sign_out().unwrap();
    for left in [4, 3, 2] {
        assert!(matches!(phone.store.sign_in(FLOOR.2, "0000"), Err(StoreError::WrongPin { left: l }) if l == left));
    }
    // The app is closed and opened again: the count stands.
    let reopened = Store::open(&phone.path, &store_key()).unwrap();
    assert!(matches!(reopened.sign_in(FLOOR.2, "0000"), Err(StoreError::WrongPin { left: 1 })));
    assert!(matches!(reopened.sign_in(FLOOR.2, "0000"), Err(StoreError::SignInKeyErased)));
    assert!(matches!(reopened.sign_in(FLOOR.2, FLOOR.3), Err(StoreError::NeedsOnlineSignIn)), "not even the right PIN, offline");
    // Online, the server checks the PIN and registers a new key.
    phone.client.sign_in(&reopened, FLOOR.2, FLOOR.3).await.unwrap();
    reopened.sign_out().unwrap();
    assert_eq!(reopened.sign_in(FLOOR.2, FLOOR.3).unwrap().name, FLOOR.0, "and offline again after that");
}

/// The phone's files alone (a copied database, without the platform keystore's key) neither
/// sign anyone in nor reveal a PIN to try against.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_phone_database_signs_nobody_in_without_the_keystore_key() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let phone = fleet.phone("vault").await;
    phone.sign_in(MANAGER).await;
    phone.store.checkpoint().unwrap();
    let copy = phone.path.with_file_name("stolen.db");
    std::fs::copy(&phone.path, &copy).unwrap();
    let other_key = custody_core::store::StoreKey::from_bytes(&[9; 32]).unwrap();
    // Encrypted at rest: without the keystore's key the copy does not even open, and its bytes
    // hold none of what the phone knows.
    let refused = Store::open(&copy, &other_key).err();
    assert!(matches!(refused, Some(custody_core::store::StoreError::KeyMismatch)), "{refused:?}");
    let bytes = std::fs::read(&copy).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("C11-0000001-LIC") && !text.contains(MANAGER.2), "nothing readable in the file");
    assert!(!text.contains("argon2") && !text.contains("$v=19"), "no PIN hash on the phone");
}

/// `custody-server user deactivate` (by badge) reaches each phone at its next sync: until then
/// a phone still shows the person signed in; the sync rejects what they recorded meanwhile,
/// signs them out, and their PIN no longer signs them in, offline included. A PIN reset
/// (`user reset-pin`) travels the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_deactivated_by_badge_is_signed_out_at_each_phones_next_sync() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let (a, b) = (fleet.phone("bay").await, fleet.phone("vault").await);
    a.sign_in(MANAGER).await;
    b.sign_in(FLOOR).await;
    a.receive(&tag(1), 5_000, "Intake");
    a.sign_in(FLOOR).await;
    a.sync().await.unwrap();
    b.sync().await.unwrap();

    let maria = fleet.server().db.deactivate_badge(&fleet.facility, FLOOR.2).unwrap();
    assert_eq!(maria.name, FLOOR.0);
    // Before its next sync, the vault phone does not know: Maria moves the package there.
    assert_eq!(b.store.current_user().unwrap().unwrap().id, maria.id);
    b.move_to(&tag(1), "Vault Z");
    let report = b.sync().await.unwrap();
    assert_eq!(report.rejected, 1);
    assert!(b.store.current_user().unwrap().is_none(), "signed out at the next sync");
    // The phone forgot her key and knows she is deactivated; online, the server refuses her.
    assert!(matches!(b.store.sign_in(FLOOR.2, FLOOR.3), Err(StoreError::BadCredentials)));
    assert!(matches!(b.client.sign_in(&b.store, FLOOR.2, FLOOR.3).await, Err(SyncError::Store(StoreError::BadCredentials))));
    assert_eq!(b.store.package(&tag(1)).unwrap().unwrap().location.as_str(), "Intake");

    // The bay phone only learns it at its own next sync, even with nothing to send.
    assert!(a.store.current_user().unwrap().is_some());
    a.sync().await.unwrap();
    assert!(a.store.current_user().unwrap().is_none());
    assert!(matches!(a.store.sign_in(FLOOR.2, FLOOR.3), Err(StoreError::BadCredentials)));

    // Omar's new PIN: the old one works until the phone syncs, then only the new one.
    a.sign_in(FLOOR_2).await;
    a.store.sign_out().unwrap();
    fleet.server().db.reset_pin(&fleet.facility, FLOOR_2.2, "0246").unwrap();
    assert_eq!(a.store.sign_in(FLOOR_2.2, FLOOR_2.3).unwrap().name, FLOOR_2.0, "offline, until the phone syncs");
    a.store.sign_out().unwrap();
    a.sync().await.unwrap();
    assert!(matches!(a.store.sign_in(FLOOR_2.2, FLOOR_2.3), Err(StoreError::NeedsOnlineSignIn)));
    assert!(matches!(a.client.sign_in(&a.store, FLOOR_2.2, FLOOR_2.3).await, Err(SyncError::Store(StoreError::BadCredentials))));
    assert_eq!(a.client.sign_in(&a.store, FLOOR_2.2, "0246").await.unwrap().name, FLOOR_2.0);
}

/// A server upgraded from before signatures holds events no person signed: phones still pull
/// them, each attested by the server's key, and check that attestation like any signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_accepted_before_signatures_reach_phones_attested_by_the_server() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let vault = fleet.phone("vault").await;
    vault.sign_in(MANAGER).await;
    vault.receive(&tag(1), 100, "Intake");
    vault.sign_in(FLOOR).await;
    vault.sync().await.unwrap();
    // What an old server stored: the same event without its signature.
    let conn = rusqlite::Connection::open(fleet.server().db.path()).unwrap();
    assert_eq!(conn.execute("UPDATE events SET json = json_remove(json, '$.signature')", []).unwrap(), 1);
    drop(conn);
    let newcomer = fleet.phone("newcomer").await;
    assert_eq!(newcomer.sync().await.unwrap().pulled, 1);
    let pulled = &newcomer.store.events().unwrap()[0].event;
    let server_key = fleet.server().db.server_key();
    assert!(pulled.verify_signature(&server_key).is_ok(), "attested by the server");
    assert_eq!(newcomer.packages()[0].tag, tag(1));
}

/// Issue 13 point 5 (docs/decisions/0022): two phones move the same package offline to different
/// places; after sync both list the concurrent move. A manager on one says where it is; after
/// sync both phones and the server fold that location and list the conflict as resolved, with
/// who and why. A floor worker cannot resolve: core refuses, and a forged resolution sent
/// straight to the server is rejected there and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managers_resolution_of_a_concurrent_move_folds_the_same_on_every_phone() {
    use custody_core::conflicts::{self, ConflictError};
    use custody_core::event::{ConflictId, Resolution};

    let fleet = Fleet::start("C11-0000001-LIC").await;
    let (a, b) = (fleet.phone("bay").await, fleet.phone("vault").await);
    a.sign_in(FLOOR).await;
    b.sign_in(MANAGER).await;
    let t = tag(7);
    // The manager enters it as opening balance; both phones have it.
    b.receive(&t, 5_000, "Intake");
    b.sync().await.unwrap();
    a.sync().await.unwrap();

    // Offline, both move it, each without seeing the other's move.
    a.move_to(&t, "Vault A / Shelf 1");
    b.move_to(&t, "Vault B / Shelf 4");
    for phone in [&a, &b, &a] {
        phone.sync().await.unwrap();
    }
    let open = |p: &Phone| p.conflicts().into_iter().filter(|c| c.is_open()).collect::<Vec<_>>();
    for phone in [&a, &b] {
        let open = open(phone);
        assert_eq!(open.len(), 1, "{}: {open:?}", phone.name);
        assert_eq!(open[0].kind, ConflictKind::ConcurrentMove);
    }
    let conflict = open(&b)[0].clone();
    let id = ConflictId { event: conflict.event, kind: conflict.kind };
    let shelf = || Resolution::LocatedAt { location: location("Vault A / Shelf 1") };

    // Maria (floor staff) may not resolve it: refused with a sentence, nothing recorded.
    let pending = a.status().pending;
    let err = a.store.work(|w| conflicts::resolve_conflict(w, &t, id, shelf(), "it is on shelf 1")).unwrap_err();
    assert!(matches!(err, ConflictError::NotAllowed { .. }), "{err}");
    assert_eq!(err.to_string(), "only a manager may resolve a conflict; Maria Floor is floor staff");
    assert_eq!(a.status().pending, pending);

    // Sam (manager) must say why, and must name a conflict that exists.
    let err = b.store.work(|w| conflicts::resolve_conflict(w, &t, id, shelf(), "  ")).unwrap_err();
    assert!(matches!(err, ConflictError::MissingNote), "{err}");
    let unknown = ConflictId { event: uuid::Uuid::now_v7(), kind: ConflictKind::ConcurrentMove };
    let err = b.store.work(|w| conflicts::resolve_conflict(w, &t, unknown, shelf(), "looked")).unwrap_err();
    assert!(matches!(err, ConflictError::Unknown { .. }), "{err}");
    assert_eq!(b.status().pending, 0, "refusals record nothing");

    // Sam walks to the vault: it is on shelf 1 of vault A.
    b.store.work(|w| conflicts::resolve_conflict(w, &t, id, shelf(), "found it on shelf 1 of vault A")).unwrap();
    let err = b.store.work(|w| conflicts::resolve_conflict(w, &t, id, shelf(), "again")).unwrap_err();
    assert!(matches!(err, ConflictError::AlreadyResolved { .. }), "{err}");
    b.sync().await.unwrap();
    a.sync().await.unwrap();

    let server = server_report(&fleet);
    for phone in [&a, &b] {
        assert_eq!(phone.report(), server, "{} differs from the server", phone.name);
        assert_eq!(phone.store.package(&t).unwrap().unwrap().location.as_str(), "Vault A / Shelf 1", "{}", phone.name);
        assert!(open(phone).is_empty(), "{}: no open conflict", phone.name);
        let lines = phone.store.work(conflicts::conflict_list).unwrap();
        assert_eq!(lines.len(), 1, "the resolved conflict stays, as history");
        assert_eq!(lines[0].resolved_by.as_deref(), Some("Sam Manager"));
        assert_eq!(lines[0].conflict.resolved.as_ref().unwrap().note, "found it on shelf 1 of vault A");
    }
    let moves = a.store.history(&t).unwrap().into_iter().filter(|r| r.event.kind() == EventKind::Moved).count();
    assert_eq!(moves, 2, "both moves stay in the history");

    // A tampered floor phone signs a resolution with Maria's key and posts it straight to the
    // server: the server checks Maria's role on its roster and rejects it.
    let second = a.move_to(&t, "Vault C");
    b.move_to(&t, "Vault D");
    b.sync().await.unwrap();
    a.sync().await.unwrap();
    let raised = open(&a).into_iter().find(|c| c.kind == ConflictKind::ConcurrentMove).expect("a second concurrent move");
    let before = server_report(&fleet);
    let marias_key = fleet.register_key(&a, FLOOR);
    let a_id = a.store.identity().unwrap().unwrap().device_id;
    let last = a.store.events().unwrap().into_iter().map(|r| r.event).filter(|e| e.device == a_id).max_by_key(|e| e.device_seq).unwrap();
    assert_eq!(last.id, second.id);
    let forged = custody_core::event::UnsealedEvent {
        id: uuid::Uuid::now_v7(),
        facility: fleet.facility.clone(),
        tag: t.clone(),
        user: a.store.current_user().unwrap().unwrap().id,
        device: a_id,
        device_seq: last.device_seq + 1,
        hlc: custody_core::Hlc { wall_ms: last.hlc.wall_ms + 1_000, counter: 0 },
        parent: None,
        body: EventBody::ConflictResolved {
            conflict: ConflictId { event: raised.event, kind: raised.kind },
            resolution: Resolution::LocatedAt { location: location("Vault C") },
            note: "trust me".into(),
        },
        prev_hash: last.hash.clone(),
    }
    .seal_signed(&marias_key);
    let response = a.post_events(&fleet.url(), vec![forged]).await;
    match &response.verdicts[0].outcome {
        custody_core::protocol::Outcome::Rejected { reason } => {
            assert!(reason.contains("floor staff may not record a conflict resolution"), "{reason}")
        }
        other => panic!("a floor worker's resolution was {other:?}"),
    }
    assert_eq!(server_report(&fleet), before, "the server's inventory and conflicts did not change");
}

/// An attacker with a floor worker's phone and PIN writes an opening-balance receipt (which
/// core refuses to make for floor staff) by hand, signs it with her registered key, and posts it
/// straight to the server: the server judges the role from its own roster and refuses it, and
/// nothing enters stock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_floor_workers_forged_opening_balance_is_refused_by_the_server() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let a = fleet.phone("bay").await;
    a.sign_in(MANAGER).await;
    a.receive(&tag(1), 1_000, "Intake");
    a.sync().await.unwrap();
    a.sign_in(FLOOR).await;
    let before = server_report(&fleet);
    let marias_key = fleet.register_key(&a, FLOOR);
    let a_id = a.store.identity().unwrap().unwrap().device_id;
    let last = a.store.events().unwrap().into_iter().map(|r| r.event).filter(|e| e.device == a_id).max_by_key(|e| e.device_seq).unwrap();
    let forged = custody_core::event::UnsealedEvent {
        id: uuid::Uuid::now_v7(),
        facility: fleet.facility.clone(),
        tag: tag(2),
        user: a.store.current_user().unwrap().unwrap().id,
        device: a_id,
        device_seq: last.device_seq + 1,
        hlc: custody_core::Hlc { wall_ms: last.hlc.wall_ms + 1_000, counter: 0 },
        parent: None,
        body: EventBody::Received {
            item: ItemName::parse("Live Resin - Blue Dream 1g").unwrap(),
            batch: BatchNumber::parse("LR-2026-11-A").unwrap(),
            quantity: grams(50_000),
            location: location("Vault A"),
            expires_on: None,
            manifest: None,
            via: Some(custody_core::event::ReceivedVia::OpeningBalance),
        },
        prev_hash: last.hash.clone(),
    }
    .seal_signed(&marias_key);
    let response = a.post_events(&fleet.url(), vec![forged]).await;
    match &response.verdicts[0].outcome {
        custody_core::protocol::Outcome::Rejected { reason } => {
            assert!(reason.contains("only a manager may record an opening balance"), "{reason}")
        }
        other => panic!("a floor worker's opening balance was {other:?}"),
    }
    assert_eq!(server_report(&fleet), before, "nothing entered stock on the server");
}
