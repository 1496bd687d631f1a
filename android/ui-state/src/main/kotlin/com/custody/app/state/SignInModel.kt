package com.custody.app.state

import com.custody.core.types.CustodyException
import com.custody.core.types.DeviceIdentity
import com.custody.core.types.SignedInUser
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

enum class SignInStep { BADGE, PIN, SIGNED_IN }

/**
 * How the sign-in under way is checked, for what the screen says while it waits: with the key
 * this phone holds for the person (the PIN opens it, no network needed), or with the server (the
 * first sign-in of this person on this phone, or after a PIN reset or too many wrong PINs, when
 * the phone holds no key for them: core asks the server, which registers a new one).
 */
enum class SignInCheck { ON_PHONE, WITH_SERVER }

data class SignInState(
    val step: SignInStep = SignInStep.BADGE,
    val badge: String = "",
    /** One dot per digit typed; the PIN itself never leaves the model. */
    val pinDots: Int = 0,
    val user: SignedInUser? = null,
    /** What to do now, as a sentence. */
    val prompt: String = "Scan your badge",
    /** Why the last try failed (core's words), shown in red until the next try. */
    val error: String? = null,
    /** The device is not enrolled: show the enrolment screen instead. */
    val needsEnrolment: Boolean = false,
    /** A check is running (the pad and OK wait for it), and how; null when nothing runs. */
    val checking: SignInCheck? = null,
    /**
     * The last try had to reach the server and could not (core's `Offline`; [error] says why in
     * core's words): the screen shows how to connect, and the person tries again once connected.
     */
    val needsNetwork: Boolean = false,
) {
    val busy: Boolean get() = checking != null
}

/**
 * Sign-in on a shared handheld: scan the badge (or type it), then enter the PIN. Core checks them:
 * the first time a person signs in on this phone it goes online (the server checks badge and PIN
 * and registers a signing key for them here); after that the PIN opens that key on the phone,
 * offline. Nobody stays signed in across an app restart (the opened key lives only in memory),
 * and a sync can sign the person out (deactivated, or their PIN was reset): [checkSession].
 * A new badge scan at any time starts over with that badge: the next person has stepped up.
 */
class SignInModel(private val api: CustodyApi) : ScanTarget {
    private val _state = MutableStateFlow(SignInState())
    val state: StateFlow<SignInState> = _state
    private val pin = StringBuilder()

    /** At start: who is signed in already, and whether the device is enrolled. */
    fun load() {
        try {
            if (api.identity() == null) {
                _state.value = SignInState(needsEnrolment = true, prompt = "Enrol this device first")
                return
            }
            val user = api.currentUser()
            _state.value = if (user != null) signedIn(user) else SignInState()
        } catch (e: Exception) {
            _state.value = SignInState(error = errorText(e))
        }
    }

    /**
     * After core reports a sign-in change (a sync signs out a person who was deactivated or whose
     * PIN was reset): if the person shown as signed in is no longer, back to the badge step.
     * Returns whether they were signed out, so the app leaves the work screens.
     */
    fun checkSession(): Boolean {
        val s = _state.value
        if (s.step != SignInStep.SIGNED_IN) return false
        val now = try {
            api.currentUser()
        } catch (e: Exception) {
            return false
        }
        if (now != null && now.id == s.user?.id) return false
        pin.setLength(0)
        if (now != null) {
            _state.value = signedIn(now)
            return false
        }
        _state.value = SignInState(prompt = "${s.user?.name ?: "You"} signed out at the last sync; scan your badge to sign in again")
        return true
    }

    /** A scanned badge: always starts a fresh sign-in with it. */
    override fun onScan(scan: Scan): Feedback {
        val badge = scan.text.trim { it.isWhitespace() || it.isISOControl() }
        if (badge.isEmpty()) return Feedback.red("The badge scan was empty; scan it again.")
        val s = _state.value
        if (s.busy) return Feedback.red("Still checking badge ${s.badge}; wait a moment, then scan again.")
        if (s.step == SignInStep.SIGNED_IN) {
            return Feedback.red("${s.user?.name ?: "Someone"} is signed in; sign out first.")
        }
        startPin(badge)
        return Feedback.green("Badge $badge: enter your PIN")
    }

    /** A badge typed by hand (a damaged badge), confirmed with the button. */
    fun enterBadge(typed: String): Feedback? {
        if (_state.value.busy) return null
        val badge = typed.trim()
        if (badge.isEmpty()) {
            _state.value = _state.value.copy(error = "Type the badge number, or scan the badge.")
            return null
        }
        startPin(badge)
        return null
    }

    fun pinDigit(d: Char) {
        val s = _state.value
        if (!d.isDigit() || s.step != SignInStep.PIN || s.busy || pin.length >= MAX_PIN) return
        pin.append(d)
        _state.value = s.copy(pinDots = pin.length, error = null)
    }

    fun pinBackspace() {
        if (_state.value.busy) return
        if (pin.isNotEmpty()) pin.setLength(pin.length - 1)
        _state.value = _state.value.copy(pinDots = pin.length)
    }

    /** Back to the badge step (wrong badge scanned). */
    fun restart() {
        if (_state.value.busy) return
        pin.setLength(0)
        _state.value = SignInState(needsEnrolment = _state.value.needsEnrolment)
    }

