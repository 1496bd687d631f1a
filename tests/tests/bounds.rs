//! End-to-end (issue 10): no event can break a facility. Amounts beyond the domain bounds and
//! texts beyond the text rules are refused whole with a sentence, and a server or phone that
//! already holds such an event recovers when it opens its database; stamps the server's clock
//! cannot believe are rejected with what to do, and a phone whose clock ran into the future
//! recovers by itself; two phones' weighings are chosen the same way whatever their clocks say.
//! Real server on loopback, real device stores, real HTTP.

use chrono::Utc;
use custody_core::event::{EventBody, GENESIS_HASH, UnsealedEvent};
use custody_core::outbound::{Customer, NewOrder, NewOrderLine};
use custody_core::protocol::{CreatedOrder, InventoryReport, SyncRequest};
use custody_core::receiving::session::{self, ReceivingDiscrepancy};
use custody_core::store::EventState;
use custody_core::sync::SyncClient;
use custody_core::work::receiving::Coa;
use custody_core::*;
use custody_e2e::*;
use custody_server::AuthedDevice;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use rust_decimal::Decimal;
use uuid::Uuid;

const LICENCE: &str = "C11-0000001-LIC";
const GREEN_DOOR: &str = "C10-0000201-LIC";

/// The amount the issue found: -7.9e28 lb.
fn huge_adjustment() -> EventBody {
    EventBody::Adjusted {
        delta: Quantity { amount: Decimal::from_scientific("-7.9e28").unwrap(), unit: Unit::Lb },
        reason: "Theft".into(),
        note: "gone".into(),
        request: None,
    }
}

/// The phone's chain head, read from its database file as an attacker holding the phone would.
fn chain_head(phone: &Phone) -> (u64, String) {
    let conn = phone.raw_db();
    let json: String = conn.query_row("SELECT value FROM meta WHERE key = 'chain_head'", [], |r| r.get(0)).unwrap();
    let head: serde_json::Value = serde_json::from_str(&json).unwrap();
    (head["seq"].as_u64().unwrap(), head["hash"].as_str().unwrap().to_string())
}

/// The next link of the phone's hash chain, made by hand (no validation), stamped now, and signed
/// with the key of whoever is signed in on the phone (a tampered app could do the same).
fn next_link(phone: &Phone, t: &PackageTag, user: UserId, body: EventBody) -> Event {
    let (seq, prev_hash) = chain_head(phone);
    let identity = phone.store.identity().unwrap().unwrap();
    let event = UnsealedEvent {
        id: Uuid::now_v7(),
        facility: identity.facility,
        tag: t.clone(),
        user,
        device: identity.device_id,
        device_seq: seq + 1,
        hlc: Hlc { wall_ms: Utc::now().timestamp_millis(), counter: 0 },
        parent: None,
        body,
        prev_hash,
    }
    .seal();
    let mut event = event;
    phone.store.sign_by_signed_in(&mut event).unwrap();
    event
}

