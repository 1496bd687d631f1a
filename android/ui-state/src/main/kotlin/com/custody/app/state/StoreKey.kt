package com.custody.app.state

import java.security.SecureRandom

/**
 * Encrypts and decrypts small secrets with a key that never leaves secure hardware. On Android:
 * an AES-256-GCM key in the AndroidKeyStore (app/.../KeystoreKeyProvider.kt); in tests, a
 * software AES key.
 */
interface KeyWrapper {
    /** Returns the IV chosen for this encryption and the ciphertext (with its GCM tag). */
    fun wrap(plain: ByteArray): Pair<ByteArray, ByteArray>

    fun unwrap(iv: ByteArray, wrapped: ByteArray): ByteArray

    /** Whether the wrapping key exists (false after a factory reset of the keystore). */
    fun exists(): Boolean
}

/** Where the wrapped key is kept: a file in app-private, never-backed-up storage. */
interface BlobStore {
    fun read(): ByteArray?

    /** Replaces the blob in one step (write to a temporary file, then rename). */
    fun write(bytes: ByteArray)
}

class StoreKeyException(message: String) : Exception(message)

/**
 * The device store's 32-byte encryption key: random, made once, kept only wrapped by the
 * keystore key. The file layout is `1 | ivLength | iv | ciphertext`.
 *
 * A key is made only when there is no wrapped key yet AND no store yet: if the store exists but
 * its key is gone or unreadable (the keystore was reset), a new random key would not open it, so
 * that is an error to show (call support; the device re-enrols with a fresh store), never a new
 * key in silence.
 */
class StoreKeyVault(
    private val wrapper: KeyWrapper,
    private val blobs: BlobStore,
    private val random: SecureRandom = SecureRandom(),
) {
    fun storeKey(storeExists: Boolean): ByteArray {
        val blob = blobs.read()
        if (blob == null) {
            if (storeExists) {
                throw StoreKeyException("The key of this device's database is missing; call support to reset the device.")
            }
            val key = ByteArray(KEY_BYTES).also(random::nextBytes)
            val (iv, wrapped) = wrapper.wrap(key)
            blobs.write(encode(iv, wrapped))
            return key
        }
        if (!wrapper.exists()) {
            throw StoreKeyException("This device's keystore was reset, so its database cannot be opened; call support to reset the device.")
        }
        val (iv, wrapped) = decode(blob)
        val key = try {
            wrapper.unwrap(iv, wrapped)
        } catch (e: Exception) {
            throw StoreKeyException("The key of this device's database cannot be read (${e.javaClass.simpleName}); call support.")
        }
        if (key.size != KEY_BYTES) throw StoreKeyException("The key of this device's database is damaged; call support.")
        return key
    }

    companion object {
        const val KEY_BYTES = 32
        private const val VERSION: Byte = 1

        fun encode(iv: ByteArray, wrapped: ByteArray): ByteArray {
            require(iv.size in 1..255)
            return byteArrayOf(VERSION, iv.size.toByte()) + iv + wrapped
        }

        fun decode(blob: ByteArray): Pair<ByteArray, ByteArray> {
            if (blob.size < 3 || blob[0] != VERSION) throw StoreKeyException("The key file of this device's database is damaged; call support.")
            val ivLength = blob[1].toInt() and 0xff
            if (ivLength == 0 || blob.size <= 2 + ivLength) throw StoreKeyException("The key file of this device's database is damaged; call support.")
            return blob.copyOfRange(2, 2 + ivLength) to blob.copyOfRange(2 + ivLength, blob.size)
        }
    }
}
