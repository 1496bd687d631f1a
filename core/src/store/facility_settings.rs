//! The facility's settings as the server last sent them (issue 13 point 6): kept whole in the
//! `meta` table, replaced whole in the transaction that applies the sync (like the state's data,
//! `state_data.rs`: one small document read whole), and read by the workflows through the
//! functions here, which apply the one precedence rule of `crate::settings::chosen` (the state's
//! lists win over the facility's, which win over the built-in defaults).
//!
//! Phones do not change settings: the server does (its CLI). Until the first sync that carries
//! them, the reads answer core's defaults.

use rusqlite::Connection;

use super::{Result, Store, get_meta, set_meta};
use crate::ids::LocationName;
use crate::protocol::SyncResponse;
use crate::settings::{FacilitySettings, chosen};
use crate::work::adjustment::{AdjustmentReason, default_reasons};

/// The facility's settings as last sent (`FacilitySettings`, JSON).
const META_SETTINGS: &str = "facility_settings";

/// Keeps the settings the sync answer carries, inside the transaction that applies it.
/// `settings: None` keeps what the device holds (the server sends them only when they changed).
pub(super) fn keep(conn: &Connection, response: &SyncResponse) -> Result<()> {
    if let Some(settings) = &response.settings {
        set_meta(conn, META_SETTINGS, settings)?;
    }
    Ok(())
}

/// The facility's settings as the server last sent them, or core's defaults before then.
pub(crate) fn settings_in(conn: &Connection) -> Result<FacilitySettings> {
    Ok(get_meta(conn, META_SETTINGS)?.unwrap_or_default())
}

/// The facility's settings, as of the unit of work.
pub fn facility_settings(w: &super::UnitOfWork<'_>) -> Result<FacilitySettings> {
    settings_in(w.conn())
}

/// The adjustment reasons a request is checked against: the state's list, else the facility's,
/// else the built-in one.
pub fn adjustment_reasons(w: &super::UnitOfWork<'_>) -> Result<Vec<AdjustmentReason>> {
    let state = super::state_data::data_in(w.conn())?.map(|d| d.reference.adjustment_reasons).unwrap_or_default();
    Ok(chosen(state, settings_in(w.conn())?.adjustment_reasons, default_reasons))
}

/// Item name -> product category, for counts scoped by category: the state's items when it sent
/// them, else the facility's settings (none built in).
pub fn item_categories(w: &super::UnitOfWork<'_>) -> Result<Vec<(String, String)>> {
    let state = super::state_data::data_in(w.conn())?
        .map(|d| d.reference.items.into_iter().map(|i| (i.name.as_str().to_string(), i.category)).collect())
        .unwrap_or_default();
    Ok(chosen(state, settings_in(w.conn())?.item_categories.into_iter().collect(), Vec::new))
}

/// The facility's locations where packages may be placed, for the move and putaway pick lists:
/// the state's when it sent them, else the facility's settings.
pub fn locations(w: &super::UnitOfWork<'_>) -> Result<Vec<LocationName>> {
    let state = super::state_data::data_in(w.conn())?
        .map(|d| d.reference.locations.into_iter().filter(|l| l.for_packages).map(|l| l.name).collect())
        .unwrap_or_default();
    Ok(chosen(state, settings_in(w.conn())?.locations, Vec::new))
}

impl Store {
    /// The revision of the facility's settings this device holds, sent with each sync (0 for none).
    pub fn settings_revision(&self) -> Result<u64> {
        Ok(settings_in(&self.conn())?.revision)
    }
}

/// Gives a phone settings without a server, as a sync that carries them would (core's tests).
#[cfg(test)]
pub(crate) fn keep_for_test(store: &Store, settings: &FacilitySettings) -> Result<()> {
    store.work(|w| set_meta(w.conn(), META_SETTINGS, settings))
}
