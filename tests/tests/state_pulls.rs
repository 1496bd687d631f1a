//! Pulls from the state's system end to end: the real server reads the Metrc emulator on
//! loopback (incoming transfers with their packages, lab results, reference lists, the active
//! packages), keeps them, and phones get them at sync — only when they changed, and the
//! submissions' status only for managers and compliance officers. Bad input from the state is
//! refused by name, logged, recorded, and changes nothing.

use chrono::Utc;
use custody_core::ids::{LicenseNumber, UserId};
use custody_core::protocol::{PERSON_HEADER, PersonProof, SyncRequest, SyncResponse};
use custody_core::quantity::Unit;
use custody_core::receiving::session;
use custody_core::signing::{SigningKey, request_message};
use custody_e2e::*;
use custody_metrc_emulator::{Emulator, Seed};
use custody_server::state::System;
use custody_server::state::metrc::Keys;
use custody_server::state::pull::{PullError, PullReport, TRANSFERS, pull_now};
use rust_decimal::Decimal;
use serde_json::{Value, json};

const L1: &str = "C11-0000001-LIC";
const SHIPPER: &str = "C11-0000777-LIC";
const VENDOR: &str = "vendor-key-1";

fn lic(text: &str) -> LicenseNumber {
    LicenseNumber::parse(text).unwrap()
}

/// A 24-character tag of the shipper's: `1A4FF03` and the number.
fn shipped(n: u64) -> String {
    format!("1A4FF03{n:017}")
}

fn package(label: &str, id: i64, batch: Option<&str>) -> Value {
    json!({"PackageId": id, "PackageLabel": label, "PackageType": "Product", "ProductName": "Blue Dream Flower 3.5g",
           "ItemName": "Blue Dream Flower 3.5g", "ProductCategoryName": "Flower", "ItemUnitThcPercent": 23.0,
           "ShippedQuantity": 120, "ShippedUnitOfMeasureName": "Each", "ReceivedQuantity": null, "ShipmentPackageState": "Shipped",
           "LabTestingState": "TestPassed", "ProductionBatchNumber": batch, "ExpirationDate": null})
}

/// An incoming transfer to L1 with one delivery (Id `delivery`) of `packages`.
fn transfer(manifest: &str, delivery: i64, packages: Vec<Value>) -> Value {
    json!({"ManifestNumber": manifest, "ShipperFacilityLicenseNumber": SHIPPER, "ShipperFacilityName": "Hilltop Cultivation",
           "DriverName": null, "DriverOccupationalLicenseNumber": null, "VehicleMake": "Ford", "VehicleModel": null,
           "VehicleLicensePlateNumber": "", "EstimatedArrivalDateTime": "2026-11-30T14:05:00",
           "Deliveries": [{"Id": delivery, "RecipientFacilityLicenseNumber": L1, "Packages": packages}]})
}

fn thc_result(label: &str, id: i64, level: f64, passed: bool) -> Value {
    json!({"PackageId": id, "PackageLabel": label, "LabFacilityLicenseNumber": "C11-0000900-LIC", "LabFacilityName": "Pacific Analytics",
           "TestTypeName": "THC (%) Raw Plant Material", "TestPassed": passed, "TestResultLevel": level, "OverallPassed": passed,
           "TestPerformedDate": "2026-11-12", "ResultReleased": true, "ExpirationDateTime": "2027-11-12", "RevokedDate": null})
}

fn seed() -> Seed {
    Seed::default()
        .vendor_key(VENDOR)
        .facility(L1, "user-key-1")
        .item(L1, json!({"Name": "Blue Dream Flower 3.5g", "ProductCategoryName": "Flower", "UnitOfMeasureName": "Each"}))
        .item(L1, json!({"Name": "Live Resin 1g", "ProductCategoryName": "Concentrate", "UnitOfMeasureName": "Grams"}))
        .location(L1, json!({"Name": "Vault A", "LocationTypeName": "Default", "ForPackages": true}))
        .location(L1, json!({"Name": "Office", "LocationTypeName": "Default", "ForPackages": false}))
}

struct Setup {
    fleet: Fleet,
    emu: Emulator,
}

