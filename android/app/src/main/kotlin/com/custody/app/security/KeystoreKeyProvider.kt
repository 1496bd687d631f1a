package com.custody.app.security

import android.content.Context
import android.os.Build
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import com.custody.app.state.BlobStore
import com.custody.app.state.KeyWrapper
import com.custody.app.state.StoreKeyVault
import java.io.File
import java.security.KeyStore
import java.security.ProviderException
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * The device store's encryption key. A random 32-byte key is made once (StoreKeyVault, tested on
 * the JVM in :ui-state), wrapped with AES-256-GCM by a key that lives in the AndroidKeyStore
 * (hardware-backed; StrongBox where the phone has it) and never leaves it, and the wrapped bytes
 * are kept in `noBackupFilesDir/custody-store.key`: app-private, never backed up. Uninstalling the
 * app or clearing its data destroys both, and with them any way to read the store.
 *
 * The keystore key does not require the screen lock (setUserAuthenticationRequired is off): the
 * background sync must open the store while a shared handheld sits locked in its cradle.
 */
class KeystoreKeyProvider(context: Context, private val alias: String = DEFAULT_ALIAS) {
    private val file = File(context.noBackupFilesDir, "custody-store.key")

    private val wrapper = object : KeyWrapper {
        override fun wrap(plain: ByteArray): Pair<ByteArray, ByteArray> {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, keystoreKey() ?: createKeystoreKey())
            return cipher.iv to cipher.doFinal(plain)
        }

        override fun unwrap(iv: ByteArray, wrapped: ByteArray): ByteArray {
            val key = keystoreKey() ?: error("no keystore key $alias")
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, key, GCMParameterSpec(128, iv))
            return cipher.doFinal(wrapped)
        }

        override fun exists(): Boolean = keystoreKey() != null
    }

    private val blobs = object : BlobStore {
        override fun read(): ByteArray? = file.takeIf { it.exists() }?.readBytes()

        override fun write(bytes: ByteArray) {
            val tmp = File(file.parentFile, file.name + ".tmp")
            tmp.outputStream().use { out ->
                out.write(bytes)
                out.fd.sync()
            }
            check(tmp.renameTo(file)) { "cannot save the store key" }
        }
    }

    /** The 32-byte store key; [storeExists] says whether a store was already made with one. */
    fun storeKey(storeExists: Boolean): ByteArray = StoreKeyVault(wrapper, blobs).storeKey(storeExists)

    private fun keystoreKey(): SecretKey? {
        val ks = KeyStore.getInstance(ANDROID_KEYSTORE).apply { load(null) }
        return (ks.getEntry(alias, null) as? KeyStore.SecretKeyEntry)?.secretKey
    }

    private fun createKeystoreKey(): SecretKey {
        fun spec(strongBox: Boolean) = KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
            .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
            .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
            .setKeySize(256)
            .setRandomizedEncryptionRequired(true)
            .apply { if (strongBox && Build.VERSION.SDK_INT >= 28) setIsStrongBoxBacked(true) }
            .build()

        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, ANDROID_KEYSTORE)
        if (Build.VERSION.SDK_INT >= 28) {
            try {
                generator.init(spec(strongBox = true))
                return generator.generateKey()
            } catch (e: ProviderException) {
                // StrongBoxUnavailableException (API 28, a ProviderException): no StrongBox chip,
                // so the TEE-backed keystore below.
            }
        }
        generator.init(spec(strongBox = false))
        return generator.generateKey()
    }

    companion object {
        const val DEFAULT_ALIAS = "custody.store-key-wrapper"
        private const val ANDROID_KEYSTORE = "AndroidKeyStore"
        private const val TRANSFORMATION = "AES/GCM/NoPadding"
    }
}