/// A sync posted by hand with the phone's token: the status and the JSON answer.
async fn raw_sync(fleet: &Fleet, phone: &Phone, events: Vec<Event>) -> (u16, serde_json::Value) {
    let response = https_client()
        .post(format!("{}/v1/sync", fleet.url()))
        .bearer_auth(phone.token())
        .json(&SyncRequest { cursor: 0, events, ..Default::default() })
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn get_inventory(fleet: &Fleet, phone: &Phone) -> (u16, Option<InventoryReport>) {
    let response = https_client().get(format!("{}/v1/inventory", fleet.url())).bearer_auth(phone.token()).send().await.unwrap();
    let status = response.status().as_u16();
    (status, if status == 200 { Some(response.json().await.unwrap()) } else { None })
}

/// An order entered in the office through `POST /v1/orders`: the status and the JSON answer.
async fn enter_order(fleet: &Fleet, phone: &Phone, quantity: Quantity) -> (u16, serde_json::Value) {
    let order = NewOrder {
        number: format!("SO-{}", Uuid::now_v7().simple()),
        recipient: LicenseNumber::parse(GREEN_DOOR).unwrap(),
        requested_on: Utc::now().date_naive(),
        lines: vec![NewOrderLine {
            item: ItemName::parse("Live Resin - Blue Dream 1g").unwrap(),
            quantity,
            unit_price: Decimal::new(425, 2),
        }],
        patient: None,
    };
    let _ = fleet;
    // Entered by the manager signed in on the phone, proven by their signature.
    match phone.client.submit_order(&phone.store, &order).await {
        Ok(id) => (201, serde_json::json!({ "id": id })),
        Err(custody_core::sync::SyncError::Server { status, code, message }) => {
            (status, serde_json::json!({ "error": { "code": code, "message": message } }))
        }
        Err(other) => panic!("order entry failed: {other}"),
    }
}

fn add_customer(fleet: &Fleet) {
    let customer = Customer { licence: LicenseNumber::parse(GREEN_DOOR).unwrap(), name: "Green Door".into(), address: "1 Main St".into() };
    fleet.server().db.add_customer(&fleet.facility, &customer).unwrap();
}

fn server_count(fleet: &Fleet, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(fleet.server().db.path()).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adjustment_of_minus_7_9e28_lb_is_refused_whole_and_the_facility_keeps_working() {
    let fleet = Fleet::start(LICENCE).await;
    add_customer(&fleet);
    let phone = fleet.phone("vault-1").await;
    let manager = phone.sign_in(MANAGER).await;
    let t = tag(1);
    phone.receive(&t, 10_000, "Vault A");
    phone.sync().await.unwrap();

    // The phone refuses it before anything is written.
    let err = phone.store.record(&t, huge_adjustment()).unwrap_err();
    assert!(err.to_string().contains("is more than the largest quantity the system takes (10,000 kg)"), "{err}");
    assert_eq!(phone.store.pending_count().unwrap(), 0);

    // Sent by hand as the next link of the phone's chain: the whole sync is refused, with the
    // sentence, and nothing is stored.
    let bad = next_link(&phone, &t, manager.id, huge_adjustment());
    let (status, body) = raw_sync(&fleet, &phone, vec![bad]).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_event");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(
            "adjustment: -79000000000000000000000000000 lb is more than the largest quantity the system takes (10,000 kg); check the amount"
        ),
        "{message}"
    );
    assert!(message.contains("Nothing from this sync was stored"), "{message}");
    assert_eq!(server_count(&fleet, "SELECT COUNT(*) FROM events"), 1, "only the receipt");
    assert_eq!(server_count(&fleet, "SELECT COUNT(*) FROM rejected_events"), 0);

    // An event an older build recorded with a unit conversion to 13 decimal places is a real
    // fact within the magnitude bounds: it still syncs.
    let converted = EventBody::Adjusted {
        delta: Quantity { amount: Decimal::from_str_exact("-0.0002204622621849").unwrap(), unit: Unit::Lb },
        reason: "Scale Variance".into(),
        note: "weighed again".into(),
        request: None,
    };
    let (status, body) = raw_sync(&fleet, &phone, vec![next_link(&phone, &t, manager.id, converted)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["verdicts"][0]["status"], "accepted", "{body}");

    // Inventory and order entry answer; an order line of the same amount is refused with a
    // sentence, not a 500.
    let (status, report) = get_inventory(&fleet, &phone).await;
    assert_eq!(status, 200);
    let left = report.unwrap().packages[0].quantity;
    assert!(left.same_as(&grams(9_990)), "{left}: the receipt less the converted adjustment");
    let (status, body) =
        enter_order(&fleet, &phone, Quantity { amount: Decimal::from_scientific("7.9e28").unwrap(), unit: Unit::Lb }).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("line 1: 79000000000000000000000000000 lb is more than"), "{body}");
    let (status, body) = enter_order(&fleet, &phone, grams(5_000)).await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_value::<CreatedOrder>(body).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_megabyte_reason_is_refused_whole_with_a_clear_422() {
    let fleet = Fleet::start(LICENCE).await;
    let phone = fleet.phone("vault-1").await;
    let manager = phone.sign_in(MANAGER).await;
    let t = tag(1);
    phone.receive(&t, 10_000, "Vault A");
    phone.sync().await.unwrap();

    let reason = "x".repeat(1 << 20);
    let err = phone.store.record(&t, EventBody::Quarantined { reason: reason.clone() }).unwrap_err();
    assert_eq!(err.to_string(), "the reason is longer than 2500 characters (1048576); shorten it");

    let bad = next_link(&phone, &t, manager.id, EventBody::Quarantined { reason });
    let (status, body) = raw_sync(&fleet, &phone, vec![bad]).await;
    assert_eq!(status, 422);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("the reason is longer than 2500 characters (1048576); shorten it"), "{message}");
    assert!(message.len() < 1_000, "the answer does not echo the megabyte back");
    assert_eq!(server_count(&fleet, "SELECT COUNT(*) FROM events"), 1);
    assert_eq!(server_count(&fleet, "SELECT COUNT(*) FROM rejected_events"), 0);
    assert_eq!(phone.store.package(&t).unwrap().unwrap().status, PackageStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_with_hidden_direction_characters_or_line_breaks_are_refused_everywhere() {
    let fleet = Fleet::start(LICENCE).await;
    let db = &fleet.server().db;
    // At the server's admin inputs (what `user add` and `customer add` run).
    let err = db.add_user(&fleet.facility, "Sam \u{202E}reviR", Role::Manager, "M-900", "2468").unwrap_err();
    assert!(err.to_string().contains("the name contains a hidden text-direction character (U+202E)"), "{err}");
    let err = db.add_user(&fleet.facility, "Sam\nRivera", Role::Manager, "M-901", "2468").unwrap_err();
    assert_eq!(err.to_string(), "the name must be on one line; remove the line break");
    let spoof =
        Customer { licence: LicenseNumber::parse(GREEN_DOOR).unwrap(), name: "Green \u{2066}Door".into(), address: "1 Main St".into() };
    let err = db.add_customer(&fleet.facility, &spoof).unwrap_err();
    assert!(err.to_string().contains("the customer's name contains a hidden text-direction character (U+2066)"), "{err}");
    assert!(db.customers(&fleet.facility).unwrap().is_empty());
    assert_eq!(db.roster(&fleet.facility).unwrap().len(), 6, "nobody was added");

    // At enrolment: a device name is checked by the server.
    let code = db.issue_enrolment_code(&fleet.facility, None, chrono::Duration::hours(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("device.db"), &store_key()).unwrap();
    let err = SyncClient::with_trust(fast_retry(), &test_ca().trust())
        .enrol(&store, &fleet.url(), &code.code, "Vault \u{202D}1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the device name contains a hidden text-direction character"), "{err}");

    // On the phone: a location typed or stored with one, and a note.
    let phone = fleet.phone("vault-1").await;
    phone.sign_in(MANAGER).await;
    let t = tag(1);
    phone.receive(&t, 10_000, "Vault A");
    assert!(LocationName::parse("Vault B\u{202E}").is_err());
    let stored = LocationName::from_stored("Vault B\u{202E}").unwrap();
    let err = phone.store.record(&t, EventBody::Moved { to: stored }).unwrap_err();
    assert!(err.to_string().contains("the location contains a hidden text-direction character"), "{err}");
    let minus_one_gram = Quantity::change(Decimal::new(-100, 2), Unit::G).unwrap();
    let err =
        phone.store.work(|w| approvals::request_adjustment(w, &t, minus_one_gram, "Drying", "weighed\u{2067} again", None)).unwrap_err();
    assert!(err.to_string().contains("the note contains a hidden text-direction character (U+2067)"), "{err}");
    assert_eq!(phone.store.history(&t).unwrap().len(), 1, "nothing but the receipt");
    assert!(phone.store.work(approvals::adjustments).unwrap().is_empty());
}

/// Writes an event into the server's database as an older server accepted it, and takes the
/// database back to the schema version before the bounds step (6).
fn plant_on_server(fleet: &Fleet, event: &Event) {
    let conn = rusqlite::Connection::open(fleet.server().db.path()).unwrap();
    conn.execute(
        "INSERT INTO events (id, facility, device, device_seq, user, tag, kind, json, hash, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        rusqlite::params![
            event.id.to_string(),
            event.facility.as_str(),
            event.device.to_string(),
            event.device_seq as i64,
            event.user.to_string(),
            event.tag.as_str(),
            event.kind().as_str(),
            serde_json::to_string(event).unwrap(),
            event.hash,
            Utc::now().to_rfc3339(),
        ],
    )
    .unwrap();
    // Back to schema version 6: what later migrations added goes, so they run again as on an
    // upgrade (8: the state connector's tables; 9: the facility's time zone; 10: the pulls';
    // 11: the facility's settings).
    conn.execute_batch(
        "DROP TABLE IF EXISTS settings_audit; DROP TABLE IF EXISTS facility_settings;
         DROP TABLE IF EXISTS state_outbox_audit; DROP TABLE IF EXISTS state_outbox; DROP TABLE IF EXISTS state_connections;
         DROP TABLE IF EXISTS state_pull_cursors; DROP TABLE IF EXISTS state_inbox; DROP TABLE IF EXISTS state_coas;
         DROP TABLE IF EXISTS state_reference; DROP TABLE IF EXISTS state_revisions; DROP TABLE IF EXISTS state_pull_faults;
         DROP TABLE IF EXISTS state_package_snapshots;",
    )
    .unwrap();
    let zoned: bool =
        conn.query_row("SELECT count(*) FROM pragma_table_info('facilities') WHERE name = 'time_zone'", [], |r| r.get(0)).unwrap();
    if zoned {
        conn.execute_batch("ALTER TABLE facilities DROP COLUMN time_zone;").unwrap();
    }
    conn.pragma_update(None, "user_version", 6).unwrap();
}

/// Writes an event into a phone's database as an older build would have after the server
/// accepted it (or after pulling it), and takes the database back to the schema version before
/// the bounds step (4).
fn plant_on_phone(phone: &Phone, event: &Event, own: bool) {
    let conn = phone.raw_db();
    let order_key = format!("{:020}-{:010}-{}-{}", event.hlc.wall_ms, event.hlc.counter, event.device, event.id);
    conn.execute(
        "INSERT INTO events (id, tag, device, device_seq, kind, order_key, json, state, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'accepted', ?8)",
        rusqlite::params![
            event.id.to_string(),
            event.tag.as_str(),
            event.device.to_string(),
            event.device_seq as i64,
            event.kind().as_str(),
            order_key,
            serde_json::to_string(event).unwrap(),
            Utc::now().to_rfc3339(),
        ],
    )
    .unwrap();
    conn.execute("INSERT INTO event_tags (tag, event_id) VALUES (?1, ?2)", rusqlite::params![event.tag.as_str(), event.id.to_string()])
        .unwrap();
    if own {
        let head = serde_json::json!({ "seq": event.device_seq, "hash": event.hash }).to_string();
        conn.execute("UPDATE meta SET value = ?1 WHERE key = 'chain_head'", [head]).unwrap();
    }
    // What later versions added goes too, so their steps run again on the way up.
    let resolved: bool =
        conn.query_row("SELECT count(*) FROM pragma_table_info('conflicts') WHERE name = 'resolution'", [], |r| r.get(0)).unwrap();
    if resolved {
        conn.execute_batch("ALTER TABLE conflicts DROP COLUMN resolution;").unwrap();
    }
    conn.pragma_update(None, "user_version", 4).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_and_phones_holding_such_an_event_from_before_the_bounds_recover_when_they_open() {
    let mut fleet = Fleet::start(LICENCE).await;
    add_customer(&fleet);
    let mut phone = fleet.phone("vault-1").await;
    let mut other = fleet.phone("vault-2").await;
    let manager = phone.sign_in(MANAGER).await;
    other.sign_in(FLOOR).await;
    let t = tag(1);
    phone.receive(&t, 10_000, "Vault A");
    phone.sync().await.unwrap();
    other.sync().await.unwrap();

    // The world before the bounds: the server accepted the adjustment, the phone that made it
    // holds it in its chain, and another phone pulled it. After it, the same phone recorded a
    // real adjustment the way older builds could: converted to 13 decimal places, with a note
    // longer than a ledger note may now be. That one breaks nothing and must stay.
    let bad = next_link(&phone, &t, manager.id, huge_adjustment());
    plant_on_server(&fleet, &bad);
    plant_on_phone(&phone, &bad, true);
    plant_on_phone(&other, &bad, false);
    let old_but_real = next_link(
        &phone,
        &t,
        manager.id,
        EventBody::Adjusted {
            delta: Quantity { amount: Decimal::from_str_exact("-0.1234567890123").unwrap(), unit: Unit::G },
            reason: "Scale Variance".into(),
            note: "n".repeat(3_000),
            request: None,
        },
    );
    plant_on_server(&fleet, &old_but_real);
    plant_on_phone(&phone, &old_but_real, true);
    plant_on_phone(&other, &old_but_real, false);

    // Opening runs the migrations.
    fleet.restart().await;
    phone.store = Store::open(&phone.path, &store_key()).unwrap();
    other.store = Store::open(&other.path, &store_key()).unwrap();
    // Nobody stays signed in across a restart of the app: the manager signs in again, offline.
    phone.store.sign_in(MANAGER.2, MANAGER.3).unwrap();

    // The server moved it to the rejected events, with the reason, as a link of the chain.
    let rejected = fleet.server().db.rejected_events(&fleet.facility).unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].event.id, bad.id);
    assert!(rejected[0].reason.contains("taken out of the inventory"), "{}", rejected[0].reason);
    assert!(rejected[0].reason.contains("10,000 kg"), "{}", rejected[0].reason);
    assert_eq!(server_count(&fleet, "SELECT chain_ok FROM rejected_events"), 1);
    assert_eq!(server_count(&fleet, "SELECT COUNT(*) FROM events"), 2, "the receipt and the real adjustment stay");

    // Inventory and order entry work again.
    let after = Quantity { amount: Decimal::from_str_exact("99.8765432109877").unwrap(), unit: Unit::G };
    let (status, report) = get_inventory(&fleet, &phone).await;
    assert_eq!(status, 200);
    let report = report.unwrap();
    assert_eq!(report.packages[0].quantity, after);
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    let (status, body) = enter_order(&fleet, &phone, grams(5_000)).await;
    assert_eq!(status, 201, "{body}");

    // Both phones marked their copies rejected with the same reason and refolded.
    for p in [&phone, &other] {
        let history = p.store.history(&t).unwrap();
        let record = history.iter().find(|r| r.event.id == bad.id).unwrap();
        assert_eq!(record.state, EventState::Rejected);
        assert_eq!(record.reject_reason.as_deref(), Some(rejected[0].reason.as_str()));
        let kept = history.iter().find(|r| r.event.id == old_but_real.id).unwrap();
        assert_eq!(kept.state, EventState::Accepted);
        assert_eq!(p.store.package(&t).unwrap().unwrap().quantity, after);
    }

    // The phone's chain carries on through the rejected link.
    phone.sign_in(MANAGER).await;
    phone.move_to(&t, "Vault B");
    let report = phone.sync().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 0), "{:?}", phone.store.history(&t).unwrap());
    other.sync().await.unwrap();
    assert_eq!(fleet.server_inventory().packages[&t].location.as_str(), "Vault B");
    assert_eq!(other.report(), phone.report());
    assert!(fleet.server().db.verify_chains(&fleet.facility).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_whose_clock_jumps_to_the_year_3000_is_refused_then_recovers() {
    let fleet = Fleet::start(LICENCE).await;
    let phone = fleet.phone("vault-1").await;
    let watcher = fleet.phone("vault-2").await;
    phone.sign_in(MANAGER).await;
    watcher.sign_in(FLOOR_2).await;
    let t = tag(1);
    phone.receive(&t, 10_000, "Vault A");
    phone.sync().await.unwrap();

    // Someone sets the phone's date to the year 3000 and moves the package.
    let year_3000 = chrono::Duration::days(365 * 974);
    phone.store.set_device_clock_skew(year_3000);
    let future = phone.move_to(&t, "Vault FUTURE");
    assert!(future.hlc.wall_time().format("%Y").to_string().starts_with("30"), "{}", future.hlc);
    let report = phone.sync().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (0, 1));
    let record = phone.store.history(&t).unwrap().into_iter().find(|r| r.event.id == future.id).unwrap();
    assert_eq!(record.state, EventState::Rejected);
    let reason = record.reject_reason.unwrap();
    assert!(reason.contains("the phone's clock was 974 years ahead of the server's"), "{reason}");
    assert!(reason.contains("check the date and time settings on the phone, then record it again"), "{reason}");
    assert_eq!(phone.store.package(&t).unwrap().unwrap().location.as_str(), "Vault A", "the refused move is out of the fold");

    // The clock is still wrong: the sync corrected it, so the next move is accepted.
    phone.move_to(&t, "Vault B");
    let report = phone.sync().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 0));

    // Now someone fixes the date. The phone's correction is stale until the next sync, but what it
    // records is still accepted and sorts after everything before it.
    phone.store.set_device_clock_skew(chrono::Duration::zero());
    phone.move_to(&t, "Vault C");
    let report = phone.sync().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 0));
    phone.move_to(&t, "Vault D");
    let report = phone.sync().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 0));
    watcher.sync().await.unwrap();
    for where_ in [
        phone.store.package(&t).unwrap().unwrap().facts.location,
        watcher.store.package(&t).unwrap().unwrap().facts.location,
        fleet.server_inventory().packages[&t].location.clone(),
    ] {
        assert_eq!(where_.as_str(), "Vault D", "the real location, not Vault FUTURE");
    }
    assert!(phone.store.now().unwrap() < Utc::now() + chrono::Duration::minutes(11), "workflows stamp the real time again");
    assert!(phone.conflicts().is_empty(), "{:?}", phone.conflicts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stamps_from_before_enrolment_are_refused_and_enrolment_corrects_the_clock() {
    let fleet = Fleet::start(LICENCE).await;

    // A phone whose clock is three hours slow when it enrols: the enrolment answer corrects it,
    // so its very first event is accepted.
    let code = fleet.server().db.issue_enrolment_code(&fleet.facility, None, chrono::Duration::hours(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.db");
    let store = Store::open(&path, &store_key()).unwrap();
    store.set_device_clock_skew(chrono::Duration::hours(-3));
    let client = SyncClient::with_trust(fast_retry(), &test_ca().trust());
    client.enrol(&store, &fleet.url(), &code.code, "slow phone").await.unwrap();
    let slow = Phone { name: "slow".into(), store, path, client };
    slow.sign_in(MANAGER).await;
    let t = tag(1);
    slow.receive(&t, 10_000, "Vault A");
    let report = slow.sync().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 0), "{:?}", slow.store.history(&t).unwrap());

    // A phone set back a day after enrolling, before it synced again: what it records is stamped
    // before it was enrolled, and refused with what to do.
    let phone = fleet.phone("vault-2").await;
    phone.sign_in(MANAGER).await;
    phone.store.set_device_clock_skew(chrono::Duration::days(-1));
    let t2 = tag(2);
    let early = phone.receive(&t2, 5_000, "Vault A");
    let report = phone.sync().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (0, 1));
    let reason = phone.store.history(&t2).unwrap()[0].reject_reason.clone().unwrap();
    assert!(reason.contains(&format!("this is stamped {}", early.hlc.wall_time().format("%Y-%m-%dT%H:%M"))), "{reason}");
    assert!(reason.contains("before the phone was enrolled"), "{reason}");
    assert!(reason.contains("check the date and time settings on the phone"), "{reason}");
    // Corrected by that sync, it records the package again and is believed.
    phone.receive(&t2, 5_000, "Vault A");
    let report = phone.sync().await.unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 0));
    assert_eq!(fleet.server_inventory().packages.len(), 2);
}