async fn setup(seed: Seed) -> Setup {
    let fleet = Fleet::start(L1).await;
    let emu = Emulator::start(seed).await.expect("the emulator starts");
    let keys = Keys { vendor: VENDOR.into(), user: "user-key-1".into() };
    fleet.server().db.state_connect(&lic(L1), System::Metrc, "ca", &emu.base_url(), &keys, None).expect("connect");
    Setup { fleet, emu }
}

impl Setup {
    async fn pull(&self) -> Result<PullReport, PullError> {
        pull_now(&self.fleet.server().db, &fast_state(), &lic(L1)).await
    }
}

/// A person signed in on a phone, able to sign its requests as the app does.
struct Person {
    user: UserId,
    key: SigningKey,
}

async fn person(fleet: &Fleet, phone: &Phone, who: (&str, custody_core::roles::Role, &str, &str)) -> Person {
    let user = phone.sign_in(who).await.id;
    let key = fleet.register_key(phone, who);
    Person { user, key }
}

/// One sync as the phone sends it, holding the state's data at `revision`, signed by `who`
/// (or by no one: the device alone).
async fn sync(fleet: &Fleet, phone: &Phone, who: Option<&Person>, revision: u64) -> SyncResponse {
    let device = phone.store.identity().unwrap().unwrap().device_id;
    let body = serde_json::to_vec(&SyncRequest { state_revision: revision, ..Default::default() }).unwrap();
    let mut request =
        https_client().post(format!("{}/v1/sync", fleet.url())).bearer_auth(phone.token()).header("content-type", "application/json");
    if let Some(p) = who {
        let at_ms = Utc::now().timestamp_millis();
        let signature = p.key.sign(&request_message("POST", "/v1/sync", device, p.user, at_ms, &body));
        request = request.header(PERSON_HEADER, PersonProof { user: p.user, at_ms, signature }.header_value());
    }
    let response = request.body(body).send().await.expect("the server answers");
    assert!(response.status().is_success(), "sync refused: {}", response.status());
    let answer: SyncResponse = response.json().await.expect("a sync response");
    assert_eq!(answer.person_refused, None, "the person's proof holds");
    answer
}

#[tokio::test]
async fn a_transfer_added_at_the_state_reaches_phones_with_its_certificate_and_the_reference_lists() {
    let (a, b) = (shipped(1), shipped(2));
    let s = setup(seed().lab_result(thc_result(&a, 8001, 22.9, true))).await;
    s.emu.add_transfer(L1, transfer("0000123456", 9101, vec![package(&a, 8001, Some("BD-PB-1101")), package(&b, 8002, None)])).unwrap();
    let report = s.pull().await.expect("the pull goes through");
    assert_eq!((report.manifests, report.refused), (1, 0));
    assert!(report.changed);

    let phone = s.fleet.phone("office").await;
    let manager = person(&s.fleet, &phone, MANAGER).await;
    let got = sync(&s.fleet, &phone, Some(&manager), 0).await;
    let state = got.state.expect("the state's data, new to this phone");
    assert_eq!(state.manifests.len(), 1);
    let inbox = &state.manifests[0];
    assert_eq!(inbox.manifest.manifest_number, "0000123456");
    assert_eq!(inbox.manifest.packages.len(), 2);
    assert_eq!(inbox.manifest.packages[1].production_batch_number, None, "a null batch imports as missing, not a refusal");
    assert_eq!(inbox.coas.len(), 1, "one certificate, for the batch with a lab result");
    let coa = &inbox.coas[0];
    assert_eq!(coa.batch.as_str(), "BD-PB-1101");
    assert_eq!(coa.thc_percent, Decimal::new(229, 1));
    assert!(coa.passed);
    assert_eq!(coa.expires_on.to_string(), "2027-11-12");
    let items: Vec<(&str, Unit)> = state.reference.items.iter().map(|i| (i.name.as_str(), i.unit)).collect();
    assert_eq!(items, vec![("Blue Dream Flower 3.5g", Unit::Each), ("Live Resin 1g", Unit::G)]);
    let office = state.reference.locations.iter().find(|l| l.name.as_str() == "Office").unwrap();
    assert!(!office.for_packages, "the state's ForPackages is kept");
    let entry_error = state.reference.adjustment_reasons.iter().find(|r| r.name == "Entry Error").expect("the state's reasons");
    assert!(entry_error.requires_note);
    assert!(state.reference.adjustment_reasons.iter().any(|r| !r.requires_note), "the state's RequiresNote, not a built-in default");
    let status = got.state_status.expect("a manager sees how submissions stand");
    assert!(status.connected);
    assert!(status.last_pull_at.is_some());

    // Holding the current revision: nothing again, until the state changes.
    assert!(sync(&s.fleet, &phone, Some(&manager), state.revision).await.state.is_none());
    s.pull().await.unwrap();
    assert!(sync(&s.fleet, &phone, Some(&manager), state.revision).await.state.is_none(), "a pull that found nothing new is no change");
    s.emu.add_transfer(L1, transfer("0000123457", 9102, vec![package(&shipped(3), 8003, Some("BD-PB-1102"))])).unwrap();
    s.pull().await.unwrap();
    let newer = sync(&s.fleet, &phone, Some(&manager), state.revision).await.state.expect("a new manifest is a change");
    assert!(newer.revision > state.revision);
    assert_eq!(newer.manifests.len(), 2);
}

