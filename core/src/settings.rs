//! A facility's settings, kept on the server and delivered to its phones at sync (issue 13
//! point 6): the scales in the receiving bay with their calibration due dates, the potency
//! tolerance, the item categories counts are scoped by, the facility's locations and the
//! adjustment reasons. The server changes them (its CLI, later a console); phones only read them.
//!
//! The rules are here once, pure: what a change may say (the server's CLI checks every change
//! with [`FacilitySettings::apply`] before it keeps it), when a scale may weigh
//! ([`Scale::usable_on`]), and which list wins when the state's system sends its own
//! ([`chosen`]): the state refuses what is not on its own lists, so its adjustment reasons and its
//! items' categories win over the facility's; the built-in reasons are used only until one of
//! them sends a list (decisions 0020 and the settings-on-the-server record).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ids::{ItemName, LocationName};
use crate::text;
use crate::work::adjustment::AdjustmentReason;

/// The potency tolerance until the facility sets one: 2 percentage points of THC.
pub const DEFAULT_POTENCY_TOLERANCE: Decimal = Decimal::from_parts(20, 0, 0, false, 1);

/// The furthest ahead a calibration may be due: ten years (a date beyond is a typing slip).
pub const MAX_CALIBRATION_AHEAD_DAYS: i64 = 3650;

/// A scale in the receiving bay and the day its calibration is due. It may weigh up to and
/// including that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    pub name: String,
    pub calibration_due: NaiveDate,
}

impl Scale {
    /// Whether the scale may be used for weighing on `today` (the facility's day as the phone's
    /// corrected clock has it): not past its calibration due date.
    pub fn usable_on(&self, today: NaiveDate) -> bool {
        today <= self.calibration_due
    }
}

/// The facility's settings as the server keeps them and sends them (`SyncResponse.settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilitySettings {
    /// The server's counter for this facility, bumped by every change (0: never changed). The
    /// phone sends back the one it holds; the server sends the settings again only when it moved.
    pub revision: u64,
    pub scales: Vec<Scale>,
    /// How far a certificate's THC may differ from the manifest's, in percentage points.
    pub potency_tolerance: Decimal,
    /// Item name -> product category, for counts scoped by category.
    pub item_categories: BTreeMap<String, String>,
    /// The facility's locations, for the move and putaway screens' pick lists.
    pub locations: Vec<LocationName>,
    /// The facility's adjustment reasons; empty: the built-in ones.
    pub adjustment_reasons: Vec<AdjustmentReason>,
}

impl Default for FacilitySettings {
    fn default() -> Self {
        FacilitySettings {
            revision: 0,
            scales: Vec::new(),
            potency_tolerance: DEFAULT_POTENCY_TOLERANCE,
            item_categories: BTreeMap::new(),
            locations: Vec::new(),
            adjustment_reasons: Vec::new(),
        }
    }
}

/// One change an operator makes to a facility's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SettingsChange {
    /// Adds a scale, or gives a scale of that name a new due date (it was calibrated again).
    AddScale {
        name: String,
        calibration_due: NaiveDate,
    },
    RemoveScale {
        name: String,
    },
    PotencyTolerance(Decimal),
    SetCategory {
        item: String,
        category: String,
    },
    RemoveCategory {
        item: String,
    },
    AddLocation(String),
    RemoveLocation(String),
    /// Adds a reason, or changes whether a reason of that name requires a note.
    AddReason {
        name: String,
        requires_note: bool,
    },
    RemoveReason {
        name: String,
    },
}

impl std::fmt::Display for SettingsChange {
    /// The change in words, for the audit log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsChange::AddScale { name, calibration_due } => write!(f, "scale {name:?} calibration due {calibration_due}"),
            SettingsChange::RemoveScale { name } => write!(f, "scale {name:?} removed"),
            SettingsChange::PotencyTolerance(t) => write!(f, "potency tolerance {t} percentage points"),
            SettingsChange::SetCategory { item, category } => write!(f, "item {item:?} in category {category:?}"),
            SettingsChange::RemoveCategory { item } => write!(f, "item {item:?} category removed"),
            SettingsChange::AddLocation(name) => write!(f, "location {name:?} added"),
            SettingsChange::RemoveLocation(name) => write!(f, "location {name:?} removed"),
            SettingsChange::AddReason { name, requires_note } => {
                write!(f, "adjustment reason {name:?}{}", if *requires_note { " (requires a note)" } else { "" })
            }
            SettingsChange::RemoveReason { name } => write!(f, "adjustment reason {name:?} removed"),
        }
    }
}

