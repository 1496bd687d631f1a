//! The one helper layer every kind of work document reads and writes its fields through:
//! records are stored as JSON text (one Automerge scalar each, so a record is replaced whole,
//! never merged field by field into something nobody wrote), and records several devices add at
//! once live in per-device maps that only their own device writes, so concurrent additions never
//! collide. The typed modules (`count`, `adjustment`, `receiving`, `order`, `manifest`) name
//! their keys and call these; none repeats the Automerge plumbing.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ObjId, ROOT, ReadDoc};

use super::doc::{DocError, WorkDoc};

impl WorkDoc {
    fn field_err(e: impl std::fmt::Display) -> DocError {
        DocError::corrupt("work document", e)
    }

    /// A map at the top of the document.
    pub(crate) fn root_map(&self, key: &'static str) -> Result<automerge::ObjId, DocError> {
        match self.am.get(ROOT, key).map_err(Self::field_err)? {
            Some((automerge::Value::Object(_), id)) => Ok(id),
            _ => Err(DocError::Missing { doc: self.id, field: key }),
        }
    }

    /// Creates empty top-level maps (in a fresh document only).
    pub(crate) fn add_maps(&mut self, keys: &[&'static str]) {
        for key in keys {
            self.am.put_object(ROOT, *key, automerge::ObjType::Map).expect("fresh document");
        }
    }

    pub(crate) fn get_text(&self, key: &str) -> Result<Option<String>, DocError> {
        Ok(self.am.get(ROOT, key).map_err(Self::field_err)?.and_then(|(v, _)| text_of(v)))
    }

    pub(crate) fn put_text(&mut self, key: &str, value: &str) -> Result<(), DocError> {
        self.am.put(ROOT, key, value).map_err(Self::field_err)?;
        Ok(())
    }

    /// A record at the top of the document; `Missing` if absent.
    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(&self, key: &'static str) -> Result<T, DocError> {
        let text = self.get_text(key)?.ok_or(DocError::Missing { doc: self.id, field: key })?;
        serde_json::from_str(&text).map_err(Self::field_err)
    }

    /// A record at the top of the document that may not have been written yet.
    pub(crate) fn get_json_opt<T: serde::de::DeserializeOwned>(&self, key: &'static str) -> Result<Option<T>, DocError> {
        match self.get_text(key)? {
            None => Ok(None),
            Some(text) => serde_json::from_str(&text).map(Some).map_err(Self::field_err),
        }
    }

    /// A record at the top of the document now, or as it was at `heads` (what a change found
    /// when it was made, for the audit of a peer's changes).
    pub(crate) fn get_json_at<T: serde::de::DeserializeOwned>(
        &self,
        key: &'static str,
        heads: Option<&[ChangeHash]>,
    ) -> Result<Option<T>, DocError> {
        let value = match heads {
            Some(h) => self.am.get_at(ROOT, key, h),
            None => self.am.get(ROOT, key),
        };
        match value.map_err(Self::field_err)? {
            Some((automerge::Value::Scalar(s), _)) => match s.as_str() {
                Some(text) => serde_json::from_str(text).map(Some).map_err(Self::field_err),
                None => Err(DocError::Missing { doc: self.id, field: key }),
            },
            _ => Ok(None),
        }
    }

    /// A map inside `parent`, if there is one.
    pub(crate) fn map_in(&self, parent: &ObjId, key: &str) -> Result<Option<ObjId>, DocError> {
        Ok(match self.am.get(parent, key).map_err(Self::field_err)? {
            Some((automerge::Value::Object(_), id)) => Some(id),
            _ => None,
        })
    }

    /// A record inside `parent`; an error if the field holds something other than text.
    pub(crate) fn json_in<T: serde::de::DeserializeOwned>(&self, parent: &ObjId, key: &str) -> Result<Option<T>, DocError> {
        match self.am.get(parent, key).map_err(Self::field_err)? {
            Some((automerge::Value::Scalar(s), _)) => match s.as_str() {
                Some(text) => serde_json::from_str(text).map(Some).map_err(Self::field_err),
                None => Err(Self::field_err(format!("{key} is not text"))),
            },
            _ => Ok(None),
        }
    }

    /// A number inside `parent`.
    pub(crate) fn i64_in(&self, parent: &ObjId, key: &str) -> Result<Option<i64>, DocError> {
        match self.am.get(parent, key).map_err(Self::field_err)? {
            Some((automerge::Value::Scalar(s), _)) => Ok(s.as_i64()),
            _ => Ok(None),
        }
    }

    /// Every record of a map, with its key, in one pass (a lookup per key costs far more on a
    /// large count session).
    pub(crate) fn json_values<T: serde::de::DeserializeOwned>(&self, map: &ObjId) -> Result<Vec<(String, T)>, DocError> {
        self.am
            .map_range(map, ..)
            .map(|item| {
                let value = automerge::Value::from(item.value);
                let text = text_of(value).ok_or_else(|| Self::field_err(format!("{} is not text", item.key)))?;
                Ok((item.key.to_string(), serde_json::from_str(&text).map_err(Self::field_err)?))
            })
            .collect()
    }

    pub(crate) fn put_json<T: serde::Serialize>(&mut self, key: &str, value: &T) -> Result<(), DocError> {
        self.put_text(key, &json(value))
    }

    /// Writes a record in a shared map (the last writer wins: for facts one person owns, such
    /// as a manager's approval).
    pub(crate) fn put_entry<T: serde::Serialize>(&mut self, section: &'static str, key: &str, value: &T) -> Result<(), DocError> {
        let map = self.root_map(section)?;
        self.am.put(&map, key, json(value)).map_err(Self::field_err)?;
        Ok(())
    }

    /// Every record of a shared map, by key.
    pub(crate) fn entries<T: serde::de::DeserializeOwned>(&self, section: &'static str) -> Result<BTreeMap<String, T>, DocError> {
        let map = self.root_map(section)?;
        self.am
            .map_range(&map, ..)
            .map(|item| {
                let text = text_of(automerge::Value::from(item.value)).ok_or_else(|| Self::field_err("record is not text"))?;
                Ok((item.key.to_string(), serde_json::from_str(&text).map_err(Self::field_err)?))
            })
            .collect()
    }

    /// Writes a record in this device's own map under `section`.
    pub(crate) fn put_own<T: serde::Serialize>(
        &mut self,
        section: &'static str,
        device: crate::ids::DeviceId,
        key: &str,
        value: &T,
    ) -> Result<(), DocError> {
        let map = self.root_map(section)?;
        let dkey = device.to_string();
        let inner = match self.am.get(&map, dkey.as_str()).map_err(Self::field_err)? {
            Some((automerge::Value::Object(_), id)) => id,
            _ => self.am.put_object(&map, dkey.as_str(), automerge::ObjType::Map).map_err(Self::field_err)?,
        };
        self.am.put(&inner, key, json(value)).map_err(Self::field_err)?;
        Ok(())
    }

    /// The records every device wrote under `key` in `section` (one lookup per device).
    pub(crate) fn own_entries<T: serde::de::DeserializeOwned>(&self, section: &'static str, key: &str) -> Result<Vec<T>, DocError> {
        let map = self.root_map(section)?;
        let mut out = Vec::new();
        for device in self.am.keys(&map).collect::<Vec<_>>() {
            let Some((automerge::Value::Object(_), inner)) = self.am.get(&map, device.as_str()).map_err(Self::field_err)? else {
                continue;
            };
            if let Some((value, _)) = self.am.get(&inner, key).map_err(Self::field_err)? {
                let text = text_of(value).ok_or_else(|| Self::field_err("record is not text"))?;
                out.push(serde_json::from_str(&text).map_err(Self::field_err)?);
            }
        }
        Ok(out)
    }

    /// The keys any device wrote in `section`, without reading the records.
    pub(crate) fn own_keys(&self, section: &'static str) -> Result<std::collections::BTreeSet<String>, DocError> {
        let map = self.root_map(section)?;
        let mut out = std::collections::BTreeSet::new();
        for device in self.am.keys(&map).collect::<Vec<_>>() {
            if let Some((automerge::Value::Object(_), inner)) = self.am.get(&map, device.as_str()).map_err(Self::field_err)? {
                out.extend(self.am.keys(&inner));
            }
        }
        Ok(out)
    }

    /// Every record of `section` from every device, by key (a key two devices wrote has two).
    pub(crate) fn all_own<T: serde::de::DeserializeOwned>(&self, section: &'static str) -> Result<BTreeMap<String, Vec<T>>, DocError> {
        let map = self.root_map(section)?;
        let mut out: BTreeMap<String, Vec<T>> = BTreeMap::new();
        for device in self.am.keys(&map).collect::<Vec<_>>() {
            let Some((automerge::Value::Object(_), inner)) = self.am.get(&map, device.as_str()).map_err(Self::field_err)? else {
                continue;
            };
            for item in self.am.map_range(&inner, ..) {
                let text = text_of(automerge::Value::from(item.value)).ok_or_else(|| Self::field_err("record is not text"))?;
                out.entry(item.key.to_string()).or_default().push(serde_json::from_str(&text).map_err(Self::field_err)?);
            }
        }
        Ok(out)
    }
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

pub(crate) fn text_of(value: automerge::Value<'_>) -> Option<String> {
    value.as_scalar().and_then(|s| s.as_str()).map(str::to_string)
}
