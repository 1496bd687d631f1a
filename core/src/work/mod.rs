//! Work documents: the shared, editable state of one workflow instance (a count session, an
//! adjustment request), one Automerge document each, synced with Automerge's own protocol in the
//! same round trip as the ledger.
//!
//! Only this module and its typed submodules touch Automerge keys; the rest of the code sees Rust
//! types. A closed document's outcome enters the ledger as events.

pub mod adjustment;
pub mod audit;
pub mod count;
mod doc;
mod fields;
pub mod manifest;
pub mod order;
pub mod receiving;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::roles::Role;

pub use doc::{DocError, WorkDoc, Writer, decode_state, encode_state};

/// What a work document is for. Decides who may receive it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// A cycle count: scope, the packages in it (without quantities) and everyone's entries.
    CountSession,
    /// The manager's side of a count: the expected quantities (hidden from counters: the count is
    /// blind), the variances, discrepancies and investigations.
    CountReview,
    /// An adjustment request and its approval.
    Adjustment,
    /// The receipt of one inbound manifest: who scanned which package, where and when.
    Receiving,
    /// One dispensary order: lines, pick list, picks, packing, returns. Patient data only
    /// redacted.
    Order,
    /// One outbound manifest and its driver's route: stops, deliveries, refusals, returns.
    Manifest,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::CountSession => "count_session",
            DocKind::CountReview => "count_review",
            DocKind::Adjustment => "adjustment",
            DocKind::Receiving => "receiving",
            DocKind::Order => "order",
            DocKind::Manifest => "manifest",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [DocKind::CountSession, DocKind::CountReview, DocKind::Adjustment, DocKind::Receiving, DocKind::Order, DocKind::Manifest]
            .into_iter()
            .find(|k| k.as_str() == s)
    }

    /// Whether a person in `role` may receive documents of this kind on their device. A driver
    /// receives manifests, but only their own route (see [`DocKind::per_person`]).
    pub fn visible_to(self, role: Role) -> bool {
        match self {
            DocKind::CountSession | DocKind::Adjustment | DocKind::Receiving | DocKind::Order => {
                matches!(role, Role::FloorStaff | Role::Manager | Role::Compliance)
            }
            DocKind::CountReview => matches!(role, Role::Manager | Role::Compliance),
            DocKind::Manifest => matches!(role, Role::FloorStaff | Role::Manager | Role::Compliance | Role::Driver),
        }
    }

    /// Whether, for a person in `role`, a document of this kind is further limited to the one
    /// person it names (a driver sees only the route assigned to them).
    pub fn per_person(self, role: Role) -> bool {
        self == DocKind::Manifest && role == Role::Driver
    }

    /// Whether a person in `role` may start a document of this kind (the server refuses a new
    /// document from anyone else).
    pub fn may_create(self, role: Role) -> bool {
        self.visible_to(role)
            && match self {
                DocKind::CountSession | DocKind::CountReview | DocKind::Order | DocKind::Manifest => role == Role::Manager,
                DocKind::Adjustment | DocKind::Receiving => {
                    matches!(role, Role::FloorStaff | Role::Manager | Role::Compliance)
                }
            }
    }

    /// Whether a person in `role` may write the top-level field or section `key` of a document
    /// of this kind. A document's identity and the facts it was started with are written once,
    /// in its creation (`creating`), and never again by anyone; the adjustment's record of
    /// refused decisions is the server's alone.
    pub fn may_write(self, role: Role, key: &str, creating: bool) -> bool {
        use Role::*;
        let fixed: &[&str] = match self {
            DocKind::CountSession => &["info", "in_scope"],
            DocKind::CountReview => &["session", "expected"],
            DocKind::Adjustment => &["request", "requested_by", "refusals"],
            DocKind::Receiving => &["manifest", "on_manifest"],
            DocKind::Order => &["order"],
            DocKind::Manifest => &["manifest", "driver"],
        };
        if ["doc_id", "kind", "facility"].contains(&key) || fixed.contains(&key) {
            return creating;
        }
        let allowed: &[Role] = match (self, key) {
            (DocKind::CountSession, "entries" | "participants") => &[FloorStaff, Manager, Compliance],
            // Status, round, recount list, closing: the manager who runs the count.
            (DocKind::CountSession, _) => &[Manager],
            (DocKind::CountReview, _) => &[Manager, Compliance],
            (DocKind::Adjustment, "decision") => &[Manager],
            (DocKind::Adjustment, _) => &[],
            (DocKind::Receiving, _) => &[FloorStaff, Manager, Compliance],
            (DocKind::Order, "pick_list" | "pick_list_by" | "substitutes" | "cancelled") => &[Manager],
            (DocKind::Order, _) => &[FloorStaff, Manager],
            (DocKind::Manifest, "cancelled") => &[Manager],
            // The route itself: its driver (checked per person by the manifest's audit) or a manager.
            (DocKind::Manifest, "departed" | "stops" | "deliveries") => &[Driver, Manager],
            (DocKind::Manifest, _) => &[FloorStaff, Manager],
        };
        allowed.contains(&role)
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DocKind::CountSession => "count session",
            DocKind::CountReview => "count review",
            DocKind::Adjustment => "adjustment request",
            DocKind::Receiving => "receiving session",
            DocKind::Order => "order",
            DocKind::Manifest => "manifest",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_start_which_document() {
        assert!(DocKind::CountSession.may_create(Role::Manager));
        assert!(!DocKind::CountSession.may_create(Role::FloorStaff));
        assert!(!DocKind::CountReview.may_create(Role::Compliance));
        assert!(DocKind::Adjustment.may_create(Role::FloorStaff));
        assert!(DocKind::Receiving.may_create(Role::FloorStaff));
        assert!(!DocKind::Adjustment.may_create(Role::Driver));
        assert!(!DocKind::Receiving.may_create(Role::Admin));
        assert!(!DocKind::CountReview.visible_to(Role::FloorStaff));
        assert!(DocKind::Order.may_create(Role::Manager) && !DocKind::Order.may_create(Role::FloorStaff));
        assert!(!DocKind::Order.visible_to(Role::Driver), "orders may carry patient references; drivers get routes");
        assert!(DocKind::Manifest.visible_to(Role::Driver) && DocKind::Manifest.per_person(Role::Driver));
        assert!(!DocKind::Manifest.per_person(Role::Manager));
    }
}
