//! The device store (SQLite).
