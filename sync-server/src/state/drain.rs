//! The task that sends each connected facility's outbox to the state (decision 0019): one
//! worker per facility while it has writes waiting, batches from [`Db::outbox_next`], a read-back
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
    loop {
        workers.retain(|_, handle| !handle.is_finished());
        let live = {
            let db = db.clone();
            blocking(move || db.live_connections()).await
        };
        match live {
            Ok(live) => {
                for facility in live {
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
        System::Metrc => match Metrc::new(&live.base_url, facility.as_str(), live.keys, settings.request_timeout) {
            Ok(client) => drain_facility(&db, &settings, &facility, &Arc::new(client)).await,
            Err(why) => {
                let db = db.clone();
                let f = facility.clone();
                blocking(move || db.stop_state(&f, &why)).await.map(|_| ())
            }
        },
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
) -> Result<(), DrainError> {
    let mut failures: u32 = 0;
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
        match send_batch(db, facility, state.as_ref(), batch).await? {
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

async fn read_back<S: StateSystem>(state: &S, row: &Pending) -> Result<ReadBack, StateError> {
    Ok(match row.kind {
        WriteKind::Create => match state.package(text_field(&row.body, "Tag")).await? {
            Some(_) => ReadBack::Applied,
            None => ReadBack::NotApplied,
        },
        WriteKind::Location => match state.package(text_field(&row.body, "Label")).await? {
            Some(p) if p.location.as_deref() == Some(text_field(&row.body, "Location")) => ReadBack::Applied,
            _ => ReadBack::NotApplied,
        },
        WriteKind::Finish => match state.package(text_field(&row.body, "Label")).await? {
            Some(p) if p.finished => ReadBack::Applied,
            _ => ReadBack::NotApplied,
        },
        WriteKind::Adjust => {
            let (Some(before), Some(delta)) = (row.before_qty, decimal_field(&row.body, "Quantity")) else {
                return Ok(ReadBack::Unclear("the state's quantity before this adjustment is not known, so whether it was applied cannot be told; check the package at the state, then resubmit or dismiss".into()));
            };
            match state.package(text_field(&row.body, "Label")).await? {
                Some(p) if p.quantity == before + delta => ReadBack::Applied,
                Some(p) if p.quantity == before => ReadBack::NotApplied,
                Some(p) => ReadBack::Unclear(format!(
                    "the state's quantity went from {before} to {} while this adjustment of {delta} was in doubt; check the package at the state, then resubmit or dismiss",
                    p.quantity
                )),
                None => ReadBack::NotApplied,
            }
        }
        WriteKind::Outgoing => ReadBack::Unclear(
            "the answer to this manifest template was lost; check the state's outgoing templates, then resubmit or dismiss".into(),
        ),
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

async fn send_batch<S: StateSystem>(db: &Db, facility: &LicenseNumber, state: &S, batch: Vec<Pending>) -> Result<Pass, DrainError> {
    let kind = batch[0].kind;
    let mut to_send: Vec<Pending> = Vec::with_capacity(batch.len());
    let mut progress = false;
    for mut row in batch {
        if row.in_doubt {
            match read_back(state, &row).await {
                Ok(ReadBack::Applied) => {
                    let (db, seq) = (db.clone(), row.seq);
                    blocking(move || db.outbox_confirmed(&[seq])).await?;
                    tracing::info!(%facility, seq = row.seq, kind = kind.as_str(), "state write found applied on read-back");
                    progress = true;
                    continue;
                }
                Ok(ReadBack::NotApplied) => {}
                Ok(ReadBack::Unclear(message)) => {
                    let (db, seq) = (db.clone(), row.seq);
                    blocking(move || db.outbox_failed(seq, &message)).await?;
                    progress = true;
                    continue;
                }
                Err(err) => return on_error(db, facility, vec![], err).await,
            }
        }
        if kind == WriteKind::Adjust && row.before_qty.is_none() {
            match state.package(text_field(&row.body, "Label")).await {
                Ok(Some(p)) => {
                    let (db, seq, q) = (db.clone(), row.seq, p.quantity);
                    blocking(move || db.outbox_before_quantity(seq, q)).await?;
                    row.before_qty = Some(p.quantity);
                }
                // The state will refuse the adjustment with its own message.
                Ok(None) => {}
                Err(err) => return on_error(db, facility, vec![], err).await,
            }
        }
        to_send.push(row);
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
