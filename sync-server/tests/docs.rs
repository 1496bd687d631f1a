//! Work documents through the sync round trip, as phones see them: a real server on loopback,
//! reqwest as the client, and each phone an Automerge peer built from `WorkDoc` and
//! `automerge::sync::State` directly.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use automerge::sync::State;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use chrono::Utc;
use custody_core::event::{Event, EventBody, GENESIS_HASH, UnsealedEvent};
use custody_core::hlc::Hlc;
use custody_core::ids::{DeviceId, LicenseNumber, LocationName, PackageTag, UserId};
use custody_core::people::Actor;
use custody_core::protocol::{ChangeSignature, DocMessage, DocRefusal, EnrolResponse, Outcome, SyncRequest, SyncResponse};
use custody_core::quantity::Quantity;
use custody_core::roles::Role;
use custody_core::signing::{SigningKey, change_message};
use custody_core::work::adjustment::{self, AdjustmentStatus, Decision, NewAdjustment};
use custody_core::work::{DocKind, WorkDoc, Writer};

mod common;
use common::{LIC_A, LIC_B, Server, TAG, lic};
use reqwest::StatusCode;
use uuid::Uuid;

/// Facility A: managers Mia and Max, floor staff Finn, driver Dan. Facility B: manager Bo.
struct World {
    server: Server,
    mia: UserId,
    max: UserId,
    finn: UserId,
    dan: UserId,
    bo: UserId,
    /// Each person's badge and PIN, for their online sign-in on a phone.
    badges: std::collections::HashMap<UserId, (&'static str, &'static str)>,
}

impl std::ops::Deref for World {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl World {
    async fn new() -> World {
        let server = Server::start().await;
        let db = server.db();
        let mia = db.add_user(&lic(LIC_A), "Mia", Role::Manager, "BADGE-MIA", "4821").unwrap();
        let max = db.add_user(&lic(LIC_A), "Max", Role::Manager, "BADGE-MAX", "4822").unwrap();
        let finn = db.add_user(&lic(LIC_A), "Finn", Role::FloorStaff, "BADGE-FINN", "1357").unwrap();
        let dan = db.add_user(&lic(LIC_A), "Dan", Role::Driver, "BADGE-DAN", "2468").unwrap();
        let bo = db.add_user(&lic(LIC_B), "Bo", Role::Manager, "BADGE-BO", "4821").unwrap();
        let badges = [
            (mia, ("BADGE-MIA", "4821")),
            (max, ("BADGE-MAX", "4822")),
            (finn, ("BADGE-FINN", "1357")),
            (dan, ("BADGE-DAN", "2468")),
            (bo, ("BADGE-BO", "4821")),
        ]
        .into_iter()
        .collect();
        World { server, mia, max, finn, dan, bo, badges }
    }

    fn add_user(&mut self, name: &str, role: Role, badge: &'static str, pin: &'static str) -> UserId {
        let id = self.db().add_user(&lic(LIC_A), name, role, badge, pin).unwrap();
        self.badges.insert(id, (badge, pin));
        id
    }

    async fn restart(&mut self) {
        self.server.restart().await;
    }

    /// Enrols a phone and signs `user` in on it online (the server registers their key there).
    async fn enrol(&self, facility: &str, name: &str, user: UserId) -> Phone {
        let enrolled = self.server.enrol(facility, name).await;
        let (badge, pin) = self.badges[&user];
        let key = self.server.sign_in(&enrolled, badge, pin).await;
        Phone {
            device: enrolled.device_id,
            facility: enrolled.facility,
            token: enrolled.token,
            user: Some(user),
            key,
            others: Default::default(),
            writer: Writer::Person { device: enrolled.device_id, user },
            docs: BTreeMap::new(),
        }
    }

    /// One round trip carrying exactly `request`, signed by the phone's person (if `user` is set:
    /// a phone claiming someone else signs with the key it has, which is not theirs).
    async fn post_request(&self, phone: &Phone, request: &SyncRequest) -> reqwest::Response {
        let body = serde_json::to_vec(request).unwrap();
        let mut http = self.http.post(self.url("/v1/sync")).bearer_auth(&phone.token).header("content-type", "application/json");
        if let Some(user) = phone.user {
            http = http.header("custody-person", self.server.person_proof(phone.device, user, &phone.key, "/v1/sync", &body));
        }
        http.body(body).send().await.unwrap()
    }

    /// One round trip carrying exactly `docs`.
    async fn post(&self, phone: &Phone, docs: Vec<DocMessage>) -> SyncResponse {
        let request = SyncRequest { cursor: 0, events: vec![], docs, ..Default::default() };
        let resp = self.post_request(phone, &request).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
        resp.json().await.unwrap()
    }

    /// Syncs until neither side has anything to say.
    async fn sync(&self, phone: &mut Phone) -> Exchange {
        let mut exchange = Exchange::default();
        loop {
            let messages = phone.messages();
            let sent = messages.len();
            let response = self.post(phone, messages).await;
            exchange.requests += 1;
            let received = response.docs.len();
            for m in &response.docs {
                exchange.received_ids.push(m.doc);
            }
            phone.apply(&response);
            exchange.refusals.extend(response.doc_refusals);
            if sent == 0 && received == 0 {
                return exchange;
            }
            exchange.busy_rounds += 1;
            assert!(exchange.requests < 20, "the document sync does not settle");
        }
    }