#[tokio::test]
async fn only_managers_and_compliance_officers_get_the_submission_status() {
    let s = setup(seed()).await;
    s.emu.add_transfer(L1, transfer("0000200001", 9201, vec![package(&shipped(10), 8101, Some("B-1"))])).unwrap();
    s.pull().await.unwrap();
    let phone = s.fleet.phone("floor").await;
    let floor = person(&s.fleet, &phone, FLOOR).await;
    let got = sync(&s.fleet, &phone, Some(&floor), 0).await;
    assert!(got.state.is_some(), "every phone of the facility gets the inbox");
    assert_eq!(got.state_status, None, "a floor worker does not see the failed queue");
    let device_only = sync(&s.fleet, &phone, None, 0).await;
    assert_eq!(device_only.state_status, None, "nor a device with no one proven signed in");
    let manager = person(&s.fleet, &phone, MANAGER).await;
    assert!(sync(&s.fleet, &phone, Some(&manager), 0).await.state_status.is_some());
    let db = &s.fleet.server().db;
    db.add_user(&lic(L1), "Cleo Compliance", custody_core::roles::Role::Compliance, "C-300", "9135").unwrap();
    db.add_user(&lic(L1), "Ari Admin", custody_core::roles::Role::Admin, "A-900", "9753").unwrap();
    let compliance = person(&s.fleet, &phone, ("Cleo Compliance", custody_core::roles::Role::Compliance, "C-300", "9135")).await;
    assert!(sync(&s.fleet, &phone, Some(&compliance), 0).await.state_status.is_some());
    // Admins run devices and accounts, not stock: no failed queue for them either.
    let admin = person(&s.fleet, &phone, ("Ari Admin", custody_core::roles::Role::Admin, "A-900", "9753")).await;
    assert_eq!(sync(&s.fleet, &phone, Some(&admin), 0).await.state_status, None, "an admin does not see the failed queue");
}

#[tokio::test]
async fn lists_are_read_page_by_page_and_windows_never_span_more_than_a_day() {
    let s = setup(seed()).await;
    // 23 transfers: two pages of 20. One was last changed two days ago: three windows back.
    for n in 0..23u64 {
        let mut t = transfer(&format!("00003{n:05}"), 9300 + n as i64, vec![package(&shipped(100 + n), 8300 + n as i64, Some("B-3"))]);
        if n == 0 {
            let two_days_ago = (Utc::now() - chrono::Duration::hours(50)).naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string();
            t["LastModified"] = json!(two_days_ago);
        }
        s.emu.add_transfer(L1, t).unwrap();
    }
    let report = s.pull().await.expect("the pull goes through");
    assert_eq!((report.manifests, report.refused), (23, 0));
    let inbox = s.fleet.server().db.inbox(&lic(L1)).unwrap();
    assert_eq!(inbox.len(), 23, "every transfer, the old one and both pages");
    let incoming = s.emu.request_counts()[&("GET".to_string(), TRANSFERS.to_string())];
    // Three days back in three one-day windows: the first holds the old transfer, the second
    // nothing, the last two pages.
    assert_eq!(incoming, 4, "one page, one page, two pages");
    assert_eq!(s.emu.status_counts().get(&400), None, "no window over 24 hours, no page too large");
    assert_eq!(s.emu.status_counts().get(&429), None, "paced within the GET limits");
    // The cursor stands at the end of the last window: the next pull reads only the last minutes.
    let cursor = s.fleet.server().db.pull_cursor(&lic(L1), TRANSFERS).unwrap().expect("a cursor");
    assert!(Utc::now().naive_utc() - cursor < chrono::Duration::minutes(1));
    s.pull().await.unwrap();
    let again = s.emu.request_counts()[&("GET".to_string(), TRANSFERS.to_string())];
    assert!(again - incoming <= 2, "one short window (two pages at most) after the cursor: {} more", again - incoming);
}