fn one_package_manifest(package: &PackageTag) -> String {
    serde_json::json!({
        "ManifestNumber": "0007654321",
        "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
        "ShipperFacilityName": "Emerald Extracts",
        "RecipientFacilityLicenseNumber": LICENCE,
        "Packages": [{
            "PackageLabel": package.as_str(),
            "ItemName": "Live Resin - Blue Dream 1g",
            "ShippedQuantity": 100.00,
            "ShippedUnitOfMeasureName": "Grams",
            "ProductionBatchNumber": "LR-2026-11-A",
            "LabTestingState": "TestPassed"
        }]
    })
    .to_string()
}

/// What the session counts as received for its one package.
fn received(phone: &Phone, session: Uuid) -> Quantity {
    match phone.store.work(|w| session::receiving_discrepancies(w, session)).unwrap().as_slice() {
        [ReceivingDiscrepancy::Weight { received, .. }] => *received,
        other => panic!("expected one weight difference, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_weighing_one_package_agree_whatever_their_clocks_say() {
    let fleet = Fleet::start(LICENCE).await;
    let (ahead, behind) = (fleet.phone("bay-1").await, fleet.phone("bay-2").await);
    ahead.sign_in(FLOOR).await;
    behind.sign_in(FLOOR_2).await;
    let today = Utc::now().date_naive();
    fleet.settings(custody_core::settings::SettingsChange::AddScale {
        name: "Bay scale 1".into(),
        calibration_due: today + chrono::Duration::days(29),
    });
    let t = tag(7);
    let session = ahead.store.work(|w| session::open_receiving(w, &one_package_manifest(&t))).unwrap();
    ahead.sync().await.unwrap();
    behind.sync().await.unwrap();
    let bay = location("Receiving bay");
    ahead.store.work(|w| session::receiving_scan(w, session, t.as_str(), &bay)).unwrap();
    let coa = Coa {
        batch: BatchNumber::parse("LR-2026-11-A").unwrap(),
        lab: "SC Labs".into(),
        thc_percent: Decimal::new(781, 1),
        passed: true,
        tested_on: today - chrono::Duration::days(30),
        expires_on: today + chrono::Duration::days(300),
    };
    ahead.store.work(|w| session::record_coa(w, session, coa)).unwrap();
    ahead.store.work(|w| session::decide_package(w, session, t.as_str(), None, "")).unwrap();

    // Offline, without seeing each other: one phone's clock is a day ahead and its weight typed
    // by hand; the other's is right and its weight from the calibrated scale. By time the first
    // would win everywhere; the scale's reading does.
    ahead.store.set_device_clock_skew(chrono::Duration::days(1));
    ahead.store.work(|w| session::record_weight(w, session, t.as_str(), grams(10_150), None)).unwrap();
    behind.store.work(|w| session::record_weight(w, session, t.as_str(), grams(10_010), Some("Bay scale 1"))).unwrap();
    for p in [&ahead, &behind, &ahead] {
        p.sync().await.unwrap();
    }
    assert_eq!(received(&ahead, session), grams(10_010));
    assert_eq!(received(&behind, session), grams(10_010));

    // The phone that is now two days behind re-weighs after seeing the other's weight: its
    // weighing was made later, so it counts on both phones, although its clock says otherwise.
    ahead.store.set_device_clock_skew(chrono::Duration::days(-2));
    ahead.store.work(|w| session::record_weight(w, session, t.as_str(), grams(10_020), None)).unwrap();
    for p in [&ahead, &behind] {
        p.sync().await.unwrap();
    }
    assert_eq!(received(&ahead, session), grams(10_020));
    assert_eq!(received(&behind, session), grams(10_020));
}

/// Any decimal a JSON body can carry, extremes made likely.
fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        Just(Decimal::from_scientific("-7.9e28").unwrap()),
        (1i64..100_000, 0u32..4).prop_map(|(n, s)| Decimal::new(n, s)),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale)),
    ]
}