    /**
     * Checks badge and PIN with core: green with the person's name, or red with core's reason.
     * While core checks, [SignInState.checking] says how (on the phone, or with the server the
     * first time), and the pad waits. Null (nothing to show) when a check is already running.
     */
    suspend fun submit(): Feedback? {
        val s = _state.value
        if (s.busy) return null
        if (s.step != SignInStep.PIN || s.badge.isEmpty()) {
            return fail("Scan your badge first.")
        }
        if (pin.isEmpty()) return fail("Enter your PIN.")
        // The PIN leaves the model once, for this call; the pad starts empty whatever comes back.
        val typed = pin.toString()
        pin.setLength(0)
        val check = if (signsInHere(s.badge)) SignInCheck.ON_PHONE else SignInCheck.WITH_SERVER
        _state.value = s.copy(pinDots = 0, error = null, needsNetwork = false, checking = check, prompt = checkingPrompt(check))
        return try {
            val user = api.signIn(s.badge, typed)
            _state.value = signedIn(user)
            Feedback.green("Signed in: ${user.name}")
        } catch (e: CustodyException.NotEnrolled) {
            _state.value = SignInState(needsEnrolment = true, prompt = "Enrol this device first", error = errorText(e))
            Feedback.error(e)
        } catch (e: CustodyException.Offline) {
            // This person's key must come from the server and the phone cannot reach it: core's
            // sentence says why; keep the badge so they only re-enter the PIN once connected.
            _state.value = s.copy(
                pinDots = 0,
                error = errorText(e),
                needsNetwork = true,
                checking = null,
                prompt = "Connect this phone to the network (Wi-Fi or mobile data), then enter your PIN again",
            )
            Feedback.error(e)
        } catch (e: Exception) {
            // Wrong badge or PIN (core says how many tries are left), or the server says to wait:
            // keep the badge, the PIN is cleared, let them try again.
            _state.value = s.copy(
                pinDots = 0,
                error = errorText(e),
                needsNetwork = false,
                checking = null,
                prompt = "Enter your PIN, or scan your badge again",
            )
            Feedback.error(e)
        }
    }

    fun signOut(): Feedback {
        return try {
            api.signOut()
            pin.setLength(0)
            _state.value = SignInState(needsEnrolment = _state.value.needsEnrolment)
            Feedback.green("Signed out")
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
            Feedback.error(e)
        }
    }

    /** After enrolment: back to the badge step. */
    fun enrolled() {
        pin.setLength(0)
        _state.value = SignInState()
    }

    /** Whether core says this phone holds the badge's key (else core will ask the server). */
    private fun signsInHere(badge: String): Boolean = try {
        api.people().any { it.badge == badge && it.signsInHere }
    } catch (e: Exception) {
        false
    }

    private fun startPin(badge: String) {
        pin.setLength(0)
        _state.value = SignInState(step = SignInStep.PIN, badge = badge, prompt = "Enter your PIN")
    }

    private fun signedIn(user: SignedInUser) =
        SignInState(step = SignInStep.SIGNED_IN, badge = "", user = user, prompt = "Signed in as ${user.name}")

    private fun fail(message: String): Feedback {
        _state.value = _state.value.copy(error = message)
        return Feedback.red(message)
    }

    companion object {
        const val MAX_PIN = 12

        fun checkingPrompt(check: SignInCheck) = when (check) {
            SignInCheck.ON_PHONE -> "Checking your PIN…"
            SignInCheck.WITH_SERVER -> "Checking your badge and PIN with the server…"
        }
    }
}

data class EnrolState(
    val serverUrl: String = "",
    val code: String = "",
    val deviceName: String = "",
    val busy: Boolean = false,
    val error: String? = null,
    val identity: DeviceIdentity? = null,
)

/** Enrols the device once with the one-time code a manager issued (needs the network, once). */
class EnrolModel(private val api: CustodyApi) : ScanTarget {
    private val _state = MutableStateFlow(EnrolState())
    val state: StateFlow<EnrolState> = _state

    fun edit(serverUrl: String? = null, code: String? = null, deviceName: String? = null) {
        val s = _state.value
        _state.value = s.copy(
            serverUrl = serverUrl ?: s.serverUrl,
            code = code ?: s.code,
            deviceName = deviceName ?: s.deviceName,
            error = null,
        )
    }

    /** A scanned code (printed on the manager's screen as a barcode) fills the code field. */
    override fun onScan(scan: Scan): Feedback {
        val text = scan.text.trim()
        if (text.startsWith("http://", ignoreCase = true) || text.startsWith("https://", ignoreCase = true)) {
            edit(serverUrl = text)
            return Feedback.green("Server: $text")
        }
        edit(code = text)
        return Feedback.green("Enrolment code scanned")
    }

    suspend fun enrol(): Feedback {
        val s = _state.value
        val missing = listOfNotNull(
            "the server address".takeIf { s.serverUrl.isBlank() },
            "the enrolment code".takeIf { s.code.isBlank() },
            "a name for this device".takeIf { s.deviceName.isBlank() },
        )
        if (missing.isNotEmpty()) {
            val message = "Enter ${missing.joinToString(", ")}."
            _state.value = s.copy(error = message)
            return Feedback.red(message)
        }
        _state.value = s.copy(busy = true, error = null)
        return try {
            val identity = api.enrol(s.serverUrl.trim(), s.code.trim(), s.deviceName.trim())
            _state.value = _state.value.copy(busy = false, identity = identity, code = "")
            Feedback.green("Enrolled at ${identity.facilityName}")
        } catch (e: Exception) {
            _state.value = _state.value.copy(busy = false, error = errorText(e))
            Feedback.error(e)
        }
    }
}