/// Why a settings change was refused: a sentence the operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Text(#[from] text::TextError),
    #[error("{0}")]
    Bound(#[from] crate::bounds::BoundError),
    #[error("{0}")]
    Id(String),
    #[error("the calibration due date {due} is more than ten years ahead; check the date")]
    DueTooFar { due: NaiveDate },
    #[error("there is no {what} named {name:?} at this facility; `settings show` lists them")]
    NotFound { what: &'static str, name: String },
}

impl FacilitySettings {
    /// Applies one change, or refuses it and changes nothing. `today` is the server's day, for
    /// the sanity check of a due date. A due date already past is accepted: the scale is there,
    /// and core refuses it for weighing until it is calibrated.
    pub fn apply(&mut self, change: &SettingsChange, today: NaiveDate) -> Result<(), SettingsError> {
        match change {
            SettingsChange::AddScale { name, calibration_due } => {
                let name = text::clean_required(text::reference("scale name"), name)?;
                if (*calibration_due - today).num_days() > MAX_CALIBRATION_AHEAD_DAYS {
                    return Err(SettingsError::DueTooFar { due: *calibration_due });
                }
                match self.scales.iter_mut().find(|s| s.name == name) {
                    Some(s) => s.calibration_due = *calibration_due,
                    None => self.scales.push(Scale { name, calibration_due: *calibration_due }),
                }
            }
            SettingsChange::RemoveScale { name } => {
                let before = self.scales.len();
                self.scales.retain(|s| s.name != name.trim());
                if self.scales.len() == before {
                    return Err(SettingsError::NotFound { what: "scale", name: name.trim().to_string() });
                }
            }
            SettingsChange::PotencyTolerance(t) => {
                crate::bounds::check_percent("potency tolerance", *t)?;
                self.potency_tolerance = t.normalize();
            }
            SettingsChange::SetCategory { item, category } => {
                let item = ItemName::parse(item).map_err(|e| SettingsError::Id(e.to_string()))?;
                let category = text::clean_required(text::name("category"), category)?;
                self.item_categories.insert(item.as_str().to_string(), category);
            }
            SettingsChange::RemoveCategory { item } => {
                if self.item_categories.remove(item.trim()).is_none() {
                    return Err(SettingsError::NotFound { what: "item with a category", name: item.trim().to_string() });
                }
            }
            SettingsChange::AddLocation(name) => {
                let name = LocationName::parse(name).map_err(|e| SettingsError::Id(e.to_string()))?;
                if !self.locations.contains(&name) {
                    self.locations.push(name);
                }
            }
            SettingsChange::RemoveLocation(name) => {
                let before = self.locations.len();
                self.locations.retain(|l| l.as_str() != name.trim());
                if self.locations.len() == before {
                    return Err(SettingsError::NotFound { what: "location", name: name.trim().to_string() });
                }
            }
            SettingsChange::AddReason { name, requires_note } => {
                let name = text::clean_required(text::name("adjustment reason"), name)?;
                match self.adjustment_reasons.iter_mut().find(|r| r.name == name) {
                    Some(r) => r.requires_note = *requires_note,
                    None => self.adjustment_reasons.push(AdjustmentReason { name, requires_note: *requires_note }),
                }
            }
            SettingsChange::RemoveReason { name } => {
                let before = self.adjustment_reasons.len();
                self.adjustment_reasons.retain(|r| r.name != name.trim());
                if self.adjustment_reasons.len() == before {
                    return Err(SettingsError::NotFound { what: "adjustment reason", name: name.trim().to_string() });
                }
            }
        }
        Ok(())
    }
}

/// The one precedence rule for a list both the state's system and the facility's settings may
/// supply: the state's when it sent one (it refuses what is not on its own list), else the
/// facility's, else the built-in default. An empty list is one not supplied.
pub fn chosen<T>(state: Vec<T>, facility: Vec<T>, default: impl FnOnce() -> Vec<T>) -> Vec<T> {
    if !state.is_empty() {
        state
    } else if !facility.is_empty() {
        facility
    } else {
        default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_scale_weighs_through_its_due_date_and_not_a_day_after() {
        let s = Scale { name: "Bay 1".into(), calibration_due: day("2027-03-01") };
        assert!(s.usable_on(day("2027-03-01")));
        assert!(!s.usable_on(day("2027-03-02")));
    }

    #[test]
    fn changes_are_checked_and_a_refused_one_changes_nothing() {
        let today = day("2026-12-03");
        let mut s = FacilitySettings::default();
        s.apply(&SettingsChange::AddScale { name: " Vault scale 1 ".into(), calibration_due: day("2027-03-01") }, today).unwrap();
        s.apply(&SettingsChange::AddScale { name: "Vault scale 1".into(), calibration_due: day("2027-06-01") }, today).unwrap();
        assert_eq!(
            s.scales,
            vec![Scale { name: "Vault scale 1".into(), calibration_due: day("2027-06-01") }],
            "the same scale, recalibrated"
        );
        let before = s.clone();
        for (change, says) in [
            (SettingsChange::AddScale { name: "  ".into(), calibration_due: day("2027-03-01") }, "scale name"),
            (SettingsChange::AddScale { name: "Far".into(), calibration_due: day("2040-01-01") }, "more than ten years ahead"),
            (SettingsChange::PotencyTolerance(Decimal::new(-1, 1)), "negative"),
            (SettingsChange::PotencyTolerance(Decimal::new(1001, 1)), "potency tolerance"),
            (SettingsChange::SetCategory { item: "".into(), category: "Flower".into() }, "item"),
            (SettingsChange::SetCategory { item: "Gummies".into(), category: " ".into() }, "category"),
            (SettingsChange::AddLocation(" ".into()), "location"),
            (SettingsChange::AddReason { name: "".into(), requires_note: true }, "adjustment reason"),
            (SettingsChange::RemoveScale { name: "Nope".into() }, "no scale named \"Nope\""),
            (SettingsChange::RemoveLocation("Nope".into()), "no location named"),
            (SettingsChange::RemoveReason { name: "Nope".into() }, "no adjustment reason named"),
        ] {
            let err = s.apply(&change, today).unwrap_err().to_string();
            assert!(err.to_lowercase().contains(&says.to_lowercase()), "{change:?}: {err}");
            assert_eq!(s, before, "{change:?} changed nothing");
        }
        s.apply(&SettingsChange::PotencyTolerance(Decimal::new(250, 2)), today).unwrap();
        assert_eq!(s.potency_tolerance.to_string(), "2.5");
    }

    #[test]
    fn the_states_list_wins_then_the_facilitys_then_the_default() {
        let default = || vec!["built-in"];
        assert_eq!(chosen(vec!["state"], vec!["ours"], default), ["state"]);
        assert_eq!(chosen(vec![], vec!["ours"], default), ["ours"]);
        assert_eq!(chosen(Vec::<&str>::new(), vec![], default), ["built-in"]);
    }
}