fn hostile_quantity() -> impl Strategy<Value = Quantity> {
    (decimal(), proptest::sample::select(Unit::ALL.to_vec())).prop_map(|(amount, unit)| Quantity { amount, unit })
}

fn hostile_body() -> impl Strategy<Value = EventBody> {
    let item = || Just(ItemName::parse("Live Resin - Blue Dream 1g").unwrap());
    let batch = || Just(BatchNumber::parse("LR-1").unwrap());
    let place = || proptest::sample::select(vec!["Vault A", "Vault FUTURE"]).prop_map(|s| LocationName::parse(s).unwrap());
    prop_oneof![
        (item(), batch(), hostile_quantity(), place()).prop_map(|(item, batch, quantity, location)| EventBody::Received {
            item,
            batch,
            quantity,
            location,
            expires_on: None,
            manifest: None,
            via: Some(custody_core::event::ReceivedVia::OpeningBalance)
        }),
        place().prop_map(|to| EventBody::Moved { to }),
        hostile_quantity().prop_map(|delta| EventBody::Adjusted { delta, reason: "x".into(), note: "y".into(), request: None }),
        Just(EventBody::Quarantined { reason: "z".into() }),
        Just(EventBody::Picked { order: "SO-1".into() }),
        (0u64..4, hostile_quantity(), item(), batch(), place()).prop_map(|(n, quantity, item, batch, location)| EventBody::Split {
            new_tag: tag(n),
            quantity,
            item,
            batch,
            location,
            expires_on: None
        }),
    ]
}