#[tokio::test]
async fn a_429_is_waited_out_and_the_pull_still_completes() {
    let s = setup(seed()).await;
    for n in 0..4u64 {
        s.emu
            .add_transfer(L1, transfer(&format!("00004{n:05}"), 9400 + n as i64, vec![package(&shipped(400 + n), 8400 + n as i64, None)]))
            .unwrap();
    }
    // Three GETs a second for this facility: the pull is throttled and waits Retry-After.
    s.emu.faults().set_rate_limits(3, 150, 10);
    let report = s.pull().await.expect("the pull goes through despite the 429s");
    assert_eq!(report.manifests, 4);
    assert!(s.emu.status_counts().get(&429).copied().unwrap_or(0) > 0, "the limit was hit: {:?}", s.emu.status_counts());
    assert_eq!(s.fleet.server().db.inbox(&lic(L1)).unwrap().len(), 4);
}

#[tokio::test]
async fn the_active_packages_are_kept_as_a_dated_snapshot_over_several_pages() {
    let mut seed = seed();
    for n in 0..45u64 {
        seed = seed.package(
            L1,
            json!({"Label": format!("1A4FF01{n:017}"), "Quantity": 10.5, "UnitOfMeasureName": "Grams", "LocationName": "Vault A",
                   "Item": {"Name": "Live Resin 1g", "ProductCategoryName": "Concentrate"}, "FinishedDate": null}),
        );
    }
    let s = setup(seed).await;
    let report = s.pull().await.unwrap();
    assert!(report.snapshot);
    let (taken_at, packages) = s.fleet.server().db.latest_package_snapshot(&lic(L1)).unwrap().expect("a snapshot");
    assert!(Utc::now() - taken_at < chrono::Duration::minutes(1));
    assert_eq!(packages.len(), 45, "three pages of the active list");
    assert_eq!(packages[0].quantity, Decimal::new(105, 1));
    assert_eq!(packages[0].item, "Live Resin 1g");
    assert_eq!(packages[0].location.as_deref(), Some("Vault A"));
    assert_eq!(s.emu.request_counts()[&("GET".to_string(), "/packages/v2/active".to_string())], 3);
}

#[tokio::test]
async fn a_transfer_accepted_at_the_state_leaves_the_inbox() {
    let s = setup(seed()).await;
    s.emu.add_transfer(L1, transfer("0000500001", 9501, vec![package(&shipped(500), 8500, Some("B-5"))])).unwrap();
    s.emu.add_transfer(L1, transfer("0000500002", 9502, vec![package(&shipped(501), 8501, Some("B-5"))])).unwrap();
    s.pull().await.unwrap();
    let phone = s.fleet.phone("office").await;
    let manager = person(&s.fleet, &phone, MANAGER).await;
    let before = sync(&s.fleet, &phone, Some(&manager), 0).await.state.unwrap();
    assert_eq!(before.manifests.len(), 2);

    // Someone accepts it in the state's web interface.
    assert_eq!(s.emu.accept_transfer("0000500001").unwrap(), 1);
    let report = s.pull().await.unwrap();
    assert!(report.changed);
    let after = sync(&s.fleet, &phone, Some(&manager), before.revision).await.state.expect("the inbox changed");
    let numbers: Vec<&str> = after.manifests.iter().map(|m| m.manifest.manifest_number.as_str()).collect();
    assert_eq!(numbers, vec!["0000500002"]);
    let inbox = s.fleet.server().db.inbox(&lic(L1)).unwrap();
    assert_eq!(inbox, vec![("0000500001".to_string(), "accepted".to_string()), ("0000500002".to_string(), "open".to_string())]);
}

