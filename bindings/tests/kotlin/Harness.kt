// The smallest test runner that does the job: named steps, a closing line CI can read
// ("N passed, N failed"), and a non-zero exit on any failure. No Gradle or JUnit here.
package com.custody.tests

import com.custody.core.ChangeKind
import com.custody.core.ChangeListener
import com.custody.core.CustodyClient
import com.custody.core.SyncListener
import com.custody.core.SyncReport
import com.custody.core.types.SignedInUser
import com.custody.core.types.SyncStatus
import java.nio.file.Path
import java.security.SecureRandom
import java.util.concurrent.CopyOnWriteArrayList
import kotlinx.coroutines.runBlocking

class Runner {
    private var passed = 0
    private var failed = 0
    private var broken = false

    /** A step of a scenario: after a failed step the rest of that scenario is reported, not run. */
    fun step(name: String, body: () -> Unit) {
        if (broken) {
            failed++
            println("SKIP  $name (an earlier step failed)")
            return
        }
        val started = System.nanoTime()
        try {
            body()
            passed++
            println("ok    $name (${(System.nanoTime() - started) / 1_000_000} ms)")
        } catch (t: Throwable) {
            failed++
            broken = true
            println("FAIL  $name")
            t.printStackTrace(System.out)
        }
    }

    /** Starts a new, independent scenario. */
    fun scenario(name: String) {
        broken = false
        println("== $name")
    }

    fun finish(): Int {
        println("$passed passed, $failed failed")
        return if (failed == 0 && passed > 0) 0 else 1
    }
}

/** What a phone's listeners heard. */
class Heard : SyncListener, ChangeListener {
    val statuses = CopyOnWriteArrayList<SyncStatus>()
    val changes = CopyOnWriteArrayList<ChangeKind>()

    override fun onStatus(status: SyncStatus) {
        statuses += status
    }

    override fun onChange(what: ChangeKind) {
        changes += what
    }
}

/** The PEM of the authority behind the test server's certificate (CUSTODY_SERVER_CA), if any. */
fun serverAuthority(): String? = System.getenv("CUSTODY_SERVER_CA")?.takeIf { it.isNotEmpty() }?.let { java.io.File(it).readText() }

/** One simulated phone: a real device store in its own file, behind the generated bindings. */
class Phone(
    val name: String,
    private val dir: Path,
    // What the apps do: a random 32-byte store key kept in the Android Keystore / iOS Keychain.
    val storeKey: ByteArray = ByteArray(32).also { SecureRandom().nextBytes(it) },
) {
    val client = CustodyClient(dir.resolve("$name.db").toString(), storeKey)
    val heard = Heard()

    init {
        // The test server's certificate comes from a throwaway authority (tests/test-server.sh).
        serverAuthority()?.let { client.trustServerAuthority(it) }
        client.setSyncListener(heard)
        client.setChangeListener(heard)
    }

    fun sync(): SyncReport = runBlocking { client.syncNow() }

    /** Badge and PIN: online the first time this person signs in on this phone, offline after. */
    fun signIn(badge: String, pin: String): SignedInUser = runBlocking { client.signIn(badge, pin) }

    /** The app restarted: the same store file and key in a new client (nobody is signed in). */
    fun restart(): Phone {
        client.close()
        return Phone(name, dir, storeKey)
    }
}

fun env(name: String): String = System.getenv(name) ?: error("$name is not set; run this through bindings/tests/run-kotlin.sh")
