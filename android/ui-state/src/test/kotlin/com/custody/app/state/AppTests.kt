package com.custody.app.state

import com.custody.core.ChangeKind
import com.custody.core.types.CustodyException
import com.custody.core.types.DeviceIdentity
import com.custody.core.types.Role
import com.custody.core.types.SignedInUser
import java.security.SecureRandom
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue

/** The Keystore's part, in software: AES-256-GCM with a key that "stays inside". */
private class SoftwareWrapper : KeyWrapper {
    var key: SecretKey? = KeyGenerator.getInstance("AES").apply { init(256) }.generateKey()

    override fun wrap(plain: ByteArray): Pair<ByteArray, ByteArray> {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.ENCRYPT_MODE, key)
        return cipher.iv to cipher.doFinal(plain)
    }

    override fun unwrap(iv: ByteArray, wrapped: ByteArray): ByteArray {
        val cipher = Cipher.getInstance("AES/GCM/NoPadding")
        cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, iv))
        return cipher.doFinal(wrapped)
    }

    override fun exists() = key != null
}

private class MemoryBlobs : BlobStore {
    var bytes: ByteArray? = null
    override fun read() = bytes
    override fun write(bytes: ByteArray) {
        this.bytes = bytes.copyOf()
    }
}

fun appTests() = "app" to Tests("navigation, keys, background sync").apply {
    val identity = DeviceIdentity("device-1", "C11-0000001-LIC", "Green Valley Distribution", "https://custody.example.com")
    val floor = SignedInUser("u1", "Maria Floor", Role.FLOOR_STAFF)

    test("enrol first, then sign in, then home; only the role's screens open") {
        val nav = Navigator()
        nav.start(null, null)
        assertEquals(Screen.ENROL, nav.screen.value)
        assertFalse(nav.open(Screen.COUNT), "nothing opens before sign-in")
        nav.start(identity, null)
        assertEquals(Screen.SIGN_IN, nav.screen.value)
        nav.start(identity, floor)
        assertEquals(Screen.HOME, nav.screen.value)
        assertFalse(nav.open(Screen.APPROVALS))
        assertTrue(nav.open(Screen.COUNT))
        assertTrue(nav.back())
        assertEquals(Screen.HOME, nav.screen.value)
        assertFalse(nav.back())
        nav.signedOut()
        assertEquals(Screen.SIGN_IN, nav.screen.value)
    }

    test("scans go to the screen in front; where none is taken, it says so") {
        val nav = Navigator().apply { start(identity, floor) }
        val heard = mutableListOf<String>()
        val router = ScanRouter(nav, mapOf(Screen.COUNT to ScanTarget { heard += it.text; Feedback.green("ok") }))
        assertEquals(Signal.RED, router.route(Scan("x", ScanSource.WEDGE)).signal)
        nav.open(Screen.COUNT)
        assertTrue(router.route(Scan("LOC:A", ScanSource.DATAWEDGE)).isGreen)
        assertEquals(listOf("LOC:A"), heard)
    }

    test("the store key: made once, random, 32 bytes, kept only wrapped, the same on every start") {
        val wrapper = SoftwareWrapper()
        val blobs = MemoryBlobs()
        val vault = StoreKeyVault(wrapper, blobs, SecureRandom())
        val key = vault.storeKey(storeExists = false)
        assertEquals(32, key.size)
        val blob = blobs.bytes!!
        assertFalse(blob.toList().windowed(32).any { it == key.toList() }, "the key is never stored in the clear")
        assertContentEquals(key, vault.storeKey(storeExists = true))
        assertContentEquals(key, StoreKeyVault(wrapper, blobs).storeKey(storeExists = true))
        assertNotEquals(key.toList(), StoreKeyVault(SoftwareWrapper(), MemoryBlobs()).storeKey(false).toList())
    }

    test("the store key: a lost key or a reset keystore is an error, never a new key in silence") {
        val wrapper = SoftwareWrapper()
        val blobs = MemoryBlobs()
        assertFailsWith<StoreKeyException> { StoreKeyVault(wrapper, blobs).storeKey(storeExists = true) }
        StoreKeyVault(wrapper, blobs).storeKey(storeExists = false)
        val saved = blobs.bytes!!.copyOf()
        blobs.bytes = saved.copyOf().also { it[it.size - 1] = (it[it.size - 1] + 1).toByte() }
        assertFailsWith<StoreKeyException> { StoreKeyVault(wrapper, blobs).storeKey(storeExists = true) }
        blobs.bytes = saved
        wrapper.key = null
        val reset = assertFailsWith<StoreKeyException> { StoreKeyVault(wrapper, blobs).storeKey(storeExists = true) }
        assertTrue(reset.message!!.contains("keystore was reset"))
        assertFailsWith<StoreKeyException> { StoreKeyVault.decode(byteArrayOf(9, 1, 2)) }
    }

    test("background sync: retry when offline, stop when refused, nothing to do before enrolment") {
        assertEquals(WorkOutcome.SUCCESS, BackgroundSync.outcome(null))
        assertEquals(WorkOutcome.RETRY, BackgroundSync.outcome(CustodyException.Offline("no connection")))
        assertEquals(WorkOutcome.RETRY, BackgroundSync.outcome(CustodyException.Server("502")))
        assertEquals(WorkOutcome.FAILURE, BackgroundSync.outcome(CustodyException.Unauthorized("this device was revoked")))
        assertEquals(WorkOutcome.FAILURE, BackgroundSync.outcome(CustodyException.Storage("disk I/O error")))
        assertEquals(WorkOutcome.SUCCESS, BackgroundSync.outcome(CustodyException.NotEnrolled("not enrolled")))
        assertTrue(BackgroundSync.syncSoonAfter(ChangeKind.COUNT_SESSIONS))
        assertFalse(BackgroundSync.syncSoonAfter(ChangeKind.SIGN_IN))
    }
}
