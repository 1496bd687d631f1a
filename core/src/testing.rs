//! A stand-in for the server's half of enrolment and sign-in, for tests and benchmarks that run
//! a device store without a server: it answers what `/v1/enrol` and `/v1/sign-in` would, with
//! keys made here. Never used by the apps (they always sign a person in through the server the
//! first time on a device).

use chrono::Utc;

use crate::ids::{DeviceId, LicenseNumber};
use crate::protocol::{EnrolResponse, RegisteredKey, RosterEntry, SignInResponse};
use crate::signing::SigningKey;
use crate::store::{Result, Store};

/// The key a test "server" signs its own document changes with.
pub fn server_key() -> SigningKey {
    SigningKey::from_secret(&[42; 32])
}

/// Enrols `store` at `facility` (offline), then registers and seals a signing key on it for each
/// person, as their first online sign-in would, using their PIN. Nobody is signed in afterwards.
/// Returns the roster with everyone's key, which any later roster given to the store must keep.
pub fn enrol_offline(store: &Store, facility: &str, people: &[(RosterEntry, &str)]) -> Result<Vec<RosterEntry>> {
    let device = DeviceId::new();
    let mut roster: Vec<RosterEntry> = people.iter().map(|(entry, _)| entry.clone()).collect();
    store.save_enrolment(
        "http://127.0.0.1:9",
        &EnrolResponse {
            device_id: device,
            facility: LicenseNumber::parse(facility).expect("test facility licence"),
            facility_name: "Test Facility".into(),
            token: "cdt_test".into(),
            roster: roster.clone(),
            server_key: server_key().public_key(),
            server_time: Utc::now(),
            time_zone: Some("America/Los_Angeles".into()),
        },
    )?;
    for (i, (entry, pin)) in people.iter().enumerate() {
        let key = SigningKey::generate();
        roster[i].keys.push(RegisteredKey { device, key: key.public_key(), active: true });
        let answer =
            SignInResponse { user: entry.id, roster: roster.clone(), server_key: server_key().public_key(), server_time: Utc::now() };
        store.complete_online_sign_in(pin, key, &answer)?;
    }
    store.sign_out()?;
    Ok(roster)
}

/// A person for a test roster (their keys come from [`enrol_offline`]).
pub fn person(name: &str, role: crate::roles::Role, badge: &str) -> RosterEntry {
    RosterEntry { id: crate::ids::UserId::new(), name: name.into(), role, badge: badge.into(), active: true, keys: Vec::new() }
}

// ---- role-restricted decisions on work documents, for tests that forge them --------------------

use crate::ids::{PackageTag, UserId};
use crate::work::{DocError, WorkDoc, Writer};
use uuid::Uuid;

/// Someone at a moment: who a decision names as its author.
#[derive(Debug, Clone)]
pub struct Who {
    pub user: UserId,
    pub name: String,
    pub device: DeviceId,
}

impl Who {
    pub fn writer(&self) -> Writer {
        Writer::Person { device: self.device, user: self.user }
    }

    fn actor(&self) -> crate::work::order::Actor {
        crate::work::order::Actor { user: self.user, name: self.name.clone(), device: self.device, at: Utc::now() }
    }

    fn person(&self) -> crate::people::Actor {
        crate::people::Actor { user: self.user, name: self.name.clone(), device: self.device, at: Utc::now() }
    }
}

/// The people a decision's document involves: a manager who starts the work, a floor worker,
/// and the driver of a route.
pub struct Cast {
    pub facility: LicenseNumber,
    pub manager: Who,
    pub floor: Who,
    pub driver: Who,
}

/// A decision only some people may make, on a document someone else started.
pub struct DocDecision {
    pub name: &'static str,
    /// Whether the route's driver (rather than a manager) makes it.
    pub by_driver: bool,
    /// The document as it stands before the decision (`None`: the decision is to start one).
    pub base: fn(&Cast) -> Option<WorkDoc>,
    /// Makes the decision in `doc` (or returns the new document) in the name of `by`, written
    /// under `writer` (the same person, unless a test forges it).
    pub decide: fn(&Cast, Option<WorkDoc>, &Who, Writer) -> Result<WorkDoc, DocError>,
}

