//! Receiving: the inbound manifest (from a file or the state's inbox), the session several
//! phones scan, check, weigh and decide in, its completion into stock, and the opening balance.

pub mod coa;
pub mod inbox;
pub mod manifest;
pub mod opening;
pub mod session;
