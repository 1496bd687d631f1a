//! The one error the apps see, `CustodyError`: defined in core (`custody_core::ffi`, feature
//! `uniffi`) with the variant each of core's errors maps to, so that a value that fails to lift
//! (a bad tag or amount inside a record) comes back as `InvalidInput` with core's sentence too.
//!
//! Kotlin: `com.custody.core.types.CustodyException.InvalidInput` etc. (`e.message` is the
//! sentence); Swift: `CustodyError.InvalidInput(message:)`.

pub use custody_core::ffi::CustodyError;