fn tag(n: u32) -> PackageTag {
    PackageTag::parse(&format!("1A4FF0100000022000{n:06}")).expect("test tag")
}

fn order_doc(cast: &Cast) -> WorkDoc {
    let order = crate::outbound::Order {
        number: "SO-77".into(),
        recipient: crate::outbound::Customer {
            licence: LicenseNumber::parse("C10-0000201-LIC").expect("licence"),
            name: "Green Door".into(),
            address: "1 Main St".into(),
        },
        requested_on: Utc::now().date_naive(),
        lines: vec![],
        patient_ref: None,
        created_by: cast.manager.name.clone(),
        created_at: Utc::now(),
    };
    crate::work::order::create(Uuid::now_v7(), cast.facility.clone(), cast.manager.writer(), &order)
}

fn pick_line(n: u32) -> crate::outbound::PickLine {
    crate::outbound::PickLine {
        line: 1,
        tag: tag(n),
        item: crate::ids::ItemName::parse("Flower 3.5g").expect("item"),
        batch: crate::ids::BatchNumber::parse("B-1").expect("batch"),
        location: crate::ids::LocationName::parse("Vault A").expect("location"),
        expires_on: None,
        quantity: crate::quantity::Quantity::parse("3.5 g").expect("quantity"),
        split_into: None,
    }
}

fn manifest(cast: &Cast) -> crate::work::manifest::OutboundManifest {
    use crate::work::manifest::{Driver, OutboundManifest, Vehicle};
    OutboundManifest {
        number: "M-77".into(),
        shipper: cast.facility.clone(),
        vehicle: Vehicle { make: "Ford".into(), model: "Transit".into(), plate: "8ABC123".into() },
        driver: Driver {
            user: cast.driver.user,
            name: cast.driver.name.clone(),
            licence_number: "D1".into(),
            occupational_licence: "OL1".into(),
        },
        phone_for_questions: "555-0100".into(),
        stops: vec![],
        created_by: cast.manager.name.clone(),
        created_at: Utc::now(),
    }
}

fn manifest_doc(cast: &Cast) -> WorkDoc {
    crate::work::manifest::create(Uuid::now_v7(), cast.facility.clone(), cast.manager.writer(), &manifest(cast))
}

fn writing(doc: Option<WorkDoc>, writer: Writer) -> WorkDoc {
    let mut doc = doc.expect("a base document");
    doc.set_writer(writer);
    doc
}

