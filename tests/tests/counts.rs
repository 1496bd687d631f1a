//! End-to-end: a blind cycle count of one vault by three phones offline, a recount by another
//! person, a quarantine and investigation, and an adjustment approved by a manager on a fourth
//! phone while the counters are offline. Every replica converges.

use custody_core::approvals::ApprovalError;
use custody_core::counts::{CloseOutcome, CountError};
use custody_core::work::DocKind;
use custody_core::work::adjustment::{AdjustmentError, AdjustmentStatus};
use custody_core::work::count::{CountScope, DiscrepancyStatus, Outcome, SessionStatus};
use custody_core::*;
use custody_e2e::*;
use rust_decimal::Decimal;

fn units(n: i64) -> Quantity {
    Quantity::new(Decimal::from(n), Unit::Each).unwrap()
}

fn g(hundredths: i64) -> Quantity {
    grams(hundredths)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_phones_count_a_vault_offline_and_a_remote_manager_approves_the_fix() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let office = fleet.phone("office").await; // Sam, the manager who runs the count
    let (p1, p2, p3) = (fleet.phone("maria").await, fleet.phone("omar").await, fleet.phone("lee").await);
    let approver = fleet.phone("ana-on-the-road").await; // Ana, a manager off site
    office.sign_in(MANAGER).await;
    p1.sign_in(FLOOR).await;
    p2.sign_in(FLOOR_2).await;
    p3.sign_in(FLOOR_3).await;
    approver.sign_in(MANAGER_2).await;

    // The vault as the ledger knows it.
    let (v, w, x, m, q, out) = (tag(1), tag(2), tag(3), tag(4), tag(5), tag(6));
    office.receive(&v, 1_000, "Vault A / Shelf 1"); // 10.00 g; really 9.50 g on the shelf
    office.receive(&w, 2_000, "Vault A / Shelf 2"); // on the overlap of two counters' shelves
    office.receive_units(&x, 10, "Vault A / Shelf 3"); // 10 carts, counted by two people
    office.receive(&m, 2_000, "Vault A / Shelf 3"); // adjusted during the count
    office.receive(&q, 500, "Vault A / Shelf 1");
    office.store.record(&q, EventBody::Quarantined { reason: "label damaged".into() }).unwrap();
    office.receive(&out, 700, "Vault B / Shelf 9");
    let shelves = ["Vault A / Shelf 1", "Vault A / Shelf 2", "Vault A / Shelf 3"];
    let scope = CountScope { locations: shelves.iter().map(|s| location(s)).collect(), categories: vec![] };

    // Only a manager opens a count.
    assert!(matches!(p1.store.work(|w| counts::open_count(w, "nope", scope.clone())), Err(CountError::NotAllowed { .. })));
    let session = office.store.work(|w| counts::open_count(w, "Vault A cycle count", scope)).unwrap();
    office.sync().await.unwrap();
    for p in [&p1, &p2, &p3] {
        p.sync().await.unwrap();
        p.store.work(|w| counts::join_count(w, session)).unwrap();
    }

    // Blind: counters hold the session but not the expected quantities.
    let view = p1.store.work(|w| counts::count_session(w, session)).unwrap();
    assert_eq!(view.in_scope.len(), 4, "quarantined and out-of-scope packages are not in the count");
    assert!(p1.store.docs(Some(DocKind::CountReview)).unwrap().is_empty());
    assert!(matches!(p1.store.work(|w| counts::count_variances(w, session)), Err(CountError::NotAllowed { .. })));
    assert_eq!(office.store.docs(Some(DocKind::CountReview)).unwrap().len(), 1);

    // Offline counting, overlapping shelves.
    let at = |s: usize| location(shelves[s]);
    p1.store.work(|w| counts::count_scan(w, session, v.as_str(), &at(0), g(950))).unwrap();
    p1.store.work(|uow| counts::count_scan(uow, session, w.as_str(), &at(1), g(2_000))).unwrap();
    p2.store.work(|uow| counts::count_scan(uow, session, &format!("{}\r\n", w.as_str().to_lowercase()), &at(1), g(2_000))).unwrap(); // double count
    p2.store.work(|w| counts::count_scan(w, session, x.as_str(), &at(2), units(6))).unwrap();
    p3.store.work(|w| counts::count_scan(w, session, x.as_str(), &at(2), units(4))).unwrap(); // the rest of the same package
    p3.store.work(|w| counts::count_scan(w, session, m.as_str(), &at(2), g(1_000))).unwrap();
    let fixed = p3.store.work(|w| counts::count_correct(w, session, m.as_str(), &at(2), g(1_900))).unwrap(); // a typo, corrected
    assert_eq!(fixed.your_count, g(1_900));
    // The counting screen's lines: what this person counted this round, by tag, the correction
    // included; nobody else's counts.
    let lines = p3.store.work(|uow| counts::your_counts(uow, session)).unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines.iter().find(|l| l.tag == m).map(|l| l.your_count), Some(g(1_900)));
    assert_eq!(lines.iter().find(|l| l.tag == x).map(|l| (l.your_count, l.round)), Some((units(4), 1)));

    // What the counters get wrong is refused with the reason, and changes nothing.
    let before = p1.store.work(|w| counts::count_session(w, session)).unwrap().entries;
    let refusals = [
        p1.store.work(|w| counts::count_scan(w, session, out.as_str(), &at(0), g(700))).unwrap_err(),
        p1.store.work(|w| counts::count_scan(w, session, q.as_str(), &at(0), g(500))).unwrap_err(),
        p1.store.work(|w| counts::count_scan(w, session, tag(777).as_str(), &at(0), g(100))).unwrap_err(),
        p1.store.work(|w| counts::count_scan(w, session, "1A4FF01-garbage", &at(0), g(100))).unwrap_err(),
        p1.store
            .work(|w| counts::count_scan(w, session, v.as_str(), &at(0), Quantity::change(Decimal::new(-1, 0), Unit::G).unwrap()))
            .unwrap_err(),
        p1.store.work(|w| counts::count_scan(w, session, x.as_str(), &at(2), g(100))).unwrap_err(),
        p1.store.work(|w| counts::count_scan(w, uuid::Uuid::now_v7(), v.as_str(), &at(0), g(100))).unwrap_err(),
    ];
    let messages: Vec<String> = refusals.iter().map(|e| e.to_string()).collect();
    assert!(messages[0].contains("not in this count's scope (it should be at Vault B / Shelf 9)"), "{}", messages[0]);
    assert!(messages[1].contains("quarantined"), "{}", messages[1]);
    assert!(messages[2].contains("not in this facility's inventory"), "{}", messages[2]);
    assert!(matches!(refusals[3], CountError::BadTag(_)), "{}", messages[3]);
    assert!(matches!(refusals[4], CountError::Negative), "{}", messages[4]);
    assert!(messages[5].contains("counted, not weighed"), "{}", messages[5]);
    assert!(matches!(refusals[6], CountError::UnknownSession(_)));
    assert_eq!(p1.store.work(|w| counts::count_session(w, session)).unwrap().entries, before);

    // Meanwhile the office corrects M in the ledger: a movement during the count, not a variance.
    office.sync().await.unwrap();
    office.adjust(&m, -100, "moisture loss reweigh");

    // Everyone syncs, in an order unlike the one they counted in.
    let mut reports = Vec::new();
    for p in [&p3, &p1, &office, &p2, &p1, &p3, &office] {
        reports.push((p.name.clone(), p.sync().await.unwrap()));
    }
    let view = office.store.work(|w| counts::count_session(w, session)).unwrap();
    if view.entries.len() != 6 {
        let on_server = fleet.server().db.doc(&fleet.facility, session).unwrap().map(|d| custody_core::work::count::entries(&d));
        let on_p2 = p2.store.work(|w| counts::count_session(w, session)).map(|v| v.entries.len());
        panic!(
            "every phone's entries arrived: {:?}\non the server: {on_server:?}\non omar's phone: {on_p2:?}\nsyncs: {reports:#?}",
            view.entries
        );
    }

    // Round 1: V (short) and W (counted twice) differ; X adds up across two phones; M follows
    // the ledger.
    let outcome = office.store.work(|w| counts::close_count(w, session)).unwrap();
    let CloseOutcome::RecountNeeded(lines) = outcome else { panic!("expected a recount, got {outcome:?}") };
    let line = |t: &PackageTag| lines.iter().find(|l| &l.tag == t).unwrap().clone();
    assert_eq!(line(&v).outcome, Outcome::Variance);
    assert_eq!(line(&w).outcome, Outcome::Variance);
    assert_eq!(line(&w).counted_minor, 40_000);
    assert_eq!(line(&x).outcome, Outcome::Match);
    assert_eq!(line(&x).counted_minor, 10);
    assert_eq!((line(&m).snapshot_minor, line(&m).expected_minor, line(&m).outcome.clone()), (20_000, 19_000, Outcome::Match));
    office.sync().await.unwrap();

    // The recount must be done by someone else.
    p1.sync().await.unwrap();
    p2.sync().await.unwrap();
    p3.sync().await.unwrap();
    assert_eq!(p1.store.work(|w| counts::count_session(w, session)).unwrap().summary.status, SessionStatus::Recount);
    let err = p1.store.work(|w| counts::count_scan(w, session, v.as_str(), &at(0), g(950))).unwrap_err();
    assert!(err.to_string().contains("a different person must recount it"), "{err}");
    assert!(matches!(
        p2.store.work(|uow| counts::count_scan(uow, session, w.as_str(), &at(1), g(2_000))),
        Err(CountError::SameCounter { .. })
    ));
    assert!(matches!(
        p3.store.work(|w| counts::count_scan(w, session, x.as_str(), &at(2), units(10))),
        Err(CountError::NotForRecount { .. })
    ));
    assert!(matches!(office.store.work(|w| counts::close_count(w, session)), Err(CountError::RecountMissing(ref t)) if t.len() == 2));
    p3.store.work(|w| counts::count_scan(w, session, v.as_str(), &at(0), g(950))).unwrap(); // still short
    p3.store.work(|uow| counts::count_scan(uow, session, w.as_str(), &at(1), g(2_000))).unwrap(); // right this time
    p3.sync().await.unwrap();
    office.sync().await.unwrap();

    // Round 2: W resolves; V persists, is quarantined and becomes a discrepancy.
    let CloseOutcome::Closed { discrepancies, .. } = office.store.work(|w| counts::close_count(w, session)).unwrap() else { panic!() };
    assert_eq!(discrepancies, vec![v.clone()]);
    assert_eq!(office.store.package(&v).unwrap().unwrap().status, PackageStatus::Quarantined);
    assert!(matches!(office.store.work(|uow| counts::count_scan(uow, session, w.as_str(), &at(1), g(1))), Err(CountError::Closed)));

    // Investigation: the full history, newest first, with who and which device.
    let inv = office.store.work(|w| counts::investigation(w, session, &v)).unwrap();
    assert_eq!(inv.discrepancy.expected_minor, 10_000);
    assert_eq!((inv.discrepancy.counted_minor, inv.discrepancy.recounted_minor), (9_500, 9_500));
    assert_eq!(inv.history[0].record.event.kind(), EventKind::Quarantined);
    assert!(inv.history.iter().all(|h| h.recent));
    assert_eq!(inv.history.last().unwrap().record.event.kind(), EventKind::Received);
    assert_eq!(inv.history[0].who, MANAGER.0);
    let mut counters: Vec<&str> = inv.entries.iter().map(|e| e.user_name.as_str()).collect();
    counters.sort();
    assert_eq!(counters, vec![FLOOR_3.0, FLOOR.0], "Lee recounted what Maria counted");
    office
        .store
        .work(|w| counts::record_investigation(w, session, &v, "data entry error in yesterday's fulfilment", "re-weigh at pick"))
        .unwrap();

    // Sam asks for the fix; the counters go offline; Ana approves from the road.
    let request = office
        .store
        .work(|w| {
            approvals::request_adjustment(
                w,
                &v,
                Quantity::change(Decimal::new(-50, 2), Unit::G).unwrap(),
                "Entry Error",
                "0.50 g short on count and recount",
                Some(session),
            )
        })
        .unwrap();
    assert!(matches!(
        office.store.work(|w| approvals::request_adjustment(w, &v, g(1), "Felt like it", "x", None)),
        Err(ApprovalError::Rule(AdjustmentError::UnknownReason(_)))
    ));
    office.sync().await.unwrap();
    assert!(matches!(
        office.store.work(|w| approvals::approve_adjustment(w, request, "ok")),
        Err(ApprovalError::Rule(AdjustmentError::OwnRequest))
    ));
    p1.sync().await.unwrap();
    let err = p1.store.work(|w| approvals::approve_adjustment(w, request, "mine")).unwrap_err();
    assert!(matches!(err, ApprovalError::Rule(AdjustmentError::NotManager(Role::FloorStaff))), "{err}");

    approver.sync().await.unwrap();
    let pending = approver.store.work(approvals::pending_approvals).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].cannot_decide, None);
    assert_eq!(pending[0].request.request.counted_by.len(), 2);
    let events = approver.store.work(|w| approvals::approve_adjustment(w, request, "matches the fulfilment error")).unwrap();
    assert_eq!(events.iter().map(|e| e.kind()).collect::<Vec<_>>(), vec![EventKind::Adjusted, EventKind::Released]);
    approver.sync().await.unwrap();
    office.sync().await.unwrap();
    assert_eq!(office.store.work(|w| approvals::adjustment(w, request)).unwrap().status(), AdjustmentStatus::Approved);
    let fixed = office.store.package(&v).unwrap().unwrap();
    assert_eq!((fixed.quantity, fixed.status), (g(950), PackageStatus::Active));
    let d = office.store.work(|w| counts::count_discrepancies(w, session)).unwrap();
    assert_eq!(d[0].status, DiscrepancyStatus::Resolved);
    assert_eq!(d[0].root_cause, "data entry error in yesterday's fulfilment");
    assert_eq!(d[0].adjustment, Some(request));

    // The counters come back online: every replica agrees on the session, the ledger and the
    // inventory.
    for p in [&p2, &p1, &p3, &approver, &office] {
        p.sync().await.unwrap();
    }
    let server = custody_core::protocol::InventoryReport::from_inventory(&fleet.server_inventory());
    for p in [&office, &p1, &p2, &p3, &approver] {
        assert_eq!(p.report(), server, "{} differs from the server", p.name);
        assert_eq!(
            p.store.work(|w| counts::count_session(w, session)).unwrap(),
            office.store.work(|w| counts::count_session(w, session)).unwrap(),
            "{}",
            p.name
        );
        assert_eq!(p.store.work(|w| approvals::adjustment(w, request)).unwrap().status(), AdjustmentStatus::Approved, "{}", p.name);
        assert_eq!(p.status().pending, 0);
    }
    assert!(server.conflicts.is_empty(), "{:?}", server.conflicts);
    assert_eq!(approver.store.work(|w| counts::count_variances(w, session)).unwrap().len(), 4 + 2);

    // A tampered phone cannot slip its own approval into the ledger: Sam's device sends an
    // adjustment carrying out Sam's own request, correctly chained. The server refuses it.
    let office_id = office.store.identity().unwrap().unwrap().device_id;
    // The tampered app holds Sam's key (here: a key registered for him on this phone).
    let sams_key = fleet.register_key(&office, MANAGER);
    let last =
        office.store.events().unwrap().into_iter().map(|r| r.event).filter(|e| e.device == office_id).max_by_key(|e| e.device_seq).unwrap();
    let forged = custody_core::event::UnsealedEvent {
        id: uuid::Uuid::now_v7(),
        facility: fleet.facility.clone(),
        tag: v.clone(),
        user: office.store.current_user().unwrap().unwrap().id,
        device: office_id,
        device_seq: last.device_seq + 1,
        hlc: custody_core::Hlc { wall_ms: last.hlc.wall_ms + 1, counter: 0 },
        parent: None,
        body: EventBody::Adjusted {
            request: Some(request),
            delta: Quantity::change(Decimal::new(-50, 2), Unit::G).unwrap(),
            reason: "Entry Error".into(),
            note: "again".into(),
        },
        prev_hash: last.hash.clone(),
    }
    .seal_signed(&sams_key);
    let response = office.post_events(&fleet.url(), vec![forged]).await;
    match &response.verdicts[0].outcome {
        custody_core::protocol::Outcome::Rejected { reason } => {
            assert!(reason.contains("you requested this adjustment"), "{reason}")
        }
        other => panic!("a self-approved adjustment was {other:?}"),
    }
    assert_eq!(fleet.server_inventory().packages[&v].quantity, g(950), "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_made_on_the_phone_that_made_the_request_syncs_in_one_go() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let office = fleet.phone("office").await;
    office.sign_in(MANAGER).await;
    let t = tag(42);
    office.receive(&t, 1_000, "Vault A");
    office.sync().await.unwrap();

    // Offline: Sam asks, hands the phone to Ana, Ana approves. The request document and the
    // adjustment it carries out reach the server in the same sync.
    let request = office
        .store
        .work(|w| {
            approvals::request_adjustment(
                w,
                &t,
                Quantity::change(Decimal::new(-25, 2), Unit::G).unwrap(),
                "Scale Variance",
                "reweighed",
                None,
            )
        })
        .unwrap();
    office.store.sign_out().unwrap();
    office.sign_in(MANAGER_2).await;
    office.store.work(|w| approvals::approve_adjustment(w, request, "checked the scale log")).unwrap();
    let report = office.sync().await.unwrap();
    assert_eq!(report.rejected, 0, "{report:?}");
    assert_eq!(office.status().pending, 0);
    assert_eq!(fleet.server_inventory().packages[&t].quantity, g(975));
    assert!(office.store.history(&t).unwrap().iter().all(|h| h.reject_reason.is_none()));
}
