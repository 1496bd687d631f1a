//! custody-ffi: the uniffi layer over custody-core for the Android and iOS apps.
//!
//! It converts types and nothing else; every rule lives in custody-core. The full surface
//! (`CustodyClient`, async `sync_now`, listeners) arrives with the bindings work; this crate
//! already builds as cdylib + staticlib so the app build pipelines can be wired against it.

uniffi::setup_scaffolding!();

/// The one error the apps see, with a message a floor worker can act on.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CustodyError {
    #[error("{message}")]
    InvalidInput { message: String },
}

/// Normalises scanner text into a Metrc package tag, or says what is wrong with it.
#[uniffi::export]
pub fn normalize_package_tag(raw: String) -> Result<String, CustodyError> {
    custody_core::PackageTag::parse(&raw)
        .map(|t| t.to_string())
        .map_err(|e| CustodyError::InvalidInput { message: e.to_string() })
}

/// The core library's version, for the app's about screen and support requests.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_cross_as_strings_and_errors_keep_their_message() {
        assert_eq!(normalize_package_tag("1a4ff0100000022000001234\r\n".into()).unwrap(), "1A4FF0100000022000001234");
        let CustodyError::InvalidInput { message } = normalize_package_tag("1A4".into()).unwrap_err();
        assert!(message.contains("exactly 24"), "{message}");
    }
}
