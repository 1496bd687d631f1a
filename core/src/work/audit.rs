//! Who wrote what in a work document, checked operation by operation.
//!
//! Every change a person makes is signed with their key and carries them as its Automerge actor
//! ([`Writer`]), so after the signatures verify, each operation's author is proven. This module
//! holds the rules that tie what a change *says* to who *made* it, the same for every kind of
//! document, so a phone cannot write in someone else's name or place:
//!
//! - a record that names its author (`user`/`device`, or `by`, `opened_by`, `requested_by` with
//!   them) names the person who signed the change;
//! - a device writes only in its own map of a section (`entries/<device>`, `picks/<device>`...),
//!   and a key there that ends in a person's id (a count) names the writer;
//! - each top-level field or section is written only by the roles [`DocKind::may_write`] allows,
//!   and a document's identity and fixed facts only by its creator.
//!
//! What a kind of document further requires of its decisions (who may approve an adjustment, who
//! may override a failed check) stays in that kind's own audit.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, ChangeHash, ROOT, ReadDoc, ScalarValue, Value};

use super::{DocError, WorkDoc, Writer};
use crate::ids::{DeviceId, UserId};
use crate::people::RosterEntry;

/// Where an object sits: a top-level section, or a child of one (with its key there).
enum Place {
    Section(String),
    Child { section: String, key: String },
}

/// The objects of the document two levels deep, by their creating operation.
fn places(doc: &WorkDoc) -> HashMap<(u64, ActorId), Place> {
    let mut out = HashMap::new();
    for section in doc.am.keys(ROOT).collect::<Vec<_>>() {
        let Ok(Some((Value::Object(_), parent))) = doc.am.get(ROOT, section.as_str()) else { continue };
        if let automerge::ObjId::Id(ctr, actor, _) = &parent {
            out.insert((*ctr, actor.clone()), Place::Section(section.clone()));
        }
        for key in doc.am.keys(&parent).collect::<Vec<_>>() {
            if let Ok(Some((Value::Object(_), automerge::ObjId::Id(c, a, _)))) = doc.am.get(&parent, key.as_str()) {
                out.insert((c, a), Place::Child { section: section.clone(), key });
            }
        }
    }
    out
}

/// The changes that created the document: its creator's first change and those of theirs that
/// depend on nothing but creation (before anyone else wrote to it). Hashes in hex.
fn creation(doc: &mut WorkDoc) -> std::collections::HashSet<String> {
    let all = doc.am.get_changes_meta(&[]);
    let mut out = std::collections::HashSet::new();
    let Some(root) = all.iter().find(|m| m.deps.is_empty()) else { return out };
    let creator = root.actor.clone().into_owned();
    // Changes come in causal order, so every dependency is seen before what depends on it.
    for m in &all {
        if *m.actor == creator && m.deps.iter().all(|d| out.contains(&d.to_string())) {
            out.insert(m.hash.to_string());
        }
    }
    out
}

/// The author fields a record may carry: at the top, or in one of these person objects.
const PERSON_FIELDS: [&str; 3] = ["by", "opened_by", "requested_by"];

/// Who a record claims as its author, when that is not who signed it.
#[derive(Debug, PartialEq, Eq)]
enum Claimed {
    Person(String),
    Device(String),
}

/// A field or section as people say it.
fn field_name(key: &str) -> String {
    match key {
        "cancelled" => "cancellation".into(),
        "departed" => "departure".into(),
        "closed_by" => "closing".into(),
        "stops" => "stop reports".into(),
        other => other.replace('_', " "),
    }
}

/// Whether a JSON record's author fields name `user` on `device` (a record without them, or
/// naming a person only by name, says nothing to check).
fn claims_match(text: &str, user: UserId, device: DeviceId) -> Result<(), Claimed> {
    let Ok(serde_json::Value::Object(record)) = serde_json::from_str::<serde_json::Value>(text) else { return Ok(()) };
    let check = |obj: &serde_json::Map<String, serde_json::Value>| -> Result<(), Claimed> {
        if let Some(claimed) = obj.get("user").and_then(|v| v.as_str())
            && claimed != user.to_string()
        {
            return Err(Claimed::Person(claimed.to_string()));
        }
        if let Some(claimed) = obj.get("device").and_then(|v| v.as_str())
            && claimed != device.to_string()
        {
            return Err(Claimed::Device(claimed.to_string()));
        }
        Ok(())
    };
    check(&record)?;
    for field in PERSON_FIELDS {
        if let Some(serde_json::Value::Object(person)) = record.get(field) {
            check(person)?;
        }
    }
    Ok(())
}

