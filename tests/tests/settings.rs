//! A facility's settings, kept on the server and delivered at sync (issue 13 point 6), end to
//! end: what an operator sets with the CLI's functions (`custody-server settings ...` calls the
//! same `Db::change_settings`) reaches two phones at their next sync; a count scoped by category
//! finds packages by the server's categories; a weight from a scale the server lists is recorded
//! as that scale's, not typed by hand; a scale past its calibration due date is refused until it
//! is recalibrated on the server; and a phone of another facility never sees them.

use chrono::Utc;
use custody_core::counts;
use custody_core::receiving::session::{self, ReceivingError, ReceivingSettings};
use custody_core::settings::SettingsChange;
use custody_core::store::facility_settings;
use custody_core::work::adjustment::default_reasons;
use custody_core::work::count::CountScope;
use custody_core::{approvals, ids::LocationName};
use custody_e2e::*;
use rust_decimal::Decimal;

const L1: &str = "C11-0000001-LIC";
const L2: &str = "C11-0000002-LIC";

fn manifest(package: &custody_core::ids::PackageTag) -> String {
    serde_json::json!({
        "ManifestNumber": "0007650001",
        "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
        "ShipperFacilityName": "Emerald Extracts",
        "RecipientFacilityLicenseNumber": L1,
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

fn reason_names(phone: &Phone) -> Vec<String> {
    phone.store.work(approvals::adjustment_reasons).unwrap().into_iter().map(|r| r.name).collect()
}

fn locations(phone: &Phone) -> Vec<String> {
    phone.store.work(|w| facility_settings::locations(w)).unwrap().iter().map(LocationName::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_set_on_the_server_reach_two_phones_and_rule_counts_and_weighing() {
    let fleet = Fleet::start(L1).await;
    let (office, bay) = (fleet.phone("office").await, fleet.phone("bay-1").await);
    office.sign_in(MANAGER).await;
    bay.sign_in(FLOOR).await;
    // Before the first sync that carries settings: core's defaults.
    for p in [&office, &bay] {
        p.sync().await.unwrap();
        assert_eq!(p.store.work(session::receiving_settings).unwrap(), ReceivingSettings::default());
        assert_eq!(p.store.work(approvals::adjustment_reasons).unwrap(), default_reasons());
        assert_eq!(p.store.settings_revision().unwrap(), 0);
    }

    let today = Utc::now().date_naive();
    fleet.settings(SettingsChange::AddScale { name: "Vault scale 1".into(), calibration_due: today + chrono::Duration::days(60) });
    fleet.settings(SettingsChange::AddScale { name: "Old bench scale".into(), calibration_due: today - chrono::Duration::days(1) });
    fleet.settings(SettingsChange::PotencyTolerance(Decimal::new(15, 1)));
    fleet.settings(SettingsChange::SetCategory { item: "Live Resin Cart 1g".into(), category: "Vape".into() });
    fleet.settings(SettingsChange::SetCategory { item: "Live Resin - Blue Dream 1g".into(), category: "Concentrate".into() });
    fleet.settings(SettingsChange::AddLocation("Vault A".into()));
    let set = fleet.settings(SettingsChange::AddReason { name: "Damaged in transit".into(), requires_note: true });
    assert_eq!(set.revision, 7);

    office.receive(&tag(1), 10_000, "Vault A");
    office.receive_units(&tag(2), 10, "Vault A");
    for p in [&office, &bay, &office] {
        p.sync().await.unwrap();
    }
    for p in [&office, &bay] {
        assert_eq!(p.store.settings_revision().unwrap(), 7);
        let receiving = p.store.work(session::receiving_settings).unwrap();
        assert_eq!(receiving.potency_tolerance, Decimal::new(15, 1));
        assert_eq!(receiving.scales.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["Vault scale 1", "Old bench scale"]);
        assert_eq!(reason_names(p), ["Damaged in transit"], "the facility's reasons replace the built-in ones");
        assert_eq!(p.store.work(counts::item_categories).unwrap().0.get("Live Resin Cart 1g").map(String::as_str), Some("Vape"));
        assert_eq!(locations(p), ["Vault A"]);
    }

    // A count by category finds the packages of the server's category, and only them.
    let vapes = CountScope { locations: vec![], categories: vec!["Vape".into()] };
    let count = office.store.work(|w| counts::open_count(w, "Vapes", vapes)).unwrap();
    let view = office.store.work(|w| counts::count_session(w, count)).unwrap();
    assert_eq!(view.in_scope.iter().map(|p| p.tag.clone()).collect::<Vec<_>>(), [tag(2)]);

    // Weighing at receiving: the listed, calibrated scale's reading is the scale's.
    let t = tag(10);
    let receiving = bay.store.work(|w| session::open_receiving(w, &manifest(&t))).unwrap();
    bay.store.work(|w| session::receiving_scan(w, receiving, t.as_str(), &location("Receiving bay"))).unwrap();
    bay.store.work(|w| session::record_weight(w, receiving, t.as_str(), grams(10_000), Some("Vault scale 1"))).unwrap();
    let weighed = |phone: &Phone| {
        phone
            .store
            .work(|w| w.read::<_, ReceivingError>(receiving, |d| Ok(custody_core::work::receiving::weighings(d)?)))
            .unwrap()
            .expect("the session is on the phone")
    };
    let weighing = weighed(&bay).remove(&t).expect("the weighing");
    assert_eq!(weighing.scale.as_deref(), Some("Vault scale 1"), "weighed on a listed scale, not typed by hand");
    // A scale past its calibration due date is refused, and so is one the server does not list;
    // neither changes the weighing.
    let err = bay.store.work(|w| session::record_weight(w, receiving, t.as_str(), grams(9_000), Some("Old bench scale"))).unwrap_err();
    assert!(err.to_string().contains("Old bench scale was due for calibration on"), "{err}");
    let err = bay.store.work(|w| session::record_weight(w, receiving, t.as_str(), grams(9_000), Some("Bench 9"))).unwrap_err();
    assert!(err.to_string().contains("not one of this facility's scales"), "{err}");
    assert_eq!(weighed(&bay).remove(&t).unwrap().weight, grams(10_000));

    // Recalibrated on the server: the phone may use it after its next sync, not before.
    fleet.settings(SettingsChange::AddScale { name: "Old bench scale".into(), calibration_due: today + chrono::Duration::days(365) });
    assert!(bay.store.work(|w| session::record_weight(w, receiving, t.as_str(), grams(10_001), Some("Old bench scale"))).is_err());
    bay.sync().await.unwrap();
    assert_eq!(bay.store.settings_revision().unwrap(), 8);
    bay.store.work(|w| session::record_weight(w, receiving, t.as_str(), grams(10_001), Some("Old bench scale"))).unwrap();
    assert_eq!(weighed(&bay).remove(&t).unwrap().scale.as_deref(), Some("Old bench scale"));

    // Kept on the phone: a sync that carries no settings (the revision held) changes nothing.
    bay.sync().await.unwrap();
    assert_eq!(reason_names(&bay), ["Damaged in transit"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_of_another_facility_never_sees_these_settings() {
    let fleet = Fleet::start(L1).await;
    let south = fleet.add_facility(L2, "South Distribution");
    let today = Utc::now().date_naive();
    fleet.settings(SettingsChange::AddScale { name: "North scale".into(), calibration_due: today + chrono::Duration::days(30) });
    fleet.settings(SettingsChange::AddReason { name: "North only".into(), requires_note: false });
    fleet.settings(SettingsChange::AddLocation("North vault".into()));
    let (north, south_phone) = (fleet.phone("north").await, fleet.phone_at(&south, "south").await);
    north.sign_in(MANAGER).await;
    south_phone.sign_in(MANAGER).await;
    north.sync().await.unwrap();
    south_phone.sync().await.unwrap();
    assert_eq!(north.store.work(session::receiving_settings).unwrap().scales.len(), 1);
    assert_eq!(south_phone.store.settings_revision().unwrap(), 0, "no settings were sent to the other facility");
    assert_eq!(south_phone.store.work(session::receiving_settings).unwrap(), ReceivingSettings::default());
    assert_eq!(south_phone.store.work(approvals::adjustment_reasons).unwrap(), default_reasons());
    assert!(locations(&south_phone).is_empty());

    // The other facility's own settings reach its phones, and not the first facility's.
    fleet.server().db.change_settings(&south, &SettingsChange::AddLocation("South dock".into()), "south operator").unwrap();
    north.sync().await.unwrap();
    south_phone.sync().await.unwrap();
    assert_eq!(locations(&south_phone), ["South dock"]);
    assert_eq!(south_phone.store.work(session::receiving_settings).unwrap().scales, vec![]);
    assert_eq!(locations(&north), ["North vault"]);
    assert_eq!(reason_names(&north), ["North only"]);
}
