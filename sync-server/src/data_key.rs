//! The data key: seals patient data at rest and derives the server's signing key.

use std::path::Path;

use custody_core::outbound::patient::DataKey;

use crate::db::DbError;

/// The file in the data folder holding the data key when `CUSTODY_DATA_KEY` is not set.
pub const DATA_KEY_FILE: &str = "patient-data.key";

/// The key patient data is sealed under: `CUSTODY_DATA_KEY` (64 hex digits, e.g. from a secret
/// manager) or a key file created once in the data folder, readable by the owner only.
///
/// Read by the caller that opens the store (`lib.rs`, `main.rs`) and handed to
/// [`Db::open`](crate::db::Db::open): the store does not decide where secrets come from.
pub fn load(data_dir: &Path) -> Result<DataKey, DbError> {
    // The folder may not exist yet (a first start); owner-only like the database beside it.
    custody_core::files::private_dir(data_dir).map_err(|source| DbError::DataDir { path: data_dir.to_path_buf(), source })?;
    if let Ok(hex) = std::env::var("CUSTODY_DATA_KEY") {
        return DataKey::from_hex(&hex).map_err(|e| DbError::InvalidInput(format!("CUSTODY_DATA_KEY: {e}")));
    }
    let path = data_dir.join(DATA_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            // A key file left readable by others (copied in, an older version) is made owner-only.
            custody_core::files::private_file(&path).map_err(|source| DbError::DataDir { path: path.clone(), source })?;
            DataKey::from_hex(&text).map_err(|e| DbError::InvalidInput(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = DataKey::generate();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            use std::io::Write;
            let mut file = options.open(&path).map_err(|source| DbError::DataDir { path: path.clone(), source })?;
            file.write_all(key.to_hex().as_bytes())
                .and_then(|_| file.sync_all())
                .map_err(|source| DbError::DataDir { path: path.clone(), source })?;
            tracing::info!(path = %path.display(), "created the patient data key; back it up with the database");
            Ok(key)
        }
        Err(source) => Err(DbError::DataDir { path, source }),
    }
}
