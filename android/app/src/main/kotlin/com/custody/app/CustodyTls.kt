package com.custody.app

import android.content.Context

/**
 * Lets the Rust sync client check the server's certificate with Android's own verifier
 * (rustls-platform-verifier reaches it through JNI). [init] must run once per process before
 * the first enrolment or sync: every https connection fails until it has. The native side is
 * bindings/src/android.rs.
 */
object CustodyTls {
    init {
        // uniffi loads the library through JNA; a JNI `external fun` needs it loaded here too.
        System.loadLibrary("custody_ffi")
    }

    @JvmStatic
    external fun init(context: Context)
}
