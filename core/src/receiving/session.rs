//! The receiving session on a phone: open it for a manifest, scan tags against it (several
//! phones at once, offline), and see what is matched, unexpected, scanned twice and missing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::manifest::{InboundManifest, ManifestError};
use crate::ids::{LocationName, PackageTag};
use crate::roles::Role;
use crate::scan::{Scan, ScanError, parse_scan};
use crate::store::{Store, StoreError};
use crate::work::receiving::{self as doc, ReceivingScan};
use crate::work::{DocError, DocKind};

#[derive(Debug, thiserror::Error)]
pub enum ReceivingError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{0}")]
    Scan(#[from] ScanError),
    #[error("that is not a package tag; scan the package's Metrc tag")]
    NotATag,
    #[error("there is no receiving session {0} on this device; sync, or open it for the manifest")]
    UnknownSession(Uuid),
    #[error("{role} may not receive packages")]
    NotAllowed { role: Role },
    #[error("manifest {0} is already being received on this device")]
    AlreadyOpen(String),
    #[error("this receiving session is completed")]
    Completed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DocError> for ReceivingError {
    fn from(e: DocError) -> Self {
        ReceivingError::Store(StoreError::Doc(e))
    }
}

pub type Result<T, E = ReceivingError> = std::result::Result<T, E>;

/// The answer to one scan, for the green or red panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivingVerdict {
    /// On the manifest and not scanned before: green.
    Matched { tag: PackageTag, item: String },
    /// Not on this manifest: red, set it aside (recorded so the session lists it).
    Unexpected { tag: PackageTag },
    /// Already scanned: red, with who and when.
    Duplicate { tag: PackageTag, by: String, at: DateTime<Utc> },
}

impl ReceivingVerdict {
    /// The sentence the phone shows.
    pub fn message(&self) -> String {
        match self {
            ReceivingVerdict::Matched { tag, item } => format!("{tag}: {item}"),
            ReceivingVerdict::Unexpected { tag } => format!("{tag} is not on this manifest; set it aside"),
            ReceivingVerdict::Duplicate { tag, by, at } => {
                format!("{tag} was already scanned by {by} at {}", at.format("%H:%M"))
            }
        }
    }
}

/// Where a session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivingProgress {
    pub manifest: InboundManifest,
    pub matched: Vec<PackageTag>,
    pub unexpected: Vec<PackageTag>,
    /// Scanned more than once (on one phone or several), with every scan.
    pub scanned_twice: BTreeMap<PackageTag, Vec<ReceivingScan>>,
    pub missing: Vec<PackageTag>,
}

impl Store {
    fn receiver(&self) -> Result<crate::store::SignedInUser> {
        let user = self.current_user()?.ok_or(StoreError::NotSignedIn)?;
        if !DocKind::Receiving.may_create(user.role) {
            return Err(ReceivingError::NotAllowed { role: user.role });
        }
        Ok(user)
    }

    /// Imports a manifest file (refused if addressed to another licence) and opens its session.
    pub fn open_receiving(&self, manifest_json: &str) -> Result<Uuid> {
        self.receiver()?;
        let identity = self.identity()?.ok_or(StoreError::NotEnrolled)?;
        let manifest = InboundManifest::import(manifest_json, &identity.facility)?;
        for info in self.docs(Some(DocKind::Receiving))? {
            let number = self.read_doc::<_, ReceivingError>(info.id, |d| Ok(doc::manifest(d)?.manifest_number))?;
            if number.as_deref() == Some(manifest.manifest_number.as_str()) {
                return Err(ReceivingError::AlreadyOpen(manifest.manifest_number));
            }
        }
        let id = Uuid::now_v7();
        let session = doc::create(id, identity.facility, identity.device_id.0, &manifest);
        self.work(|w| {
            w.create(session);
            Ok::<_, ReceivingError>(())
        })?;
        Ok(id)
    }

    /// Scans a package against the manifest: matched, unexpected or already scanned.
    pub fn receiving_scan(&self, session: Uuid, raw: &str, at: &LocationName) -> Result<ReceivingVerdict> {
        let user = self.receiver()?;
        let Scan::Package(tag) = parse_scan(raw)? else { return Err(ReceivingError::NotATag) };
        let device = self.identity()?.ok_or(StoreError::NotEnrolled)?.device_id;
        self.work(|w| {
            let d = w.doc(session)?.ok_or(ReceivingError::UnknownSession(session))?;
            if doc::completed(d)? {
                return Err(ReceivingError::Completed);
            }
            if let Some(first) = doc::first_scan(d, &tag)? {
                return Ok(ReceivingVerdict::Duplicate { tag, by: first.user_name, at: first.at });
            }
            let manifest = doc::manifest(d)?;
            let on = manifest.package(&tag).map(|p| p.item_name.to_string());
            let scan = ReceivingScan {
                tag: tag.clone(),
                user: user.id,
                user_name: user.name.clone(),
                device,
                at: Utc::now(),
                location: at.clone(),
                on_manifest: on.is_some(),
            };
            doc::record(d, &scan)?;
            Ok(match on {
                Some(item) => ReceivingVerdict::Matched { tag, item },
                None => ReceivingVerdict::Unexpected { tag },
            })
        })
    }

    /// What is matched, unexpected, scanned twice and still missing, as this phone knows it.
    pub fn receiving_progress(&self, session: Uuid) -> Result<ReceivingProgress> {
        self.read_doc::<_, ReceivingError>(session, |d| {
            let manifest = doc::manifest(d)?;
            let scans = doc::scans(d)?;
            let mut progress = ReceivingProgress {
                matched: Vec::new(),
                unexpected: Vec::new(),
                scanned_twice: BTreeMap::new(),
                missing: Vec::new(),
                manifest,
            };
            for (tag, list) in &scans {
                if progress.manifest.package(tag).is_some() {
                    progress.matched.push(tag.clone());
                } else {
                    progress.unexpected.push(tag.clone());
                }
                if list.len() > 1 {
                    progress.scanned_twice.insert(tag.clone(), list.clone());
                }
            }
            progress.missing =
                progress.manifest.packages.iter().map(|p| p.tag.clone()).filter(|t| !scans.contains_key(t)).collect();
            Ok(progress)
        })?
        .ok_or(ReceivingError::UnknownSession(session))
    }
}