    /// The server's copy of a document.
    fn stored(&self, facility: &str, id: Uuid) -> Option<WorkDoc> {
        self.db().doc(&lic(facility), id).unwrap()
    }
}

#[derive(Debug, Default)]
struct Exchange {
    /// Round trips that carried at least one document message, either way.
    busy_rounds: usize,
    /// All requests, the last (quiet) one included.
    requests: usize,
    received_ids: Vec<Uuid>,
    refusals: Vec<DocRefusal>,
}

struct Replica {
    doc: WorkDoc,
    state: State,
}

/// An enrolled phone with the person signed in and its replicas of work documents.
struct Phone {
    device: DeviceId,
    facility: LicenseNumber,
    token: String,
    /// Who the phone says is signed in (its requests are signed with `key` as them).
    user: Option<UserId>,
    /// The key of the person who signed in on this phone.
    key: SigningKey,
    /// Keys of others who signed in on this (shared) phone, to sign the changes they made.
    others: std::collections::HashMap<UserId, SigningKey>,
    writer: Writer,
    docs: BTreeMap<Uuid, Replica>,
}

impl Phone {
    fn add(&mut self, doc: WorkDoc) {
        self.docs.insert(doc.id, Replica { doc, state: State::new() });
    }

    fn doc(&mut self, id: Uuid) -> &mut WorkDoc {
        &mut self.docs.get_mut(&id).expect("the phone holds this document").doc
    }

    fn messages(&mut self) -> Vec<DocMessage> {
        let mut out = Vec::new();
        for (id, replica) in &mut self.docs {
            if let Some((message, carried)) = replica.doc.generate_message_with_changes(&mut replica.state) {
                // Each change is signed with the key of whoever made it, if the phone holds it;
                // otherwise with the signed-in person's (wrong for a forged change under someone
                // else's name, as an attacker's would be).
                let writers: std::collections::HashMap<String, Option<Writer>> = replica.doc.changes_since(&[]).into_iter().collect();
                let signatures = carried
                    .into_iter()
                    .map(|hash| {
                        let key = match writers.get(&hash) {
                            Some(Some(Writer::Person { user, .. })) => self.others.get(user).unwrap_or(&self.key),
                            _ => &self.key,
                        };
                        ChangeSignature { signature: key.sign(&change_message(*id, &hash)), hash }
                    })
                    .collect();
                out.push(DocMessage { doc: *id, kind: replica.doc.kind, message, signatures });
            }
        }
        out
    }

    fn apply(&mut self, response: &SyncResponse) {
        for m in &response.docs {
            let replica = self
                .docs
                .entry(m.doc)
                .or_insert_with(|| Replica { doc: WorkDoc::empty(m.doc, m.kind, self.facility.clone(), self.writer), state: State::new() });
            replica.doc.receive_message(&mut replica.state, &m.message).expect("the server's message applies");
            replica.doc.check_identity().expect("the server sends documents of this facility");
        }
    }

    /// What a reconnect keeps of the sync states (the stored form: the shared heads only).
    fn reconnect(&mut self) {
        for replica in self.docs.values_mut() {
            replica.state = State::decode(&replica.state.encode()).unwrap();
        }
    }

