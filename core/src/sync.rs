//! The sync client.
