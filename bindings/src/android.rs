//! Android only: the sync client checks the server's certificate with Android's own verifier
//! (rustls-platform-verifier), which it reaches through JNI. The app calls
//! `CustodyTls.init(applicationContext)` once, before the first enrolment or sync
//! (android/app/.../CustodyTls.kt, called from `CustodyApplication.onCreate`); until then every
//! https connection fails. See android/README.md.
//!
//! Not compiled on this repository's CI (no Android target there): keep it to this one call.

use jni::EnvUnowned;
use jni::objects::{JClass, JObject};

/// `com.custody.app.CustodyTls.init(context: Context)` (a `@JvmStatic external fun`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_com_custody_app_CustodyTls_init<'local>(
    mut env: EnvUnowned<'local>,
    _class: JClass<'local>,
    context: JObject<'local>,
) {
    env.with_env(|env| -> jni::errors::Result<()> { rustls_platform_verifier::android::init_with_env(env, context) })
        .resolve::<jni::errors::ThrowRuntimeExAndDefault>()
}
