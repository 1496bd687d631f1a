//! Receiving against the inbound manifest. In progress: the manifest import and the receiving
//! session (scan-verify from several phones: matched, unexpected, scanned twice, missing) are
//! here; certificates of analysis, weighing, the accept/reject decision and the ledger events
//! come next.

pub mod coa;
pub mod inbox;
pub mod manifest;
pub mod session;
