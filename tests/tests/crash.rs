//! Crash durability: an event the app was told is saved survives the process being killed.
//!
//! A helper process (`src/bin/record_until_killed.rs`) records events into a device store as fast
//! as it can and prints `saved <event-id> <tag>` after each `Store::record` returns. The test kills
//! it with SIGKILL at an arbitrary moment (it is mid-record almost all the time), reopens the store
//! and checks that:
//!
//! - the store opens, is at the current schema version and passes SQLite's integrity check;
//! - every event reported saved is there, under its tag, still pending;
//! - at most one event more than reported is there (the one committed just before the kill);
//! - the outbox holds exactly the events in the store, the hash chain is intact and gap-free, and
//!   the folded inventory equals a refold from the events (no half-applied record).
//!
//! It then starts the helper again on the same store, so the next run continues the chain the
//! killed one left, and kills it again: three rounds in all.
//!
//! What this can and cannot catch: SIGKILL ends the process, not the machine, so whatever reached
//! the kernel survives even without fsync. It catches a "saved" that is reported before the commit
//! (deferred or background writes, an in-memory batch), a record that is not one transaction (event
//! without outbox entry, chain head or fold), and a chain that breaks across a restart. Power-loss
//! durability (`synchronous=FULL`) needs a machine reset to test and is not covered here.

#![cfg(unix)]

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use custody_core::PackageTag;
use custody_core::Store;
use custody_core::store::{EventState, SCHEMA_VERSION};
use uuid::Uuid;

const ROUNDS: usize = 3;
/// Reported saves to wait for before each kill.
const SAVES_PER_ROUND: usize = 200;
/// Generous: a save is a few milliseconds; a slow CI disk may take far longer, but not this long.
const LINE_TIMEOUT: Duration = Duration::from_secs(60);

/// One `saved <id> <tag>` line.
#[derive(Debug, Clone)]
struct Saved {
    id: Uuid,
    tag: PackageTag,
}

fn parse_saved(line: &str) -> Saved {
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("saved"), Some(id), Some(tag), None) => Saved {
            id: Uuid::parse_str(id).unwrap_or_else(|e| panic!("bad event id in {line:?}: {e}")),
            tag: PackageTag::parse(tag).unwrap_or_else(|e| panic!("bad tag in {line:?}: {e}")),
        },
        _ => panic!("the helper printed an unexpected line: {line:?}"),
    }
}

/// A delay in `0..max` microseconds that differs from run to run.
fn jitter_micros(max: u64) -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    u64::from(nanos) % max
}

/// Runs the helper on `path` until it has reported at least `SAVES_PER_ROUND` saves, kills it
/// with SIGKILL and returns every save it reported, including lines still in the pipe.
fn run_and_kill(path: &Path) -> Vec<Saved> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_record_until_killed"))
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start record_until_killed");
    let stdout = child.stdout.take().expect("piped stdout");

    // Lines arrive through a thread so a hung helper fails the test instead of hanging it. Only
    // complete lines count: a fragment cut by the kill is no report of a save.
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdout.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) if buf.ends_with(b"\n") => {
                    let line = String::from_utf8(buf[..buf.len() - 1].to_vec()).expect("helper prints UTF-8");
                    if tx.send(line).is_err() {
                        return;
                    }
                }
                Ok(_) => return, // a fragment at EOF
            }
        }
    });

    let mut saved = Vec::new();
    while saved.len() < SAVES_PER_ROUND {
        match rx.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => saved.push(parse_saved(&line)),
            Err(RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("record_until_killed reported no save for {LINE_TIMEOUT:?} (after {} saves)", saved.len());
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("wait for helper");
                panic!("record_until_killed stopped on its own after {} saves: {status}", saved.len());
            }
        }
    }

    // Land the kill at a varying point of the helper's record/report cycle (a record is a few
    // milliseconds), and let some reports pile up in the pipe unread.
    std::thread::sleep(Duration::from_micros(jitter_micros(5_000)));
    child.kill().expect("SIGKILL the helper"); // Child::kill is SIGKILL on unix
    let status = child.wait().expect("wait for the killed helper");
    assert_eq!(status.signal(), Some(9), "the helper must die by SIGKILL, not exit by itself: {status}");

    // Whatever it printed before dying is still in the pipe: those saves were reported too.
    saved.extend(rx.iter().map(|line| parse_saved(&line)));
    reader.join().expect("reader thread");
    saved
}

