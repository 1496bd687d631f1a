//! Who may do what. The same table is applied by the device before it records an event and by
//! the server before it accepts one, so a phone cannot be talked into recording what the server
//! would refuse.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::event::EventKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Role {
    FloorStaff,
    Driver,
    Manager,
    Compliance,
    Admin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a role; use floor_staff, driver, manager, compliance or admin")]
pub struct UnknownRole(pub String);

impl Role {
    pub const ALL: [Role; 5] = [Role::FloorStaff, Role::Driver, Role::Manager, Role::Compliance, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::FloorStaff => "floor_staff",
            Role::Driver => "driver",
            Role::Manager => "manager",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        }
    }

    /// Whether a person in this role handles the facility's submissions to the state: sees the
    /// failed queue (package tags and the state's messages) and resubmits or dismisses a write.
    /// Managers and compliance officers answer to the state for the licence; admins run devices
    /// and accounts, not stock. The server (what it sends, who may resolve) and the phone (what
    /// it shows) both ask this.
    pub fn handles_state_submissions(self) -> bool {
        matches!(self, Role::Manager | Role::Compliance)
    }

    /// Whether a person in this role may record an event of this kind.
    ///
    /// Adjustments and destruction change the legal quantity, so only managers (and compliance,
    /// for destruction) record them. Admins run devices and accounts, not stock: keeping them out
    /// of the ledger separates who configures the system from who moves product.
    pub fn may_record(self, kind: EventKind) -> bool {
        use EventKind::*;
        use Role::*;
        match self {
            Admin => false,
            Manager => true,
            FloorStaff => matches!(kind, Received | Moved | Quarantined | Picked | Shipped | Returned | Split),
            Driver => matches!(kind, Delivered | Returned | Moved | Shipped),
            Compliance => matches!(kind, Quarantined | Released | Destroyed),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::FloorStaff => "floor staff",
            Role::Driver => "driver",
            Role::Manager => "manager",
            Role::Compliance => "compliance",
            Role::Admin => "admin",
        })
    }
}

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim().to_ascii_lowercase().replace([' ', '-'], "_"))
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_staff_cannot_adjust_or_destroy() {
        assert!(Role::FloorStaff.may_record(EventKind::Received));
        assert!(!Role::FloorStaff.may_record(EventKind::Adjusted));
        assert!(!Role::FloorStaff.may_record(EventKind::Destroyed));
        assert!(Role::Manager.may_record(EventKind::Adjusted));
        assert!(!Role::Admin.may_record(EventKind::Moved));
        assert_eq!("Floor Staff".parse::<Role>().unwrap(), Role::FloorStaff);
        assert!("boss".parse::<Role>().is_err());
    }
}
