//! The task that sends each connected facility's outbox to the state (decision 0019): one
//! worker per facility while it has writes waiting, batches from [`Db::outbox_next`] (while a
//! reader beside it reads the quantities of the adjustments to come), a read-back
//! before anything whose answer was lost is sent again, `Retry-After` on 429, exponential
//! back-off with jitter on failures, the failed queue for refusals, and a stop on refused keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use custody_core::ids::LicenseNumber;
use rust_decimal::Decimal;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::config::StateSettings;
use crate::db::{Db, DbError};
use crate::state::connection::Live;
use crate::state::metrc::Metrc;
use crate::state::outbox::Pending;
use crate::state::pace::Gets;
use crate::state::{StateError, StateSystem, System, WriteKind};

/// Why a facility's worker stopped before its outbox was empty.
#[derive(Debug, thiserror::Error)]
enum DrainError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, DbError> + Send + 'static) -> Result<T, DrainError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// Runs until aborted: every `poll_interval`, starts a worker for each connected facility that
/// has writes waiting and none running.
pub async fn run(db: Db, settings: StateSettings) {
    let mut workers: HashMap<LicenseNumber, JoinHandle<()>> = HashMap::new();
    // Facilities whose key expiry was looked at by this process: warned once per start.
    let mut looked_at: std::collections::HashSet<LicenseNumber> = std::collections::HashSet::new();
    loop {
        workers.retain(|_, handle| !handle.is_finished());
        let live = {
            let db = db.clone();
            blocking(move || db.live_connections()).await
        };
        match live {
            Ok(live) => {
                for facility in live {
                    if looked_at.insert(facility.facility.clone()) {
                        let (db, f) = (db.clone(), facility.facility.clone());
                        if let Ok(Some(info)) = blocking(move || db.state_connection(&f)).await
                            && let Some(warning) = info.warning
                        {
                            tracing::warn!(facility = %facility.facility, "{warning}");
                        }
                    }
                    if workers.contains_key(&facility.facility) {
                        continue;
                    }
                    let has_pending = {
                        let (db, f) = (db.clone(), facility.facility.clone());
                        blocking(move || db.outbox_has_pending(&f)).await
                    };
                    if !matches!(has_pending, Ok(true)) {
                        continue;
                    }
                    let name = facility.facility.clone();
                    workers.insert(name, tokio::spawn(facility_worker(db.clone(), settings.clone(), facility)));
                }
            }
            Err(err) => tracing::error!(error = %err, "the state connector could not read its connections"),
        }
        tokio::time::sleep(settings.poll_interval).await;
    }
}

/// Aborts the workers with the loop (the server is stopping): an interrupted write is in doubt
/// in the database already and is read back at the next start.
pub struct Drain {
    handle: JoinHandle<()>,
}

impl Drain {
    pub fn start(db: Db, settings: StateSettings) -> Drain {
        Drain { handle: tokio::spawn(run(db, settings)) }
    }

    pub async fn stop(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }
}

async fn facility_worker(db: Db, settings: StateSettings, live: Live) {
    let facility = live.facility.clone();
    let result = match live.system {
        System::Metrc => {
            let gets = Gets::for_facility(&settings, &live.base_url, facility.as_str(), &live.keys.vendor);
            match Metrc::new(&live.base_url, facility.as_str(), live.keys, settings.request_timeout) {
                Ok(client) => drain_facility(&db, &settings, &facility, &Arc::new(client), &gets).await,
                Err(why) => {
                    let db = db.clone();
                    let f = facility.clone();
                    blocking(move || db.stop_state(&f, &why)).await.map(|_| ())
                }
            }
        }
    };
    if let Err(err) = result {
        tracing::error!(%facility, error = %err, "the state connector stopped for now; it starts again at the next poll");
    }
}

/// The outcome of one pass over a batch, for the back-off.
enum Pass {
    /// Something was confirmed or moved on: no back-off.
    Progress,
    /// The state is failing or unreachable: back off.
    Trouble,
    /// The state asked to wait this long.
    Wait(Duration),
    /// The keys were refused: the facility is stopped.
    Stopped,
    /// Nothing to send.
    Idle,
}

