package com.custody.app.state

import com.custody.core.CustodyException
import com.custody.core.DeviceIdentity
import com.custody.core.SignedInUser
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

enum class SignInStep { BADGE, PIN, SIGNED_IN }

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
)

/**
 * Sign-in on a shared handheld: scan the badge (or type it), then enter the PIN. Checked by core
 * offline against the roster from the last sync. A new badge scan at any time starts over with
 * that badge: the next person has stepped up.
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

    /** A scanned badge: always starts a fresh sign-in with it. */
    override fun onScan(scan: Scan): Feedback {
        val badge = scan.text.trim { it.isWhitespace() || it.isISOControl() }
        if (badge.isEmpty()) return Feedback.red("The badge scan was empty; scan it again.")
        if (_state.value.step == SignInStep.SIGNED_IN) {
            return Feedback.red("${_state.value.user?.name ?: "Someone"} is signed in; sign out first.")
        }
        startPin(badge)
        return Feedback.green("Badge $badge: enter your PIN")
    }

    /** A badge typed by hand (a damaged badge), confirmed with the button. */
    fun enterBadge(typed: String): Feedback? {
        val badge = typed.trim()
        if (badge.isEmpty()) {
            _state.value = _state.value.copy(error = "Type the badge number, or scan the badge.")
            return null
        }
        startPin(badge)
        return null
    }

    fun pinDigit(d: Char) {
        if (!d.isDigit() || _state.value.step != SignInStep.PIN || pin.length >= MAX_PIN) return
        pin.append(d)
        _state.value = _state.value.copy(pinDots = pin.length, error = null)
    }

    fun pinBackspace() {
        if (pin.isNotEmpty()) pin.setLength(pin.length - 1)
        _state.value = _state.value.copy(pinDots = pin.length)
    }

    /** Back to the badge step (wrong badge scanned). */
    fun restart() {
        pin.setLength(0)
        _state.value = SignInState(needsEnrolment = _state.value.needsEnrolment)
    }

    /** Checks badge and PIN; green with the person's name, or red with core's reason. */
    fun submit(): Feedback {
        val s = _state.value
        if (s.step != SignInStep.PIN || s.badge.isEmpty()) {
            return fail("Scan your badge first.")
        }
        if (pin.isEmpty()) return fail("Enter your PIN.")
        return try {
            val user = api.signIn(s.badge, pin.toString())
            pin.setLength(0)
            _state.value = signedIn(user)
            Feedback.green("Signed in: ${user.name}")
        } catch (e: CustodyException.NotEnrolled) {
            pin.setLength(0)
            _state.value = SignInState(needsEnrolment = true, prompt = "Enrol this device first", error = errorText(e))
            Feedback.error(e)
        } catch (e: Exception) {
            // Wrong badge or PIN: keep the badge, clear the PIN, let them try again.
            pin.setLength(0)
            _state.value = s.copy(pinDots = 0, error = errorText(e), prompt = "Enter your PIN, or scan your badge again")
            Feedback.error(e)
        }
    }

    fun signOut(): Feedback {
        return try {
            api.signOut()
            restart()
            Feedback.green("Signed out")
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
            Feedback.error(e)
        }
    }

    /** After enrolment: back to the badge step. */
    fun enrolled() {
        restart()
        _state.value = SignInState()
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