/// A page in the state's list wrapper.
fn page_of(records: Vec<Value>) -> String {
    let n = records.len();
    json!({"Data": records, "Total": n, "PageNumber": 1, "PageSize": 20}).to_string()
}

#[tokio::test]
async fn bad_records_from_the_state_are_refused_by_name_and_the_good_ones_kept() {
    let s = setup(seed()).await;
    s.emu.add_transfer(L1, transfer("0000600001", 9601, vec![package(&shipped(600), 8600, Some("B-6"))])).unwrap();
    s.emu.add_transfer(L1, transfer("0000600002", 9602, vec![package(&shipped(601), 8601, Some("B-6"))])).unwrap();
    s.emu.add_transfer(L1, transfer("0000600003", 9603, vec![package(&shipped(602), 8602, Some("B-6"))])).unwrap();
    s.emu.add_transfer(L1, transfer("0000600004", 9604, vec![package(&shipped(603), 8603, Some("B-6"))])).unwrap();
    // What the state should never send: a 25-character tag, a package with no quantity, a
    // negative quantity.
    let long_tag = format!("{}9", shipped(601));
    s.emu.faults().serve_raw("/transfers/v2/deliveries/9602/packages", &page_of(vec![package(&long_tag, 8601, Some("B-6"))]));
    let mut no_quantity = package(&shipped(602), 8602, Some("B-6"));
    no_quantity.as_object_mut().unwrap().remove("ShippedQuantity");
    s.emu.faults().serve_raw("/transfers/v2/deliveries/9603/packages", &page_of(vec![no_quantity]));
    let mut negative = package(&shipped(603), 8603, Some("B-6"));
    negative["ShippedQuantity"] = json!(-5);
    s.emu.faults().serve_raw("/transfers/v2/deliveries/9604/packages", &page_of(vec![negative]));

    let report = s.pull().await.expect("a readable page with bad records is not a failed pull");
    assert_eq!((report.manifests, report.refused), (4, 3));
    let inbox = s.fleet.server().db.inbox(&lic(L1)).unwrap();
    assert_eq!(inbox, vec![("0000600001".to_string(), "open".to_string())], "nothing of a refused manifest is kept");
    let faults = s.fleet.server().db.pull_faults(&lic(L1)).unwrap();
    assert_eq!(faults.len(), 3, "{faults:?}");
    let said = |manifest: &str| faults.iter().find(|(_, record, _)| record.contains(manifest)).map(|(_, _, m)| m.clone()).unwrap();
    let m = said("0000600002");
    assert!(m.contains(&long_tag) || m.contains("24"), "the tag is named: {m}");
    let m = said("0000600003");
    assert!(m.contains(&shipped(602)) && m.contains("quantity"), "the package and the field are named: {m}");
    let m = said("0000600004");
    assert!(m.contains(&shipped(603)), "the package is named: {m}");
    for (_, _, m) in &faults {
        assert!(!m.contains("column"), "in words, never a JSON column: {m}");
    }

    // Once the state sends them right, they come in.
    s.emu.faults().clear();
    s.pull().await.unwrap();
    assert_eq!(s.fleet.server().db.inbox(&lic(L1)).unwrap().len(), 4, "the next pull reads them again once fixed");
}