    fn person(&self, user: UserId, name: &str) -> Actor {
        Actor { user, name: name.into(), device: self.device, at: Utc::now() }
    }
}

/// A document of `kind` with its header and `entries` map puts, each its own change.
fn filled(kind: DocKind, facility: &LicenseNumber, writer: Writer, entries: usize) -> WorkDoc {
    let id = Uuid::now_v7();
    let mut am = AutoCommit::new().with_actor(writer.actor());
    am.put(ROOT, "doc_id", id.to_string()).unwrap();
    am.put(ROOT, "kind", kind.as_str()).unwrap();
    am.put(ROOT, "facility", facility.as_str()).unwrap();
    am.put_object(ROOT, "entries", ObjType::Map).unwrap();
    am.commit();
    let map = am.get(ROOT, "entries").unwrap().unwrap().1;
    for i in 0..entries {
        am.put(&map, format!("e{i:05}"), i as i64).unwrap();
        am.commit();
    }
    WorkDoc::load(id, kind, facility.clone(), writer, &am.save(), &[]).unwrap()
}

/// Adds `n` more entries (each its own change) to a phone's replica, written by `writer`.
fn add_entries(doc: &mut WorkDoc, writer: Writer, prefix: &str, n: usize) {
    let mut am = AutoCommit::load(&doc.save()).unwrap().with_actor(writer.actor());
    let map = am.get(ROOT, "entries").unwrap().unwrap().1;
    for i in 0..n {
        am.put(&map, format!("{prefix}{i:05}"), i as i64).unwrap();
        am.commit();
    }
    *doc = WorkDoc::load(doc.id, doc.kind, doc.facility.clone(), writer, &am.save(), &[]).unwrap();
}

fn entry_count(doc: &mut WorkDoc) -> usize {
    let am = AutoCommit::load(&doc.save()).unwrap();
    match am.get(ROOT, "entries").unwrap() {
        Some((_, map)) => am.length(&map),
        None => 0,
    }
}

#[tokio::test]
async fn a_managers_count_session_reaches_floor_staff_and_their_entries_come_back() {
    let w = World::new().await;
    let mut mia = w.enrol(LIC_A, "Mia's phone", w.mia).await;
    let mut finn = w.enrol(LIC_A, "Finn's phone", w.finn).await;

    let session = filled(DocKind::CountSession, &mia.facility, mia.writer, 5);
    let id = session.id;
    mia.add(session);
    let up = w.sync(&mut mia).await;
    assert!(up.refusals.is_empty(), "{:?}", up.refusals);
    assert_eq!(w.db().docs(&lic(LIC_A)).unwrap(), vec![(id, DocKind::CountSession)]);
    let mut stored = w.stored(LIC_A, id).expect("stored");
    assert_eq!(stored.heads_text(), mia.doc(id).heads_text());

    let down = w.sync(&mut finn).await;
    assert!(down.refusals.is_empty(), "{:?}", down.refusals);
    println!("new document to a second phone: {} busy round trips, {} requests", down.busy_rounds, down.requests);
    assert_eq!(finn.doc(id).heads_text(), mia.doc(id).heads_text());
    assert_eq!(entry_count(finn.doc(id)), 5);

    // Both count at once, then both sync: the entries add up on every replica.
    let finn_writer = finn.writer;
    let mia_writer = mia.writer;
    add_entries(finn.doc(id), finn_writer, "finn", 3);
    add_entries(mia.doc(id), mia_writer, "mia", 2);
    w.sync(&mut finn).await;
    let pulled = w.sync(&mut mia).await;
    println!("update to a phone that had the document: {} busy round trips", pulled.busy_rounds);
    w.sync(&mut finn).await;
    assert_eq!(entry_count(mia.doc(id)), 10);
    assert_eq!(finn.doc(id).heads_text(), mia.doc(id).heads_text());
    assert_eq!(w.stored(LIC_A, id).unwrap().heads_text(), mia.doc(id).heads_text());
    // Caught up: a later sync carries no document message at all.
    let idle = w.sync(&mut finn).await;
    assert_eq!((idle.requests, idle.busy_rounds), (1, 0));

    // A phone with nothing of its own to say gets another phone's entries in its first answer.
    add_entries(finn.doc(id), finn_writer, "more", 1);
    w.sync(&mut finn).await;
    let pulled = w.sync(&mut mia).await;
    println!("pure pull of an update: {} busy round trips, {} requests", pulled.busy_rounds, pulled.requests);
    assert_eq!(mia.doc(id).heads_text(), finn.doc(id).heads_text());
    assert!(pulled.busy_rounds <= 2, "{pulled:?}");
}

#[tokio::test]
async fn a_count_review_never_reaches_floor_staff_or_drivers() {
    let w = World::new().await;
    let mut mia = w.enrol(LIC_A, "Mia's phone", w.mia).await;
    let mut finn = w.enrol(LIC_A, "Finn's phone", w.finn).await;
    let mut dan = w.enrol(LIC_A, "Dan's phone", w.dan).await;
    let mut max = w.enrol(LIC_A, "Max's phone", w.max).await;

    let review = filled(DocKind::CountReview, &mia.facility, mia.writer, 3);
    let review_id = review.id;
    mia.add(review);
    let session = filled(DocKind::CountSession, &mia.facility, mia.writer, 3);
    let session_id = session.id;
    mia.add(session);
    assert!(w.sync(&mut mia).await.refusals.is_empty());

    let to_finn = w.sync(&mut finn).await;
    assert!(!to_finn.received_ids.contains(&review_id), "a count review went to floor staff");
    assert!(to_finn.received_ids.contains(&session_id));
    assert!(!finn.docs.contains_key(&review_id));
    let to_dan = w.sync(&mut dan).await;
    assert!(to_dan.received_ids.is_empty(), "drivers see no work documents");

    // Knowing the id does not help: asking for it is refused and sends nothing.
    finn.add(WorkDoc::empty(review_id, DocKind::CountReview, finn.facility.clone(), finn.writer));
    let asked = w.sync(&mut finn).await;
    assert!(!asked.received_ids.contains(&review_id));
    let reason = &asked.refusals.iter().find(|r| r.doc == review_id).expect("refused").reason;
    assert!(reason.contains("may not see count reviews"), "{reason}");
    // Nor does claiming it is a count session.
    let hello = finn.docs.remove(&review_id).unwrap();
    let mut fake = WorkDoc::empty(review_id, DocKind::CountSession, finn.facility.clone(), finn.writer);
    let mut state = State::new();
    let message = fake.generate_message(&mut state).unwrap();
    let response = w.post(&finn, vec![DocMessage { doc: review_id, kind: DocKind::CountSession, message, signatures: vec![] }]).await;
    assert!(response.docs.iter().all(|m| m.doc != review_id));
    assert!(response.doc_refusals[0].reason.contains("is a count review, not a count session"), "{:?}", response.doc_refusals);
    drop(hello);

    let to_max = w.sync(&mut max).await;
    assert!(to_max.received_ids.contains(&review_id));
    assert_eq!(max.doc(review_id).heads_text(), mia.doc(review_id).heads_text());
}

#[tokio::test]
async fn only_managers_start_count_sessions_and_only_signed_in_people_sync_documents() {
    let w = World::new().await;
    let mut finn = w.enrol(LIC_A, "Finn's phone", w.finn).await;
    let session = filled(DocKind::CountSession, &finn.facility, finn.writer, 3);
    let id = session.id;
    finn.add(session);
    let hello = finn.messages();
    let first = w.post(&finn, hello).await;
    assert_eq!(first.doc_refusals.len(), 1);
    assert!(first.doc_refusals[0].reason.contains("Finn is floor staff and may not start a count session"));
    assert!(first.docs.is_empty());
    // Even pushed with its content straight away.
    finn.reconnect();
    // A message that carries the whole document: answer a fake "I have nothing" from a server.
    let mut state = State::new();
    let mut server = WorkDoc::empty(id, DocKind::CountSession, finn.facility.clone(), Writer::Server(Uuid::now_v7()));
    let hello = server.generate_message(&mut State::new()).unwrap();
    finn.doc(id).receive_message(&mut state, &hello).unwrap();
    let with_changes = finn.doc(id).generate_message(&mut state).unwrap();
    let second = w.post(&finn, vec![DocMessage { doc: id, kind: DocKind::CountSession, message: with_changes, signatures: vec![] }]).await;
    assert_eq!(second.doc_refusals.len(), 1);
    assert_eq!(w.count("SELECT COUNT(*) FROM docs"), 0);
    assert_eq!(w.count("SELECT COUNT(*) FROM doc_sync"), 0);

    // Floor staff may start an adjustment request.
    let request = new_adjustment(vec![]);
    let adj = adjustment::create(Uuid::now_v7(), finn.facility.clone(), finn.writer, &request, &finn.person(w.finn, "Finn"));
    let adj_id = adj.id;
    finn.docs.clear();
    finn.add(adj);
    assert!(w.sync(&mut finn).await.refusals.is_empty());
    assert_eq!(w.db().docs(&lic(LIC_A)).unwrap(), vec![(adj_id, DocKind::Adjustment)]);

    // Nobody signed in: refused, nothing sent.
    let mut nobody = w.enrol(LIC_A, "Shared handheld", w.finn).await;
    nobody.user = None;
    nobody.add(filled(DocKind::Adjustment, &nobody.facility, nobody.writer, 1));
    let messages = nobody.messages();
    let response = w.post(&nobody, messages).await;
    assert!(response.docs.is_empty(), "documents went to nobody");
    assert_eq!(response.doc_refusals.len(), 1);
    assert_eq!(response.doc_refusals[0].reason, "sign in on the device to sync work documents");
    // Claiming someone not (or no longer) of this facility proves nobody: the server says why,
    // takes nothing and sends nothing (the phone's messages wait for a proof that holds).
    for user in [Some(w.bo), Some(UserId::new())] {
        nobody.user = user;
        nobody.docs.clear();
        nobody.add(filled(DocKind::Adjustment, &nobody.facility, nobody.writer, 1));
        let messages = nobody.messages();
        let response = w.post(&nobody, messages).await;
        assert!(response.docs.is_empty(), "documents went to {user:?}");
        assert!(response.doc_refusals.is_empty());
        assert!(response.person_refused.is_some(), "{user:?}");
    }
    w.db().deactivate_user(w.finn).unwrap();
    nobody.user = Some(w.finn);
    nobody.reconnect();
    let messages = nobody.messages();
    let response = w.post(&nobody, messages).await;
    assert!(response.docs.is_empty());
    assert!(response.person_refused.unwrap().contains("Finn was deactivated"));
    // Events are not affected by who is signed in: the sync itself succeeded (status 200 above).
    assert_eq!(w.count("SELECT COUNT(*) FROM docs"), 1);
}

#[tokio::test]
async fn facilities_never_see_or_write_each_others_documents() {
    let w = World::new().await;
    let mut mia = w.enrol(LIC_A, "Mia's phone", w.mia).await;
    let mut bo = w.enrol(LIC_B, "Bo's phone", w.bo).await;
    let session = filled(DocKind::CountSession, &mia.facility, mia.writer, 4);
    let id = session.id;
    mia.add(session);
    w.sync(&mut mia).await;
    let heads = w.stored(LIC_A, id).unwrap().heads_text();

    let b = w.sync(&mut bo).await;
    assert!(b.received_ids.is_empty());
    assert!(w.db().docs(&lic(LIC_B)).unwrap().is_empty());
    assert!(w.db().doc(&lic(LIC_B), id).unwrap().is_none());

    // Bo writes to A's document by its id: as a replica claiming facility B...
    let mut forged = filled(DocKind::CountSession, &bo.facility, bo.writer, 2);
    bo.add(WorkDoc::load(id, DocKind::CountSession, bo.facility.clone(), bo.writer, &forged.save(), &[]).unwrap());
    let tried = w.sync(&mut bo).await;
    assert!(tried.received_ids.is_empty());
    assert!(!tried.refusals.is_empty());
    assert!(tried.refusals.iter().all(|r| r.reason.contains(&format!("there is no work document {id}"))), "{:?}", tried.refusals);
    // ...and with A's own header, copied from a leaked replica.
    bo.docs.clear();
    let mut leaked = mia.doc(id).clone();
    add_entries(&mut leaked, bo.writer, "bo", 1);
    bo.add(leaked);
    let tried = w.sync(&mut bo).await;
    assert!(tried.received_ids.is_empty());
    assert!(tried.refusals.iter().all(|r| r.reason.contains("there is no work document")));
    assert_eq!(w.stored(LIC_A, id).unwrap().heads_text(), heads, "A's document is unchanged");
    assert_eq!(w.count("SELECT COUNT(*) FROM docs"), 1);
}

#[tokio::test]
async fn a_truncated_message_is_refused_and_changes_nothing() {
    let w = World::new().await;
    let mut mia = w.enrol(LIC_A, "Mia's phone", w.mia).await;
    let session = filled(DocKind::CountSession, &mia.facility, mia.writer, 3);
    let id = session.id;
    mia.add(session);
    w.sync(&mut mia).await;
    let before = w.stored(LIC_A, id).unwrap().heads_text();
    let rows_before = w.count("SELECT COUNT(*) FROM doc_changes") + w.count("SELECT COUNT(*) FROM doc_sync");

    let writer = mia.writer;
    add_entries(mia.doc(id), writer, "late", 50);
    mia.reconnect();
    // First the phone's hello, then the changes the server asks for, cut in half.
    let hello = mia.messages();
    let answer = w.post(&mia, hello).await;
    mia.apply(&answer);
    let mut messages = mia.messages();
    assert_eq!(messages.len(), 1);
    let full = messages[0].message.len();
    assert!(full > 100, "the message carries the changes ({full} bytes)");
    messages[0].message.truncate(full / 2);
    let response = w.post(&mia, messages).await;
    assert_eq!(response.doc_refusals.len(), 1, "{:?}", response.doc_refusals);
    assert!(response.doc_refusals[0].reason.contains("truncated or corrupted"), "{}", response.doc_refusals[0].reason);
    assert_eq!(w.stored(LIC_A, id).unwrap().heads_text(), before);
    assert_eq!(w.count("SELECT COUNT(*) FROM doc_changes") + w.count("SELECT COUNT(*) FROM doc_sync"), rows_before);

    // Garbage, and a truncated message for a document the server does not have yet.
    let garbage = vec![DocMessage { doc: id, kind: DocKind::CountSession, message: vec![0x42, 0xff, 0xff, 0xff], signatures: vec![] }];
    assert_eq!(w.post(&mia, garbage).await.doc_refusals.len(), 1);
    let mut fresh = filled(DocKind::CountSession, &mia.facility, mia.writer, 3);
    let mut state = State::new();
    let mut bytes = fresh.generate_message(&mut state).unwrap();
    bytes.truncate(bytes.len() / 2);
    let response = w.post(&mia, vec![DocMessage { doc: fresh.id, kind: DocKind::CountSession, message: bytes, signatures: vec![] }]).await;
    assert_eq!(response.doc_refusals.len(), 1);
    assert_eq!(w.db().docs(&lic(LIC_A)).unwrap().len(), 1);
    assert_eq!(w.stored(LIC_A, id).unwrap().heads_text(), before);

    // A device whose message was refused starts that document afresh, and then it goes through.
    mia.reconnect();
    let retried = w.sync(&mut mia).await;
    assert!(retried.refusals.is_empty(), "{:?}", retried.refusals);
    assert_eq!(w.stored(LIC_A, id).unwrap().heads_text(), mia.doc(id).heads_text());
    assert_eq!(entry_count(&mut w.stored(LIC_A, id).unwrap()), 53);
}

/// A move recorded on `phone` by `user`, signed with the key the phone holds.
fn moved_event(phone: &Phone, user: UserId, seq: u64, prev_hash: &str) -> Event {
    UnsealedEvent {
        id: Uuid::now_v7(),
        facility: phone.facility.clone(),
        tag: PackageTag::parse(TAG).unwrap(),
        user,
        device: phone.device,
        device_seq: seq,
        hlc: Hlc { wall_ms: chrono::Utc::now().timestamp_millis(), counter: seq as u32 },
        parent: None,
        body: EventBody::Moved { to: LocationName::parse("Vault B").unwrap() },
        prev_hash: prev_hash.to_string(),
    }
    .seal_signed(&phone.key)
}

#[tokio::test]
async fn documents_and_events_travel_together_and_fail_together() {
    let w = World::new().await;
    let mut mia = w.enrol(LIC_A, "Mia's phone", w.mia).await;
    let session = filled(DocKind::CountSession, &mia.facility, mia.writer, 3);
    mia.add(session);
    let hello = mia.messages();
    mia.reconnect();

    // An altered event refuses the whole request: the document message is not taken either.
    let mut tampered = moved_event(&mia, w.mia, 1, GENESIS_HASH);
    tampered.body = EventBody::Moved { to: LocationName::parse("Back door").unwrap() };
    let request = SyncRequest { cursor: 0, events: vec![tampered], docs: hello.clone(), ..Default::default() };
    let resp = w.post_request(&mia, &request).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(w.count("SELECT COUNT(*) FROM doc_sync"), 0);

    // A refused document message does not touch the events beside it.
    let event = moved_event(&mia, w.mia, 1, GENESIS_HASH);
    let request = SyncRequest { cursor: 0, events: vec![event.clone()], docs: hello, ..Default::default() };
    mia.user = None;
    let resp: SyncResponse = w.post_request(&mia, &request).await.json().await.unwrap();
    mia.user = Some(w.mia);
    assert_eq!(resp.verdicts.len(), 1);
    assert_eq!(resp.verdicts[0].outcome, Outcome::Accepted);
    assert_eq!(resp.doc_refusals.len(), 1);
    assert_eq!(w.db().facility_events(&lic(LIC_A)).unwrap(), vec![event]);

    // Signed in, the same document goes up in the same round trips as the ledger.
    let up = w.sync(&mut mia).await;
    assert!(up.refusals.is_empty());
    assert_eq!(w.db().docs(&lic(LIC_A)).unwrap().len(), 1);
}

fn new_adjustment(counted_by: Vec<UserId>) -> NewAdjustment {
    NewAdjustment {
        tag: PackageTag::parse(TAG).unwrap(),
        delta: Quantity::parse("-1.5 g").unwrap(),
        reason_code: "Scale Variance".into(),
        note: "recount confirmed 1.50 g short".into(),
        session: None,
        counted_by,
    }
}

#[tokio::test]
async fn a_decision_by_someone_who_counted_is_withdrawn_and_everything_survives_a_restart() {
    let mut w = World::new().await;
    let mut finn = w.enrol(LIC_A, "Finn's phone", w.finn).await;
    let mut mia = w.enrol(LIC_A, "Mia's phone", w.mia).await;
    let mut max = w.enrol(LIC_A, "Max's phone", w.max).await;

    // Finn asks; Mia counted the package.
    let request = new_adjustment(vec![w.mia, w.finn]);
    let doc = adjustment::create(Uuid::now_v7(), finn.facility.clone(), finn.writer, &request, &finn.person(w.finn, "Finn"));
    let id = doc.id;
    finn.add(doc);
    assert!(w.sync(&mut finn).await.refusals.is_empty());

    // Mia approves anyway: the server withdraws it and says why.
    w.sync(&mut mia).await;
    let by = mia.person(w.mia, "Mia");
    adjustment::decide(mia.doc(id), &Decision { approved: true, by, note: "fine by me".into() }).unwrap();
    let decided = w.sync(&mut mia).await;
    assert_eq!(decided.refusals.len(), 1, "{:?}", decided.refusals);
    assert_eq!(decided.refusals[0].doc, id);
    assert!(decided.refusals[0].reason.contains("you counted this package"), "{}", decided.refusals[0].reason);
    let on_mia = adjustment::read(mia.doc(id)).unwrap();
    assert_eq!(on_mia.status(), AdjustmentStatus::Pending, "the withdrawal reached Mia's phone");
    assert_eq!(on_mia.refusals.len(), 1);
    assert_eq!(on_mia.refusals[0].decision.by.name, "Mia");
    let on_server = adjustment::read(&w.stored(LIC_A, id).unwrap()).unwrap();
    assert_eq!((on_server.status(), on_server.refusals.len()), (AdjustmentStatus::Pending, 1));

    // Max did not count: his rejection stands.
    w.sync(&mut max).await;
    assert_eq!(adjustment::read(max.doc(id)).unwrap().refusals.len(), 1);
    let by = max.person(w.max, "Max");
    adjustment::decide(max.doc(id), &Decision { approved: false, by, note: "count it again".into() }).unwrap();
    let decided = w.sync(&mut max).await;
    assert!(decided.refusals.is_empty(), "{:?}", decided.refusals);
    assert_eq!(adjustment::read(max.doc(id)).unwrap().status(), AdjustmentStatus::Rejected);
    w.sync(&mut finn).await;
    let on_finn = adjustment::read(finn.doc(id)).unwrap();
    assert_eq!((on_finn.status(), on_finn.refusals.len()), (AdjustmentStatus::Rejected, 1));

    // A count session edited many times (compacted on the way), then a restart.
    let session = filled(DocKind::CountSession, &mia.facility, mia.writer, 2);
    let session_id = session.id;
    mia.add(session);
    w.sync(&mut mia).await;
    let writer = mia.writer;
    for round in 0..40 {
        add_entries(mia.doc(session_id), writer, &format!("r{round:02}-"), 1);
        w.sync(&mut mia).await;
    }
    assert!(w.count("SELECT MAX(change_rows) FROM docs") <= 32);
    assert!(w.count("SELECT COUNT(*) FROM doc_changes") <= 32);
    let session_heads = mia.doc(session_id).heads_text();
    let adjustment_heads = finn.doc(id).heads_text();
    assert_eq!(w.stored(LIC_A, session_id).unwrap().heads_text(), session_heads);

    w.restart().await;
    let mut docs = w.db().docs(&lic(LIC_A)).unwrap();
    docs.sort();
    let mut expected = vec![(id, DocKind::Adjustment), (session_id, DocKind::CountSession)];
    expected.sort();
    assert_eq!(docs, expected);
    let after = adjustment::read(&w.stored(LIC_A, id).unwrap()).unwrap();
    assert_eq!((after.status(), after.refusals.len()), (AdjustmentStatus::Rejected, 1));
    assert_eq!(w.stored(LIC_A, session_id).unwrap().heads_text(), session_heads);
    assert_eq!(entry_count(&mut w.stored(LIC_A, session_id).unwrap()), 42);

    // The phones reconnect: nothing to exchange beyond one hello and its answer per document.
    mia.reconnect();
    let again = w.sync(&mut mia).await;
    assert!(again.refusals.is_empty());
    assert_eq!(mia.doc(session_id).heads_text(), session_heads);
    // A phone enrolled after the restart receives both, as stored, signatures and all.
    let mut fresh = w.enrol(LIC_A, "New handheld", w.mia).await;
    w.sync(&mut fresh).await;
    assert_eq!(fresh.doc(id).heads_text(), adjustment_heads);
    assert_eq!(fresh.doc(session_id).heads_text(), session_heads);

    // A decision written in someone else's name is refused whole: nothing of it is kept.
    let stored_heads = w.stored(LIC_A, id).unwrap().heads_text();
    w.sync(&mut max).await;
    let as_mia = max.person(w.mia, "Mia");
    adjustment::decide(max.doc(id), &Decision { approved: true, by: as_mia, note: "signed as Mia".into() }).unwrap();
    let refused = w.sync(&mut max).await;
    assert!(refused.refusals.iter().any(|r| r.doc == id && r.reason.contains("in someone else's name")), "{:?}", refused.refusals);
    assert_eq!(w.stored(LIC_A, id).unwrap().heads_text(), stored_heads);

    // And the server keeps writing after a restart (a new actor id, the same key from its data
    // key): Mia counted, so her approval is withdrawn, and her phone checks the server's change.
    let by = fresh.person(w.mia, "Mia");
    let again = adjustment::read(fresh.doc(id)).unwrap();
    assert_eq!(again.status(), AdjustmentStatus::Rejected);
    adjustment::decide(fresh.doc(id), &Decision { approved: true, by, note: "mine after all".into() }).unwrap();
    let refused = w.sync(&mut fresh).await;
    assert_eq!(refused.refusals.len(), 1);
    let last = adjustment::read(&w.stored(LIC_A, id).unwrap()).unwrap();
    assert_eq!(last.refusals.len(), 2);
    assert_eq!(last.status(), AdjustmentStatus::Rejected, "the refused approval is undone and the earlier rejection stands");
    assert_eq!(adjustment::read(fresh.doc(id)).unwrap().refusals.len(), 2, "the withdrawal reached the phone");
}

struct BigPush {
    up: Exchange,
    up_time: Duration,
    down: Exchange,
    down_time: Duration,
    /// One more entry on the phone, synced, after the push (the server's copy is warm).
    edit_time: Duration,
}

/// Pushes a new `entries`-change count session from a manager's phone, pulls it to a second
/// phone, then syncs single-entry edits.
async fn push_big_session(entries: usize) -> BigPush {
    let w = World::new().await;
    let mut mia = w.enrol(LIC_A, "Mia's phone", w.mia).await;
    let mut finn = w.enrol(LIC_A, "Finn's phone", w.finn).await;
    let session = filled(DocKind::CountSession, &mia.facility, mia.writer, entries);
    let id = session.id;
    mia.add(session);
    let started = Instant::now();
    let up = w.sync(&mut mia).await;
    let up_time = started.elapsed();
    assert!(up.refusals.is_empty());
    let mut stored = w.stored(LIC_A, id).unwrap();
    assert_eq!(stored.heads_text(), mia.doc(id).heads_text());
    assert_eq!(stored.change_count(), entries + 1);
    let started = Instant::now();
    let down = w.sync(&mut finn).await;
    let down_time = started.elapsed();
    assert_eq!(finn.doc(id).heads_text(), mia.doc(id).heads_text());
    let writer = mia.writer;
    let mut edit_time = Duration::ZERO;
    for round in 0..5 {
        add_entries(mia.doc(id), writer, &format!("edit{round}-"), 1);
        let started = Instant::now();
        w.sync(&mut mia).await;
        edit_time = edit_time.max(started.elapsed());
    }
    assert_eq!(w.stored(LIC_A, id).unwrap().heads_text(), mia.doc(id).heads_text());
    BigPush { up, up_time, down, down_time, edit_time }
}

fn report(entries: usize, p: &BigPush) {
    println!(
        "{entries} changes up: {} round trips with messages, {} requests, {:?}; down to a second phone: {} / {}, {:?}; \
         slowest single-entry edit sync: {:?}",
        p.up.busy_rounds, p.up.requests, p.up_time, p.down.busy_rounds, p.down.requests, p.down_time, p.edit_time
    );
}

#[tokio::test]
async fn a_2000_change_count_session_goes_up_in_at_most_three_round_trips() {
    let pushed = push_big_session(2_000).await;
    report(2_000, &pushed);
    assert!(pushed.up.busy_rounds <= 3, "{:?}", pushed.up);
    assert!(pushed.up.requests <= 3, "{:?}", pushed.up);
    assert!(pushed.down.busy_rounds <= 3, "{:?}", pushed.down);
}

fn route_for(phone: &Phone, driver: UserId, driver_name: &str) -> WorkDoc {
    use custody_core::work::manifest::{self, Driver, OutboundManifest, Vehicle};
    let m = OutboundManifest {
        number: "M-1".into(),
        shipper: phone.facility.clone(),
        vehicle: Vehicle { make: "Ford".into(), model: "Transit".into(), plate: "8ABC123".into() },
        driver: Driver { user: driver, name: driver_name.into(), licence_number: "D1".into(), occupational_licence: "OL1".into() },
        phone_for_questions: "555".into(),
        stops: vec![],
        created_by: "Mia".into(),
        created_at: Utc::now(),
    };
    manifest::create(Uuid::now_v7(), phone.facility.clone(), phone.writer, &m)
}

#[tokio::test]
async fn a_route_reaches_only_its_driver_and_must_name_a_driver() {
    let mut w = World::new().await;
    let dee = w.add_user("Dee", Role::Driver, "BADGE-DEE", "9753");
    let mut mia = w.enrol(LIC_A, "Mia's phone", w.mia).await;
    let mut dan = w.enrol(LIC_A, "Dan's phone", w.dan).await;
    let mut dees = w.enrol(LIC_A, "Dee's phone", dee).await;
    let mut finn = w.enrol(LIC_A, "Finn's phone", w.finn).await;

    // A route naming floor staff as its driver is refused whole.
    let bad = route_for(&mia, w.finn, "Finn");
    let bad_id = bad.id;
    mia.add(bad);
    let up = w.sync(&mut mia).await;
    assert!(up.refusals.iter().any(|r| r.doc == bad_id && r.reason.contains("not an active driver")), "{:?}", up.refusals);
    assert!(w.stored(LIC_A, bad_id).is_none());
    mia.docs.remove(&bad_id);

    let route = route_for(&mia, dee, "Dee");
    let id = route.id;
    mia.add(route);
    let up = w.sync(&mut mia).await;
    assert!(up.refusals.is_empty(), "{:?}", up.refusals);

    let to_dan = w.sync(&mut dan).await;
    assert!(!to_dan.received_ids.contains(&id), "another driver's route never reaches Dan");
    let to_dee = w.sync(&mut dees).await;
    assert!(to_dee.received_ids.contains(&id), "the route reaches its driver");
    let to_finn = w.sync(&mut finn).await;
    assert!(to_finn.received_ids.contains(&id), "the vault sees manifests, for loading and returns");

    // Dan asking for the route by id learns nothing and writes nothing.
    let mut forged = WorkDoc::empty(id, DocKind::Manifest, lic(LIC_A), dan.writer);
    let mut state = State::new();
    let hello = forged.generate_message(&mut state).expect("a first sync message");
    let resp = w.post(&dan, vec![DocMessage { doc: id, kind: DocKind::Manifest, message: hello, signatures: vec![] }]).await;
    assert!(resp.docs.is_empty());
    assert!(resp.doc_refusals.iter().any(|r| r.doc == id && r.reason.contains("there is no work document")), "{:?}", resp.doc_refusals);
}

/// Every role-restricted decision on a work document (custody_core::testing::decisions), made
/// four ways from one shared handheld: signed by nobody, with a floor worker's key in the right
/// person's name, with the right person's key from another device, and by the right person with
/// their key on this device. Only the last is kept; the others are refused whole with the reason
/// and the server's copy is as before.
#[tokio::test]
async fn every_decision_needs_the_right_persons_signature_from_the_device_that_sends_it() {
    use custody_core::testing::{Cast, Who, decisions};
    let w = World::new().await;
    let mut office = w.enrol(LIC_A, "Office handheld", w.mia).await;
    let office_enrolment = EnrolResponse {
        device_id: office.device,
        facility: office.facility.clone(),
        facility_name: String::new(),
        token: office.token.clone(),
        roster: vec![],
        server_key: w.db().server_key(),
        server_time: Utc::now(),
        time_zone: None,
    };
    for (user, badge, pin) in [(w.max, "BADGE-MAX", "4822"), (w.finn, "BADGE-FINN", "1357"), (w.dan, "BADGE-DAN", "2468")] {
        let key = w.server.sign_in(&office_enrolment, badge, pin).await;
        office.others.insert(user, key);
    }
    let elsewhere = w.server.enrol(LIC_A, "Another handheld").await;
    let max_elsewhere = w.server.sign_in(&elsewhere, "BADGE-MAX", "4822").await;
    let dan_elsewhere = w.server.sign_in(&elsewhere, "BADGE-DAN", "2468").await;
    let who = |user: UserId, name: &str| Who { user, name: name.into(), device: office.device };
    let cast = Cast { facility: lic(LIC_A), manager: who(w.max, "Max"), floor: who(w.finn, "Finn"), driver: who(w.dan, "Dan") };

    for decision in decisions() {
        // The document as it stands, started by its own author on this handheld.
        let base = (decision.base)(&cast);
        let base_id = base.as_ref().map(|b| b.id);
        if let Some(base) = base {
            office.add(base);
            let up = w.sync(&mut office).await;
            assert!(up.refusals.is_empty(), "{}: the base was refused: {:?}", decision.name, up.refusals);
        }
        let (right, right_elsewhere) = if decision.by_driver { (&cast.driver, &dan_elsewhere) } else { (&cast.manager, &max_elsewhere) };
        let floor_key = &office.others[&w.finn];
        let right_key = &office.others[&right.user];
        let variants: [(&str, Writer, Option<&SigningKey>, &str); 4] = [
            ("signed by nobody", right.writer(), None, "carries no signature"),
            ("a floor worker's key", cast.floor.writer(), Some(floor_key), ""),
            ("the right person's key from another device", right.writer(), Some(right_elsewhere), "not signed by"),
            ("the right person on this device", right.writer(), Some(right_key), ""),
        ];
        for (i, (how, writer, key, expected)) in variants.into_iter().enumerate() {
            let (doc, mut state) = match base_id {
                Some(id) => {
                    let replica = &office.docs[&id];
                    (Some(replica.doc.clone()), State::decode(&replica.state.encode()).unwrap())
                }
                None => (None, State::new()),
            };
            let mut decided = (decision.decide)(&cast, doc, right, writer).unwrap();
            let id = decided.id;
            let before = w.stored(LIC_A, id).map(|mut d| d.heads_text());
            // Two messages at most: the hello, then the changes the server asks for.
            let mut last = None;
            for _ in 0..3 {
                let Some((message, carried)) = decided.generate_message_with_changes(&mut state) else { break };
                let signatures = match key {
                    None => vec![],
                    Some(key) => {
                        carried.into_iter().map(|hash| ChangeSignature { signature: key.sign(&change_message(id, &hash)), hash }).collect()
                    }
                };
                let response = w.post(&office, vec![DocMessage { doc: id, kind: decided.kind, message, signatures }]).await;
                for m in response.docs.iter().filter(|m| m.doc == id) {
                    decided.receive_message(&mut state, &m.message).unwrap();
                }
                let refused = response.doc_refusals.iter().find(|r| r.doc == id).cloned();
                if refused.is_some() {
                    last = refused;
                    break;
                }
            }
            if i < 3 {
                let refusal = last.unwrap_or_else(|| panic!("{}: {how} was not refused", decision.name));
                println!("{}: {how}: {}", decision.name, refusal.reason);
                assert!(refusal.reason.contains(expected), "{}: {how}: {}", decision.name, refusal.reason);
                assert_eq!(w.stored(LIC_A, id).map(|mut d| d.heads_text()), before, "{}: {how} changed the server's copy", decision.name);
            } else {
                assert!(last.is_none(), "{}: {how} was refused: {last:?}", decision.name);
                assert_eq!(w.stored(LIC_A, id).unwrap().heads_text(), decided.heads_text(), "{}: {how} was not kept", decision.name);
            }
        }
    }
}