/// Opens the store the killed helper left and checks it against every save reported so far;
/// returns how many events it holds.
fn check_store(path: &Path, reported: &[Saved], kills: usize) -> usize {
    let store = Store::open(path, &custody_e2e::store_key()).expect("the store opens after a kill");
    assert_eq!(store.schema_version().expect("schema version"), SCHEMA_VERSION);
    let integrity: String = custody_core::store::open_encrypted(path, &custody_e2e::store_key())
        .expect("open for integrity check")
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check");
    assert_eq!(integrity, "ok", "SQLite integrity check after a kill");

    let events = store.events().expect("events");
    let by_id: BTreeMap<Uuid, _> = events.iter().map(|r| (r.event.id, r)).collect();
    assert_eq!(by_id.len(), events.len(), "event ids are unique");
    let unique: HashSet<Uuid> = reported.iter().map(|s| s.id).collect();
    assert_eq!(unique.len(), reported.len(), "the helper reported an event id twice");

    let missing: Vec<&Saved> = reported.iter().filter(|s| !by_id.contains_key(&s.id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} events reported saved are gone after {kills} kill(s), e.g. {:?}",
        missing.len(),
        reported.len(),
        &missing[..missing.len().min(5)]
    );
    for s in reported {
        let record = by_id[&s.id];
        assert_eq!(record.event.tag, s.tag, "event {} is stored under another tag", s.id);
        assert_eq!(record.state, EventState::Pending, "event {} was never synced", s.id);
    }
    // Each kill can leave at most one event that committed but was not yet reported.
    assert!(
        events.len() <= reported.len() + kills,
        "{} events in the store but only {} reported saved over {kills} kill(s)",
        events.len(),
        reported.len()
    );

    // The last reported saves were the ones closest to the kill: their package histories too.
    for s in &reported[reported.len().saturating_sub(5)..] {
        let history = store.history(&s.tag).expect("history");
        assert!(history.iter().any(|r| r.event.id == s.id), "history of {} lacks {}", s.tag, s.id);
    }

    // Outbox, chain and fold committed together with each event.
    assert_eq!(store.pending_count().expect("pending"), events.len() as u64, "outbox holds exactly the events");
    assert_eq!(store.sync_status().expect("status").pending, events.len() as u64);
    let breaks = store.verify_chains().expect("verify chains");
    assert!(breaks.is_empty(), "hash chain broken after a kill: {breaks:?}");
    let mut seqs: Vec<u64> = events.iter().map(|r| r.event.device_seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>(), "device sequence has gaps or repeats");

    let packages = store.packages().expect("packages");
    assert_eq!(packages.len(), events.len(), "one received package per event");
    assert!(packages.iter().all(|p| p.pending));
    store.refold_all().expect("refold");
    assert_eq!(store.packages().expect("packages after refold"), packages, "incremental fold matches a refold");
    assert!(store.conflicts().expect("conflicts").is_empty());
    events.len()
}

#[test]
fn events_reported_saved_survive_sigkill() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("phone.db");
    let mut reported = Vec::new();
    for kills in 1..=ROUNDS {
        let saved = run_and_kill(&path);
        assert!(saved.len() >= SAVES_PER_ROUND);
        let this_round = saved.len();
        reported.extend(saved);
        let stored = check_store(&path, &reported, kills);
        println!("kill {kills}: {this_round} saves reported this run; {} reported in all, {stored} events stored", reported.len());
    }
}