/// Sends a facility's outbox until it is empty, the facility is stopped or disconnected.
async fn drain_facility<S: StateSystem + 'static>(
    db: &Db,
    settings: &StateSettings,
    facility: &LicenseNumber,
    state: &Arc<S>,
    gets: &Arc<Gets>,
) -> Result<(), DrainError> {
    let mut failures: u32 = 0;
    // Reads the quantities of the adjustments to come while this loop sends, for as long as it runs.
    let reader = tokio::spawn(read_ahead(db.clone(), facility.clone(), state.clone(), gets.clone(), settings.poll_interval));
    let _reader = AbortOnDrop(reader);
    loop {
        let still_live = {
            let (db, f) = (db.clone(), facility.clone());
            blocking(move || Ok(db.live_connections()?.iter().any(|l| l.facility == f))).await?
        };
        if !still_live {
            return Ok(());
        }
        let batch = {
            let (db, f) = (db.clone(), facility.clone());
            blocking(move || db.outbox_next(&f)).await?
        };
        if batch.is_empty() {
            return Ok(());
        }
        match send_batch(db, facility, state.as_ref(), gets, batch).await? {
            Pass::Progress => failures = 0,
            Pass::Idle => return Ok(()),
            Pass::Stopped => return Ok(()),
            Pass::Wait(d) => tokio::time::sleep(d).await,
            Pass::Trouble => {
                tokio::time::sleep(backoff(settings, failures)).await;
                failures = failures.saturating_add(1);
            }
        }
    }
}

/// How many adjustments ahead the reader looks at a time.
const READ_AHEAD: usize = 40;

/// Aborts a task when dropped: the reader stops with its facility's worker.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads, as fast as the GET limits allow and for as long as the worker runs, the state's
/// quantity of each adjustment's package before it is sent (for the read-back if its answer is
/// lost), and keeps it with the write, so the worker finds it read. Only free adjustments
/// (`outbox::read_ahead`: nothing we send first changes their quantity), and a quantity is kept
/// only while its write has never been sent ([`Db::outbox_before_quantity_ahead`]). Best effort:
/// what it misses, [`send_batch`] reads itself. A package the state does not have is not asked
/// for again.
async fn read_ahead<S: StateSystem>(db: Db, facility: LicenseNumber, state: Arc<S>, gets: Arc<Gets>, idle: Duration) {
    let mut asked: std::collections::HashSet<i64> = std::collections::HashSet::new();
    loop {
        let rows = {
            let (db, f) = (db.clone(), facility.clone());
            blocking(move || db.outbox_ahead(&f, READ_AHEAD * 4)).await
        };
        let rows: Vec<Pending> = match rows {
            Ok(rows) => rows.into_iter().filter(|r| !asked.contains(&r.seq)).take(READ_AHEAD).collect(),
            Err(err) => {
                tracing::warn!(%facility, error = %err, "the quantities to come could not be planned; the worker reads them itself");
                return;
            }
        };
        if rows.is_empty() {
            tokio::time::sleep(idle.max(Duration::from_millis(20))).await;
            asked.clear();
            continue;
        }
        asked.extend(rows.iter().map(|r| r.seq));
        let results = quantities(state.as_ref(), &gets, rows.iter()).await;
        let found: Vec<(i64, Decimal)> =
            rows.iter().zip(results).filter_map(|(row, r)| r.ok().flatten().map(|p| (row.seq, p.quantity))).collect();
        let db = db.clone();
        if let Err(err) = blocking(move || found.iter().try_for_each(|(seq, q)| db.outbox_before_quantity_ahead(*seq, *q))).await {
            tracing::warn!(%facility, error = %err, "the quantities read ahead could not be kept; they are read again before sending");
        }
    }
}

/// The state's package of each adjustment, read all at once within the GET limits, in order.
async fn quantities<'a, S: StateSystem>(
    state: &S,
    gets: &Gets,
    rows: impl Iterator<Item = &'a Pending>,
) -> Vec<Result<Option<crate::state::StatePackage>, StateError>> {
    futures_util::future::join_all(rows.map(|row| gets.get(state.package(text_field(&row.body, "Label"))))).await
}

/// `base * 2^failures`, capped, less up to half at random, so many servers do not come back at
/// the state in step.
fn backoff(settings: &StateSettings, failures: u32) -> Duration {
    let full = settings.backoff_base.saturating_mul(2u32.saturating_pow(failures.min(20))).min(settings.backoff_max);
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    full.mul_f64(1.0 - f64::from(byte[0]) / 512.0)
}

