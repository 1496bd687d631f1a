//! The people of a facility as a device knows them: the roster entry (who may sign in, with the
//! public keys they registered), the person signed in now, and the actor a work document names
//! for who did something. One definition each, used by the store, the documents and the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, UserId};
use crate::roles::Role;
use crate::signing::PublicKey;

/// A person who may sign in on the facility's devices: who they are and the public keys they
/// registered (one per device they signed in on), never anything that would let a device check
/// or guess a PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterEntry {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    /// The badge barcode they scan to sign in.
    pub badge: String,
    pub active: bool,
    /// Every key this person registered, revoked ones included: what they signed before a PIN
    /// reset or a new sign-in still verifies, but only an active key signs anything new.
    #[serde(default)]
    pub keys: Vec<RegisteredKey>,
}

impl RosterEntry {
    /// The key this person may sign new work with on `device`.
    pub fn active_key(&self, device: DeviceId) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.device == device && k.active).map(|k| &k.key)
    }

    /// Whether `key` was ever registered to this person on `device` (what a pulled event or change
    /// the server accepted must have been signed with).
    pub fn registered(&self, device: DeviceId, key: impl Fn(&PublicKey) -> bool) -> bool {
        self.keys.iter().any(|k| k.device == device && key(&k.key))
    }
}

/// A public key a person registered on one device at an online sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredKey {
    pub device: DeviceId,
    pub key: PublicKey,
    /// False once revoked: the person signed in on that device again, their PIN was reset, or the
    /// device was revoked.
    pub active: bool,
}

/// The person signed in on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SignedInUser {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

/// Who did something, for the audit trail of a work document: the person, on which device, and
/// when by the device's corrected clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "Person"))]
pub struct Actor {
    #[cfg_attr(feature = "uniffi", uniffi(name = "user_id"))]
    pub user: UserId,
    pub name: String,
    #[cfg_attr(feature = "uniffi", uniffi(name = "device_id"))]
    pub device: DeviceId,
    pub at: DateTime<Utc>,
}