/// The server's inventory read and its order entry answer for any set of accepted events, even
/// ones that never passed validation (inserted straight into its database, as an older server
/// may hold them): an answer or a refusal with a sentence, never a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_inventory_read_and_order_entry_survive_any_accepted_events() {
    let fleet = Fleet::start(LICENCE).await;
    add_customer(&fleet);
    let phone = fleet.phone("vault-1").await;
    let device = AuthedDevice { id: phone.store.identity().unwrap().unwrap().device_id, facility: fleet.facility.clone() };
    let db = fleet.server().db.clone();
    let manager = db.roster(&fleet.facility).unwrap().into_iter().find(|p| p.badge == MANAGER.2).unwrap().id;
    let strategy = (
        proptest::collection::vec((0u64..4, any::<i64>(), hostile_body()), 1..25),
        proptest::collection::vec(hostile_quantity(), 1..3),
        decimal(),
    );
    let mut runner = TestRunner::new(ProptestConfig { cases: 120, ..ProptestConfig::default() });
    let result = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(raw, lines, price)| {
            let conn = rusqlite::Connection::open(db.path()).unwrap();
            conn.execute("DELETE FROM events", []).unwrap();
            for (i, (t, wall, body)) in raw.into_iter().enumerate() {
                let e = UnsealedEvent {
                    id: Uuid::now_v7(),
                    facility: fleet.facility.clone(),
                    tag: tag(t),
                    user: manager,
                    device: device.id,
                    device_seq: i as u64 + 1,
                    hlc: Hlc { wall_ms: wall, counter: 0 },
                    parent: None,
                    body,
                    prev_hash: GENESIS_HASH.into(),
                }
                .seal();
                conn.execute(
                    "INSERT INTO events (id, facility, device, device_seq, user, tag, kind, json, hash, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    rusqlite::params![
                        e.id.to_string(),
                        LICENCE,
                        e.device.to_string(),
                        e.device_seq as i64,
                        e.user.to_string(),
                        e.tag.as_str(),
                        e.kind().as_str(),
                        serde_json::to_string(&e).unwrap(),
                        e.hash,
                        Utc::now().to_rfc3339(),
                    ],
                )
                .unwrap();
            }
            let inventory = db.inventory(&fleet.facility).map_err(|e| TestCaseError::fail(format!("inventory read failed: {e}")))?;
            serde_json::to_string(&InventoryReport::from_inventory(&inventory)).unwrap();
            let order = NewOrder {
                number: format!("SO-{}", Uuid::now_v7().simple()),
                recipient: LicenseNumber::parse(GREEN_DOOR).unwrap(),
                requested_on: Utc::now().date_naive(),
                lines: lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, quantity)| NewOrderLine {
                        item: ItemName::parse(&format!("Live Resin - Blue Dream 1g{}", if i == 0 { "" } else { " B" })).unwrap(),
                        quantity,
                        unit_price: price,
                    })
                    .collect(),
                patient: None,
            };
            match db.create_order(&device, manager, &order) {
                Ok(_) | Err(custody_server::DbError::InvalidInput(_)) => Ok(()),
                Err(e) => Err(TestCaseError::fail(format!("order entry failed: {e}"))),
            }
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // And over HTTP, with whatever the last case left.
    assert_eq!(get_inventory(&fleet, &phone).await.0, 200);
}