/// What a read-back shows about a write whose answer was lost.
#[derive(Debug, PartialEq, Eq)]
enum ReadBack {
    Applied,
    NotApplied,
    /// Neither: a person must look (the message says what was seen).
    Unclear(String),
}

fn text_field<'a>(body: &'a Value, field: &str) -> &'a str {
    body.get(field).and_then(Value::as_str).unwrap_or("")
}

fn decimal_field(body: &Value, field: &str) -> Option<Decimal> {
    let text = body.get(field)?.to_string();
    text.trim_matches('"').parse::<Decimal>().ok().or_else(|| Decimal::from_scientific(&text).ok())
}

async fn read_back<S: StateSystem>(state: &S, gets: &Gets, row: &Pending) -> Result<ReadBack, StateError> {
    Ok(match row.kind {
        WriteKind::Create => match gets.get(state.package(text_field(&row.body, "Tag"))).await? {
            Some(_) => ReadBack::Applied,
            None => ReadBack::NotApplied,
        },
        WriteKind::Location => match gets.get(state.package(text_field(&row.body, "Label"))).await? {
            Some(p) if p.location.as_deref() == Some(text_field(&row.body, "Location")) => ReadBack::Applied,
            _ => ReadBack::NotApplied,
        },
        WriteKind::Finish => match gets.get(state.package(text_field(&row.body, "Label"))).await? {
            Some(p) if p.finished => ReadBack::Applied,
            _ => ReadBack::NotApplied,
        },
        WriteKind::Adjust => {
            let (Some(before), Some(delta)) = (row.before_qty, decimal_field(&row.body, "Quantity")) else {
                return Ok(ReadBack::Unclear("the state's quantity before this adjustment is not known, so whether it was applied cannot be told; check the package at the state, then resubmit or dismiss".into()));
            };
            match gets.get(state.package(text_field(&row.body, "Label"))).await? {
                Some(p) if p.quantity == before + delta => ReadBack::Applied,
                Some(p) if p.quantity == before => ReadBack::NotApplied,
                Some(p) => ReadBack::Unclear(format!(
                    "the state's quantity went from {before} to {} while this adjustment of {delta} was in doubt; check the package at the state, then resubmit or dismiss",
                    p.quantity
                )),
                None => ReadBack::NotApplied,
            }
        }
        // Templates are found by their name (the manifest number) among the last day's.
        WriteKind::Outgoing => {
            let name = text_field(&row.body, "Name");
            let now = chrono::Utc::now();
            let window = [
                ("lastModifiedStart", (now - chrono::Duration::hours(23)).format("%Y-%m-%dT%H:%M:%S").to_string()),
                ("lastModifiedEnd", (now + chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%M:%S").to_string()),
            ];
            let mut found = ReadBack::NotApplied;
            for page in 1..=50 {
                let list = gets.get(state.page("/transfers/v2/templates/outgoing", &window, page)).await?;
                if list.data.iter().any(|t| t.get("Name").and_then(Value::as_str) == Some(name)) {
                    found = ReadBack::Applied;
                    break;
                }
                if list.data.is_empty() || list.total.is_some_and(|t| u64::from(page) * 20 >= t) {
                    break;
                }
            }
            found
        }
    })
}

/// What to do with an error from the state for the writes of `seqs` (already marked in doubt).
async fn on_error(db: &Db, facility: &LicenseNumber, seqs: Vec<i64>, err: StateError) -> Result<Pass, DrainError> {
    let db = db.clone();
    let f = facility.clone();
    Ok(match err {
        // A read (read-back, quantity before) the state refused: nothing was sent; try later.
        StateError::Rejected(_) if seqs.is_empty() => Pass::Trouble,
        StateError::Unauthorized(_) => {
            let message = err.to_string();
            blocking(move || {
                db.outbox_not_applied(&seqs, None)?;
                db.stop_state(&f, &message)
            })
            .await?;
            Pass::Stopped
        }
        StateError::RateLimited(wait) => {
            blocking(move || db.outbox_not_applied(&seqs, None)).await?;
            Pass::Wait(wait)
        }
        StateError::NotSent(ref why) => {
            let why = why.clone();
            blocking(move || db.outbox_not_applied(&seqs, Some(&why))).await?;
            Pass::Trouble
        }
        ref e if e.in_doubt() => {
            let message = e.to_string();
            blocking(move || db.outbox_in_doubt(&seqs, &message)).await?;
            Pass::Trouble
        }
        StateError::Rejected(rows) => {
            blocking(move || {
                if seqs.len() == 1 {
                    let message = rows.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join("; ");
                    db.outbox_failed(seqs[0], &message)?;
                } else if rows.iter().all(|(row, _)| row.is_some_and(|r| r < seqs.len())) {
                    // All or nothing: the named objects fail, the others go again without them.
                    let mut named: HashMap<usize, Vec<String>> = HashMap::new();
                    for (row, message) in rows {
                        named.entry(row.unwrap_or(0)).or_default().push(message);
                    }
                    let (failed, others): (Vec<_>, Vec<_>) = seqs.iter().enumerate().partition(|(i, _)| named.contains_key(i));
                    for (i, seq) in failed {
                        db.outbox_failed(*seq, &named[&i].join("; "))?;
                    }
                    db.outbox_not_applied(&others.into_iter().map(|(_, s)| *s).collect::<Vec<_>>(), None)?;
                } else {
                    db.outbox_solo(&seqs)?;
                }
                Ok(())
            })
            .await?;
            Pass::Progress
        }
        _ => unreachable!("every StateError is sorted above: in_doubt covers the rest"),
    })
}

async fn send_batch<S: StateSystem>(
    db: &Db,
    facility: &LicenseNumber,
    state: &S,
    gets: &Gets,
    batch: Vec<Pending>,
) -> Result<Pass, DrainError> {
    let kind = batch[0].kind;
    let mut to_send: Vec<Pending> = Vec::with_capacity(batch.len());
    let mut progress = false;
    for mut row in batch {
        if row.in_doubt {
            match read_back(state, gets, &row).await {
                Ok(ReadBack::Applied) => {
                    let (db, seq) = (db.clone(), row.seq);
                    blocking(move || db.outbox_confirmed(&[seq])).await?;
                    tracing::info!(%facility, seq = row.seq, kind = kind.as_str(), "state write found applied on read-back");
                    progress = true;
                    continue;
                }
                Ok(ReadBack::NotApplied) => {
                    // Known now: a failure later in this pass must not read it back again.
                    let (db, seq) = (db.clone(), row.seq);
                    blocking(move || db.outbox_not_applied(&[seq], None)).await?;
                    row.in_doubt = false;
                }
                Ok(ReadBack::Unclear(message)) => {
                    let (db, seq) = (db.clone(), row.seq);
                    blocking(move || db.outbox_failed(seq, &message)).await?;
                    progress = true;
                    continue;
                }
                Err(err) => return on_error(db, facility, vec![], err).await,
            }
        }
        to_send.push(row);
    }
    // The quantities not read ahead, all at once within the GET limits.
    let unread: Vec<usize> = (0..to_send.len()).filter(|&i| kind == WriteKind::Adjust && to_send[i].before_qty.is_none()).collect();
    let results = quantities(state, gets, unread.iter().map(|&i| &to_send[i])).await;
    let mut first_error = None;
    let mut found = Vec::new();
    for (&i, result) in unread.iter().zip(results) {
        match result {
            Ok(Some(p)) => {
                to_send[i].before_qty = Some(p.quantity);
                found.push((to_send[i].seq, p.quantity));
            }
            // The state will refuse the adjustment with its own message.
            Ok(None) => {}
            Err(err) => first_error = first_error.or(Some(err)),
        }
    }
    if !found.is_empty() {
        let db = db.clone();
        blocking(move || found.iter().try_for_each(|(seq, q)| db.outbox_before_quantity(*seq, *q))).await?;
    }
    if let Some(err) = first_error {
        return on_error(db, facility, vec![], err).await;
    }
    if to_send.is_empty() {
        return Ok(if progress { Pass::Progress } else { Pass::Idle });
    }
    let seqs: Vec<i64> = to_send.iter().map(|r| r.seq).collect();
    {
        let (db, seqs) = (db.clone(), seqs.clone());
        blocking(move || db.outbox_sending(&seqs)).await?;
    }
    let objects: Vec<Value> = to_send.into_iter().map(|r| r.body).collect();
    match state.push(kind, &objects).await {
        Ok(()) => {
            let db = db.clone();
            let n = seqs.len();
            blocking(move || db.outbox_confirmed(&seqs)).await?;
            tracing::info!(%facility, kind = kind.as_str(), objects = n, "state write confirmed");
            Ok(Pass::Progress)
        }
        Err(err) => {
            tracing::warn!(%facility, kind = kind.as_str(), error = %err, "state write not confirmed");
            on_error(db, facility, seqs, err).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::StatePackage;
    use crate::state::metrc::Keys;
    use custody_core::outbound::patient::DataKey;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// What the scripted state does with the next write.
    enum Next {
        /// Applies it, then the answer is lost.
        ApplyThenLose,
        /// Answers with this error, applying nothing.
        Fail(StateError),
    }

    /// A state held in memory that applies writes as Metrc does (all or nothing) and answers as
    /// scripted: the drain's rules are what these tests check; the HTTP is checked against the
    /// emulator in tests/tests/state.rs.
    #[derive(Default)]
    struct Scripted {
        packages: Mutex<HashMap<String, StatePackage>>,
        applied: Mutex<Vec<(WriteKind, Vec<Value>)>>,
        script: Mutex<VecDeque<Next>>,
    }

    impl Scripted {
        fn with(labels: &[&str]) -> Scripted {
            let s = Scripted::default();
            for l in labels {
                s.packages.lock().unwrap().insert(
                    l.to_string(),
                    StatePackage { label: l.to_string(), quantity: Decimal::from(10), location: Some("Dock".into()), finished: false },
                );
            }
            s
        }

        fn then(&self, next: Next) {
            self.script.lock().unwrap().push_back(next);
        }

        fn apply(&self, kind: WriteKind, objects: &[Value]) {
            let mut packages = self.packages.lock().unwrap();
            for o in objects {
                match kind {
                    WriteKind::Location => {
                        packages.get_mut(text_field(o, "Label")).unwrap().location = Some(text_field(o, "Location").into())
                    }
                    WriteKind::Adjust => {
                        packages.get_mut(text_field(o, "Label")).unwrap().quantity += decimal_field(o, "Quantity").unwrap()
                    }
                    WriteKind::Finish => packages.get_mut(text_field(o, "Label")).unwrap().finished = true,
                    WriteKind::Create => {
                        let tag = text_field(o, "Tag").to_string();
                        assert!(!packages.contains_key(&tag), "tag {tag} created twice");
                        packages.insert(
                            tag.clone(),
                            StatePackage { label: tag, quantity: decimal_field(o, "Quantity").unwrap(), location: None, finished: false },
                        );
                    }
                    WriteKind::Outgoing => {}
                }
            }
            self.applied.lock().unwrap().push((kind, objects.to_vec()));
        }
    }

    impl StateSystem for Scripted {
        async fn push(&self, kind: WriteKind, objects: &[Value]) -> Result<(), StateError> {
            assert!(objects.len() <= crate::state::MAX_OBJECTS_PER_WRITE);
            let next = self.script.lock().unwrap().pop_front();
            match next {
                None => {
                    self.apply(kind, objects);
                    Ok(())
                }
                Some(Next::ApplyThenLose) => {
                    self.apply(kind, objects);
                    Err(StateError::Lost("timed out".into()))
                }
                Some(Next::Fail(e)) => Err(e),
            }
        }

        async fn package(&self, label: &str) -> Result<Option<StatePackage>, StateError> {
            Ok(self.packages.lock().unwrap().get(label).cloned())
        }

        async fn page(&self, _: &str, _: &[(&str, String)], _: u32) -> Result<crate::state::Page, StateError> {
            Ok(crate::state::Page { data: vec![], total: Some(0) })
        }
    }

    fn fast() -> StateSettings {
        StateSettings {
            poll_interval: Duration::from_millis(5),
            backoff_base: Duration::from_millis(1),
            backoff_max: Duration::from_millis(4),
            request_timeout: Duration::from_secs(5),
            gets_per_second: 10_000,
            ..StateSettings::default()
        }
    }

    fn gets() -> Arc<Gets> {
        Gets::for_facility(&fast(), "scripted", facility().as_str(), "v")
    }

    fn facility() -> LicenseNumber {
        LicenseNumber::parse("C11-0000001-LIC").unwrap()
    }

    fn connected_db(dir: &std::path::Path) -> Db {
        let db = Db::open(dir, DataKey::generate()).unwrap();
        db.create_facility(&facility(), "Warehouse", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
        let keys = Keys { vendor: "v".into(), user: "u".into() };
        db.state_connect(&facility(), System::Metrc, "ca", "http://127.0.0.1:9", &keys, None).unwrap();
        db
    }

    fn queue(db: &Db, kind: WriteKind, labels: &[&str], body: Value) -> i64 {
        let conn = db.lock();
        conn.execute(
            "INSERT INTO state_outbox (facility, source, kind, labels, body, status, created_at) VALUES (?1, 'test', ?2, ?3, ?4, 'queued', ?5)",
            rusqlite::params![facility().as_str(), kind.as_str(), labels.join(" "), body.to_string(), crate::db::now_text()],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    fn statuses(db: &Db) -> Vec<(String, bool)> {
        let conn = db.lock();
        let mut stmt = conn.prepare("SELECT status, in_doubt FROM state_outbox ORDER BY seq").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    }

    fn move_to(label: &str, to: &str) -> Value {
        serde_json::json!({"Label": label, "Location": to, "Sublocation": null, "MoveDate": "2026-12-03"})
    }

    async fn drain(db: &Db, state: &Arc<Scripted>) {
        drain_facility(db, &fast(), &facility(), state, &gets()).await.unwrap();
    }

    #[tokio::test]
    async fn twenty_five_moves_go_as_three_writes_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = connected_db(dir.path());
        let labels: Vec<String> = (0..25).map(|i| format!("P{i:02}")).collect();
        let state = Arc::new(Scripted::with(&labels.iter().map(String::as_str).collect::<Vec<_>>()));
        for l in &labels {
            queue(&db, WriteKind::Location, &[l], move_to(l, "Vault A"));
        }
        drain(&db, &state).await;
        let applied = state.applied.lock().unwrap();
        assert_eq!(applied.iter().map(|(_, o)| o.len()).collect::<Vec<_>>(), vec![10, 10, 5]);
        let sent: Vec<&str> = applied.iter().flat_map(|(_, o)| o.iter().map(|v| text_field(v, "Label"))).collect();
        assert_eq!(sent, labels.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(statuses(&db).iter().all(|(s, d)| s == "confirmed" && !d));
    }

    #[tokio::test]
    async fn a_lost_answer_is_read_back_so_no_tag_is_created_and_no_adjustment_applied_twice() {
        let dir = tempfile::tempdir().unwrap();
        let db = connected_db(dir.path());
        let state = Arc::new(Scripted::with(&["P1", "P2"]));
        let create = serde_json::json!({"Tag": "N1", "Item": "Flower", "Quantity": 2.5, "UnitOfMeasure": "Grams",
            "Ingredients": [{"Package": "P1", "Quantity": 2.5, "UnitOfMeasure": "Grams"}]});
        queue(&db, WriteKind::Create, &["P1", "N1"], create);
        state.then(Next::ApplyThenLose);
        queue(&db, WriteKind::Adjust, &["P2"], serde_json::json!({"Label": "P2", "Quantity": -1.5, "UnitOfMeasure": "Grams"}));
        // The adjustment's answer is lost too.
        state.then(Next::ApplyThenLose);
        drain(&db, &state).await;
        assert_eq!(state.applied.lock().unwrap().len(), 2, "each write applied once: {:?}", state.applied.lock().unwrap());
        assert_eq!(state.packages.lock().unwrap()["P2"].quantity, Decimal::new(85, 1));
        assert_eq!(statuses(&db), vec![("confirmed".into(), false), ("confirmed".into(), false)]);

        // A write the state failed without applying is found not applied and sent again, once.
        queue(&db, WriteKind::Adjust, &["P2"], serde_json::json!({"Label": "P2", "Quantity": -0.5, "UnitOfMeasure": "Grams"}));
        state.then(Next::Fail(StateError::Unavailable(503)));
        state.then(Next::Fail(StateError::Lost("reset".into())));
        drain(&db, &state).await;
        assert_eq!(state.packages.lock().unwrap()["P2"].quantity, Decimal::from(8));
        assert_eq!(state.applied.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn an_adjustment_whose_package_changed_meanwhile_goes_to_a_person_not_out_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = connected_db(dir.path());
        let state = Arc::new(Scripted::with(&["P1"]));
        queue(&db, WriteKind::Adjust, &["P1"], serde_json::json!({"Label": "P1", "Quantity": -1, "UnitOfMeasure": "Grams"}));
        state.then(Next::Fail(StateError::Lost("timed out".into())));
        let batch = db.outbox_next(&facility()).unwrap();
        assert!(matches!(send_batch(&db, &facility(), state.as_ref(), &gets(), batch).await.unwrap(), Pass::Trouble));
        // Someone changes the package at the state's web interface meanwhile.
        state.packages.lock().unwrap().get_mut("P1").unwrap().quantity = Decimal::from(7);
        drain(&db, &state).await;
        assert!(state.applied.lock().unwrap().is_empty());
        let status = db.state_status(&facility()).unwrap();
        assert_eq!(status.failed, 1);
        assert!(status.failed_writes[0].message.as_deref().unwrap().contains("went from 10 to 7"), "{:?}", status.failed_writes);
    }

    #[tokio::test]
    async fn a_refused_object_fails_alone_and_holds_back_only_its_package() {
        let dir = tempfile::tempdir().unwrap();
        let db = connected_db(dir.path());
        let state = Arc::new(Scripted::with(&["P1", "P2", "P3"]));
        queue(&db, WriteKind::Location, &["P1"], move_to("P1", "Vault A"));
        queue(&db, WriteKind::Location, &["P2"], move_to("P2", "Nowhere"));
        queue(&db, WriteKind::Location, &["P3"], move_to("P3", "Vault A"));
        queue(&db, WriteKind::Location, &["P2"], move_to("P2", "Vault B"));
        state.then(Next::Fail(StateError::Rejected(vec![(Some(1), "Location Nowhere does not exist".into())])));
        drain(&db, &state).await;
        let statuses = statuses(&db);
        assert_eq!(statuses.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), vec!["confirmed", "failed", "confirmed", "queued"]);
        assert_eq!(state.packages.lock().unwrap()["P2"].location.as_deref(), Some("Dock"), "P2's later move waits");
        let failed = &db.state_status(&facility()).unwrap().failed_writes[0];
        assert_eq!(failed.message.as_deref(), Some("Location Nowhere does not exist"));

        // A refusal that names no object: each goes alone, and only the bad one fails.
        queue(&db, WriteKind::Location, &["P1"], move_to("P1", "Nowhere"));
        queue(&db, WriteKind::Location, &["P3"], move_to("P3", "Vault C"));
        state.then(Next::Fail(StateError::Rejected(vec![(None, "Invalid location".into())])));
        state.then(Next::Fail(StateError::Rejected(vec![(None, "Invalid location".into())])));
        drain(&db, &state).await;
        assert_eq!(state.packages.lock().unwrap()["P3"].location.as_deref(), Some("Vault C"));
        assert_eq!(db.state_status(&facility()).unwrap().failed, 2);
    }

    #[tokio::test]
    async fn refused_keys_stop_the_facility_and_a_rate_limit_is_waited_out() {
        let dir = tempfile::tempdir().unwrap();
        let db = connected_db(dir.path());
        let state = Arc::new(Scripted::with(&["P1"]));
        queue(&db, WriteKind::Location, &["P1"], move_to("P1", "Vault A"));
        state.then(Next::Fail(StateError::RateLimited(Duration::from_millis(60))));
        state.then(Next::Fail(StateError::Unauthorized("API key expired".into())));
        let started = std::time::Instant::now();
        drain(&db, &state).await;
        assert!(started.elapsed() >= Duration::from_millis(60), "Retry-After honoured");
        assert!(state.applied.lock().unwrap().is_empty());
        assert_eq!(statuses(&db), vec![("queued".into(), false)], "kept for when the keys work again");
        let stopped = db.state_connection(&facility()).unwrap().unwrap().stopped.unwrap();
        assert!(stopped.contains("API key expired") && stopped.contains("state connect"), "{stopped}");
        assert!(db.live_connections().unwrap().is_empty());
        // Connected again: it goes.
        db.state_connect(&facility(), System::Metrc, "ca", "http://127.0.0.1:9", &Keys { vendor: "v".into(), user: "u2".into() }, None)
            .unwrap();
        drain(&db, &state).await;
        assert_eq!(state.packages.lock().unwrap()["P1"].location.as_deref(), Some("Vault A"));
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_below_the_full_wait() {
        let settings =
            StateSettings { backoff_base: Duration::from_millis(100), backoff_max: Duration::from_secs(2), ..StateSettings::default() };
        for (failures, full) in [(0, 100), (1, 200), (3, 800), (4, 1600), (5, 2000), (40, 2000)] {
            let wait = backoff(&settings, failures);
            assert!(wait <= Duration::from_millis(full) && wait >= Duration::from_millis(full / 2), "{failures}: {wait:?}");
        }
    }
}