/// Checks every operation of every change made after `before` by a person. `Ok(Some(reason))`
/// when one may not stand; the server then refuses the whole message (phones, which receive only
/// what the server accepted, refuse the whole answer).
pub fn audit_changes(doc: &mut WorkDoc, before: &[ChangeHash], roster: &[RosterEntry]) -> Result<Option<String>, DocError> {
    let new = doc.changes_since(before);
    if new.is_empty() {
        return Ok(None);
    }
    let creation = creation(doc);
    let places = places(doc);
    let kind = doc.kind;
    for (hash, writer) in new {
        let Some(Writer::Person { device, user }) = writer else { continue };
        let Some(person) = roster.iter().find(|p| p.id == user) else {
            return Ok(Some(format!("a change to this {kind} names someone not on the roster")));
        };
        let creating = creation.contains(&hash);
        let hash: ChangeHash = hash.parse().map_err(|e| DocError::corrupt("change hash", e))?;
        let Some(change) = doc.am.get_change_by_hash(&hash) else { continue };
        for op in change.decode().operations {
            // The field or section the operation writes in, and whether it is in a device's map.
            let (section, own_map) = match &op.obj {
                ObjectId::Root => match &op.key {
                    Key::Map(name) => (name.to_string(), None),
                    Key::Seq(_) => return Ok(Some(format!("a change to this {kind} is not one Custody makes"))),
                },
                ObjectId::Id(id) => match places.get(&(id.0, id.1.clone())) {
                    Some(Place::Section(section)) => {
                        // Creating a map in a section: only a device's own, under its own id.
                        if matches!(op.action, OpType::Make(_))
                            && let Key::Map(key) = &op.key
                            && DeviceId::parse(key).is_ok()
                            && key.as_str() != device.to_string()
                        {
                            return Ok(Some(format!("{} wrote in another device's part of this {kind}", person.name)));
                        }
                        (section.clone(), None)
                    }
                    Some(Place::Child { section, key }) => (section.clone(), DeviceId::parse(key).ok()),
                    // Deeper, or made in this same change: judged by the section it is under.
                    None => (String::new(), None),
                },
            };
            if let Some(owner) = own_map {
                if owner != device {
                    return Ok(Some(format!("{} wrote in another device's part of this {kind}", person.name)));
                }
                if let Key::Map(key) = &op.key
                    && let Some(named) = key.rsplit(':').next().and_then(|last| UserId::parse(last).ok())
                    && named != user
                {
                    return Ok(Some(format!("{} recorded an entry in someone else's name in this {kind}", person.name)));
                }
            }
            if !section.is_empty() && !kind.may_write(person.role, &section, creating) {
                return Ok(Some(format!(
                    "{} is {} and may not change the {} of this {kind}",
                    person.name,
                    person.role,
                    field_name(&section)
                )));
            }
            if let OpType::Put(ScalarValue::Str(text)) = &op.action
                && let Err(claimed) = claims_match(text, user, device)
            {
                let claimed = match claimed {
                    Claimed::Person(id) => {
                        roster.iter().find(|p| p.id.to_string() == id).map_or(format!("person {id}"), |p| p.name.clone())
                    }
                    Claimed::Device(id) => format!("device {id}"),
                };
                return Ok(Some(format!(
                    "{} signed a record in this {kind} that names {claimed}; nobody may write in someone else's name",
                    person.name
                )));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::LicenseNumber;
    use crate::roles::Role;
    use uuid::Uuid;

    fn roster(people: &[(UserId, Role)]) -> Vec<RosterEntry> {
        people
            .iter()
            .map(|(id, role)| {
                let mut p = crate::testing::person("P", *role, "B");
                p.id = *id;
                p
            })
            .collect()
    }

    #[test]
    fn a_record_in_someone_elses_name_or_place_is_refused() {
        let (manager, floor) = (UserId::new(), UserId::new());
        let (d1, d2) = (DeviceId::new(), DeviceId::new());
        let people = roster(&[(manager, Role::Manager), (floor, Role::FloorStaff)]);
        let order = crate::outbound::order::Order {
            number: "SO-1".into(),
            recipient: crate::outbound::order::Customer {
                licence: LicenseNumber::parse("C10-0000201-LIC").unwrap(),
                name: "Green Door".into(),
                address: "1 Main".into(),
            },
            requested_on: chrono::Utc::now().date_naive(),
            lines: vec![],
            patient_ref: None,
            created_by: "M".into(),
            created_at: chrono::Utc::now(),
        };
        let mut doc = super::super::order::create(
            Uuid::now_v7(),
            LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            Writer::Person { device: d1, user: manager },
            &order,
        );
        assert_eq!(audit_changes(&mut doc, &[], &people).unwrap(), None, "a manager's order is theirs");

        // Floor staff on d2 writing a cancellation in the manager's name.
        let before = doc.heads();
        doc.set_writer(Writer::Person { device: d2, user: floor });
        let by = super::super::order::Actor { user: manager, name: "M".into(), device: d1, at: chrono::Utc::now() };
        super::super::order::cancel(&mut doc, &super::super::order::Cancellation { reason: "x".into(), by }).unwrap();
        let reason = audit_changes(&mut doc, &before, &people).unwrap().unwrap();
        assert!(reason.contains("may not change the cancellation"), "{reason}");

        // A pick in their own name but in another device's map.
        let mut doc2 = super::super::order::create(
            Uuid::now_v7(),
            LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            Writer::Person { device: d1, user: manager },
            &order,
        );
        let before = doc2.heads();
        doc2.set_writer(Writer::Person { device: d2, user: floor });
        let pick = super::super::order::Pick {
            tag: crate::ids::PackageTag::parse("1A4FF0100000022000001234").unwrap(),
            split_from: None,
            line: 1,
            quantity: crate::quantity::Quantity::parse("1 g").unwrap(),
            by: super::super::order::Actor { user: floor, name: "F".into(), device: d1, at: chrono::Utc::now() },
        };
        super::super::order::put_pick(&mut doc2, &pick).unwrap();
        let reason = audit_changes(&mut doc2, &before, &people).unwrap().unwrap();
        assert!(reason.contains("another device's part"), "{reason}");

        // The same pick made honestly passes.
        let mut doc3 = super::super::order::create(
            Uuid::now_v7(),
            LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            Writer::Person { device: d1, user: manager },
            &order,
        );
        let before = doc3.heads();
        doc3.set_writer(Writer::Person { device: d2, user: floor });
        let honest = super::super::order::Pick { by: super::super::order::Actor { device: d2, ..pick.by.clone() }, ..pick };
        super::super::order::put_pick(&mut doc3, &honest).unwrap();
        assert_eq!(audit_changes(&mut doc3, &before, &people).unwrap(), None);
    }

    #[test]
    fn author_claims_are_read_from_the_record() {
        let (u, d) = (UserId::new(), DeviceId::new());
        assert!(claims_match(&format!(r#"{{"user":"{u}","device":"{d}","x":1}}"#), u, d).is_ok());
        assert!(claims_match(&format!(r#"{{"by":{{"user":"{}","device":"{d}"}}}}"#, UserId::new()), u, d).is_err());
        assert!(claims_match(r#"{"by":"Sam Manager"}"#, u, d).is_ok(), "a name alone proves nothing and claims nothing");
        assert!(claims_match("not json", u, d).is_ok());
        assert!(
            claims_match(&format!(r#"{{"driver":{{"user":"{}"}}}}"#, UserId::new()), u, d).is_ok(),
            "naming someone else as a driver is not authorship"
        );
    }
}
