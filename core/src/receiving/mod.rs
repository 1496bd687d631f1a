//! Receiving against the inbound manifest. In progress: the manifest import is here; the
//! receiving session, certificates of analysis, weighing and the decision come next.

pub mod manifest;