#[tokio::test]
async fn an_unreadable_page_stops_the_pull_keeps_the_cursor_and_changes_nothing() {
    let s = setup(seed()).await;
    s.emu.add_transfer(L1, transfer("0000700001", 9701, vec![package(&shipped(700), 8700, Some("B-7"))])).unwrap();
    s.emu.faults().serve_raw(TRANSFERS, r#"{"Data": [{"Id": 1, "ManifestNumber": "00007"#);
    let err = s.pull().await.expect_err("an unreadable page fails the pull");
    assert!(err.to_string().contains(TRANSFERS), "the list is named: {err}");
    assert_eq!(s.fleet.server().db.pull_cursor(&lic(L1), TRANSFERS).unwrap(), None, "the cursor did not move");
    assert!(s.fleet.server().db.inbox(&lic(L1)).unwrap().is_empty());
    let faults = s.fleet.server().db.pull_faults(&lic(L1)).unwrap();
    assert_eq!(faults.len(), 1);
    assert_eq!(faults[0].1, "the whole page");
    let phone = s.fleet.phone("office").await;
    assert!(sync(&s.fleet, &phone, None, 0).await.state.is_none(), "phones see nothing of it");

    // The state answers properly again: the same window is read, nothing lost.
    s.emu.faults().clear_raw(TRANSFERS);
    s.pull().await.unwrap();
    assert_eq!(s.fleet.server().db.inbox(&lic(L1)).unwrap().len(), 1);
}

#[tokio::test]
async fn the_server_pulls_on_its_own_at_the_interval() {
    let mut settings = fast_state();
    settings.pull_interval = Some(std::time::Duration::from_millis(100));
    let fleet = Fleet::start_with_state(L1, settings).await;
    let emu = Emulator::start(seed()).await.unwrap();
    emu.add_transfer(L1, transfer("0000800001", 9801, vec![package(&shipped(800), 8800, None)])).unwrap();
    let keys = Keys { vendor: VENDOR.into(), user: "user-key-1".into() };
    fleet.server().db.state_connect(&lic(L1), System::Metrc, "ca", &emu.base_url(), &keys, None).unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while fleet.server().db.inbox(&lic(L1)).unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no pull happened");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    emu.add_transfer(L1, transfer("0000800002", 9802, vec![package(&shipped(801), 8801, None)])).unwrap();
    while fleet.server().db.inbox(&lic(L1)).unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no second pull happened");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_state_acceptance_task_closes_itself_when_a_pull_shows_the_manifest_accepted() {
    let s = setup(seed()).await;
    let t = shipped(900);
    s.emu.add_transfer(L1, transfer("0000900001", 9901, vec![package(&t, 8900, Some("B-9"))])).unwrap();
    s.pull().await.unwrap();

    // The manifest is received on a phone (here from the same manifest as a file) and completed:
    // the task "accept manifest N in the state system" opens.
    let boss = s.fleet.phone("office").await;
    boss.sign_in(MANAGER).await;
    let mut file = transfer("0000900001", 9901, vec![package(&t, 8900, Some("B-9"))]);
    let packages = file["Deliveries"][0]["Packages"].clone();
    file["Packages"] = packages;
    file["RecipientFacilityLicenseNumber"] = json!(L1);
    let session = boss.store.work(|w| session::open_receiving(w, &file.to_string())).expect("open receiving");
    boss.store.work(|w| session::receiving_scan(w, session, &t, &location("Receiving bay"))).unwrap();
    boss.store
        .work(|w| session::decide_package(w, session, &t, Some(custody_core::work::receiving::RejectReason::Damaged), "crushed case"))
        .unwrap();
    boss.store.work(|w| session::complete_receiving(w, session, &location("Intake"))).expect("complete");
    assert_eq!(boss.store.work(session::open_state_tasks).unwrap().len(), 1);
    boss.sync().await.unwrap();
    boss.sync().await.unwrap();

    // Someone accepts it in the state's web interface; the next pull closes the task for everyone.
    s.emu.accept_transfer("0000900001").unwrap();
    s.pull().await.unwrap();
    boss.sync().await.unwrap();
    boss.sync().await.unwrap();
    assert!(boss.store.work(session::open_state_tasks).unwrap().is_empty(), "the server closed the task with its own signed change");
}

/// Issue 12, point 7: a manifest pulled from the state reaches two phones through the real sync
/// client; one opens receiving from the inbox (the state's lab results become the session's
/// certificates), both scan offline, and after syncing both see the same progress and flags: the
/// batch with a passed, current lab result is not flagged "no certificate", the package the state
/// left without a batch is flagged for it. The state's adjustment reasons replace the built-in
/// list on the phones: a reason the state does not list, and a note left blank, are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pulled_manifest_is_received_by_two_phones_offline_and_the_states_lab_results_clear_the_flag() {
    use custody_core::approvals;
    use custody_core::receiving::inbox;
    use custody_core::receiving::session::Flag;

    let (a, b) = (shipped(41), shipped(42));
    let s = setup(seed().lab_result(thc_result(&a, 8041, 23.0, true))).await;
    s.emu.add_transfer(L1, transfer("0000123499", 9141, vec![package(&a, 8041, Some("BD-PB-1141")), package(&b, 8042, None)])).unwrap();
    s.pull().await.expect("the pull goes through");

    let (p1, p2) = (s.fleet.phone("bay-1").await, s.fleet.phone("bay-2").await);
    p1.sign_in(FLOOR).await;
    p2.sign_in(FLOOR_2).await;
    p1.sync().await.unwrap();
    p2.sync().await.unwrap();
    for p in [&p1, &p2] {
        let listed = p.store.work(inbox::receiving_inbox).unwrap();
        assert_eq!(listed.len(), 1, "the state's manifest is in every phone's inbox");
        assert_eq!((listed[0].manifest_number.as_str(), listed[0].packages, listed[0].session), ("0000123499", 2, None));
    }

    let id = p1.store.work(|w| inbox::open_receiving_from_inbox(w, "0000123499")).expect("opened from the inbox");
    let unknown = p2.store.work(|w| inbox::open_receiving_from_inbox(w, "0000999999")).unwrap_err();
    assert!(unknown.to_string().contains("not in this facility's inbox"), "{unknown}");
    p1.sync().await.unwrap();
    p2.sync().await.unwrap();
    assert_eq!(p2.store.work(inbox::receiving_inbox).unwrap()[0].session, Some(id), "the other phone sees the session opened");

    // Offline: each phone scans one package.
    let bay = location("Receiving bay");
    p1.store.work(|w| session::receiving_scan(w, id, &a, &bay)).unwrap();
    p2.store.work(|w| session::receiving_scan(w, id, &b, &bay)).unwrap();
    for p in [&p1, &p2, &p1] {
        p.sync().await.unwrap();
    }
    for p in [&p1, &p2] {
        let progress = p.store.work(|w| session::receiving_progress(w, id)).unwrap();
        assert_eq!(progress.matched.len(), 2, "both scans on both phones");
        assert!(progress.missing.is_empty());
        let flags = p.store.work(|w| session::package_flags(w, id)).unwrap();
        let of = |t: &str| flags.iter().find(|(tag, _)| tag.as_str() == t).map(|(_, f)| f.clone()).unwrap_or_default();
        assert!(!of(&a).iter().any(|f| matches!(f, Flag::NoCoa { .. })), "the state's passed lab result clears the flag: {:?}", of(&a));
        assert!(of(&b).contains(&Flag::NoBatch), "the package without a batch is flagged for it: {:?}", of(&b));
    }

    // The state's reasons, on the phone: one it does not list is refused, a blank note too.
    let reasons = p1.store.work(approvals::adjustment_reasons).unwrap();
    let served: Vec<String> = reasons.iter().map(|r| r.name.clone()).collect();
    assert!(served.contains(&"Entry Error".to_string()), "{served:?}");
    // The package comes in as the manager's opening balance (only a manager enters one).
    p1.sign_in(MANAGER).await;
    p1.receive(&tag(77), 1_000, "Vault A");
    p1.sign_in(FLOOR).await;
    let minus = custody_core::quantity::Quantity::change(Decimal::new(-100, 2), Unit::G).unwrap();
    let not_listed = p1.store.work(|w| approvals::request_adjustment(w, &tag(77), minus, "Gone Fishing", "why not", None)).unwrap_err();
    assert!(not_listed.to_string().contains("Gone Fishing"), "{not_listed}");
    let blank = p1.store.work(|w| approvals::request_adjustment(w, &tag(77), minus, "Entry Error", "  ", None)).unwrap_err();
    assert!(blank.to_string().contains("needs a note"), "{blank}");
    assert!(p1.store.work(approvals::adjustments).unwrap().is_empty(), "refusals change nothing");
    p1.store.work(|w| approvals::request_adjustment(w, &tag(77), minus, "Entry Error", "typed 10 g, label says 9 g", None)).unwrap();
}