/// Every role-restricted decision on a work document: approving an adjustment, closing a count,
/// accepting a package despite failed checks, allocating stock, approving a substitute,
/// cancelling an order, starting and cancelling a manifest, departing and delivering.
pub fn decisions() -> Vec<DocDecision> {
    use crate::work::{adjustment, count, manifest as mdoc, order as odoc, receiving};
    vec![
        DocDecision {
            name: "approve an adjustment",
            by_driver: false,
            base: |cast| {
                let request = adjustment::NewAdjustment {
                    tag: tag(1),
                    delta: crate::quantity::Quantity::parse("-1.5 g").expect("delta"),
                    reason_code: "Scale Variance".into(),
                    note: "reweighed".into(),
                    session: None,
                    counted_by: vec![],
                };
                let requester = Who { user: cast.floor.user, name: cast.floor.name.clone(), device: cast.manager.device };
                Some(adjustment::create(Uuid::now_v7(), cast.facility.clone(), requester.writer(), &request, &requester.person()))
            },
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                adjustment::decide(&mut doc, &adjustment::Decision { approved: true, by: by.person(), note: "checked".into() })?;
                Ok(doc)
            },
        },
        DocDecision {
            name: "close a count",
            by_driver: false,
            base: |cast| {
                let info = count::SessionInfo {
                    name: "Vault A".into(),
                    scope: count::CountScope::default(),
                    opened_by: cast.manager.person(),
                    opened_hlc_ms: 0,
                    review: Uuid::now_v7(),
                };
                Some(count::create_session(Uuid::now_v7(), cast.facility.clone(), cast.manager.writer(), &info, &Default::default()))
            },
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                count::close(&mut doc, &by.person())?;
                Ok(doc)
            },
        },
        DocDecision {
            name: "accept a package despite failed checks",
            by_driver: false,
            base: |cast| {
                let json = format!(
                    r#"{{"ManifestNumber": "0000077", "ShipperFacilityLicenseNumber": "C11-0000099-LIC", "ShipperFacilityName": "Emerald",
                        "RecipientFacilityLicenseNumber": "{}", "Packages": [{{"PackageLabel": "{}", "ItemName": "Rosin 1g",
                        "ShippedQuantity": 10, "ShippedUnitOfMeasureName": "Grams", "ProductionBatchNumber": "R-1",
                        "LabTestingState": "TestFailed"}}]}}"#,
                    cast.facility,
                    tag(2)
                );
                let inbound = crate::receiving::manifest::InboundManifest::import(&json, &cast.facility, None).expect("test manifest");
                let receiver = Who { user: cast.floor.user, name: cast.floor.name.clone(), device: cast.manager.device };
                Some(receiving::create(Uuid::now_v7(), cast.facility.clone(), receiver.writer(), &inbound))
            },
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                let decision = receiving::PackageDecision {
                    tag: tag(2),
                    reject: None,
                    override_note: Some("lab confirmed by phone".into()),
                    note: "accepted".into(),
                    by: by.name.clone(),
                    user: by.user,
                    device: by.device,
                    at: Utc::now(),
                    seq: 1,
                };
                receiving::put_decision(&mut doc, &decision)?;
                Ok(doc)
            },
        },
        DocDecision {
            name: "allocate stock (a pick list)",
            by_driver: false,
            base: |cast| Some(order_doc(cast)),
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                odoc::set_pick_list(&mut doc, &[pick_line(3)], &by.actor())?;
                Ok(doc)
            },
        },
        DocDecision {
            name: "approve a substitute",
            by_driver: false,
            base: |cast| {
                let mut doc = order_doc(cast);
                odoc::set_pick_list(&mut doc, &[pick_line(4)], &cast.manager.actor()).expect("pick list");
                Some(doc)
            },
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                let s = odoc::Substitution { original: tag(4), substitute: tag(5), note: "same batch".into(), by: by.actor() };
                odoc::put_substitution(&mut doc, &s)?;
                Ok(doc)
            },
        },
        DocDecision {
            name: "cancel an order",
            by_driver: false,
            base: |cast| Some(order_doc(cast)),
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                odoc::cancel(&mut doc, &odoc::Cancellation { reason: "customer called".into(), by: by.actor() })?;
                Ok(doc)
            },
        },
        DocDecision {
            name: "start a manifest",
            by_driver: false,
            base: |_| None,
            decide: |cast, _, by, writer| {
                let mut m = manifest(cast);
                m.created_by = by.name.clone();
                Ok(mdoc::create(Uuid::now_v7(), cast.facility.clone(), writer, &m))
            },
        },
        DocDecision {
            name: "cancel a manifest",
            by_driver: false,
            base: |cast| Some(manifest_doc(cast)),
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                mdoc::cancel(&mut doc, &odoc::Cancellation { reason: "van swap".into(), by: by.actor() })?;
                Ok(doc)
            },
        },
        DocDecision {
            name: "depart with a route",
            by_driver: true,
            base: |cast| Some(manifest_doc(cast)),
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                mdoc::set_departed(&mut doc, &by.actor())?;
                Ok(doc)
            },
        },
        DocDecision {
            name: "confirm a delivery",
            by_driver: true,
            base: |cast| Some(manifest_doc(cast)),
            decide: |_, doc, by, writer| {
                let mut doc = writing(doc, writer);
                let outcome = mdoc::PackageOutcome { tag: tag(6), stop: 1, delivered: true, reason: None, gps: None, by: by.actor() };
                mdoc::put_outcome(&mut doc, &outcome)?;
                Ok(doc)
            },
        },
    ]
}
