package com.custody.app.state

import com.custody.core.types.DeviceIdentity
import com.custody.core.types.SignedInUser
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

/**
 * Which screen is in front. Nothing but enrolment is reachable before the device is enrolled,
 * nothing but sign-in before someone signs in, and only the screens of the person's role after.
 */
class Navigator {
    private val _screen = MutableStateFlow(Screen.SIGN_IN)
    val screen: StateFlow<Screen> = _screen

    @Volatile
    var user: SignedInUser? = null
        private set

    /** Core's answer for the person signed in: may they see the state submissions screen. */
    @Volatile
    var stateSubmissions: Boolean = false

    /** At start and after enrolment or sign-in/out: the screen the device's state calls for. */
    fun start(identity: DeviceIdentity?, user: SignedInUser?) {
        this.user = user
        _screen.value = when {
            identity == null -> Screen.ENROL
            user == null -> Screen.SIGN_IN
            else -> Screen.HOME
        }
    }

    /** Opens [screen] if this person's home shows it; returns whether it did. */
    fun open(screen: Screen): Boolean {
        val who = user ?: return false
        val allowed = screen == Screen.HOME || screen in HomeModel.screensFor(who.role) || (screen == Screen.STATE && stateSubmissions)
        if (!allowed) return false
        _screen.value = screen
        return true
    }

    /** Back: to home from a work screen; nowhere from home or sign-in (the app stays open). */
    fun back(): Boolean {
        if (_screen.value in setOf(Screen.HOME, Screen.SIGN_IN, Screen.ENROL)) return false
        _screen.value = Screen.HOME
        return true
    }

    fun signedOut() {
        user = null
        stateSubmissions = false
        _screen.value = Screen.SIGN_IN
    }
}

/** Hands each scan to the screen in front; a scan where nothing takes one says so. */
class ScanRouter(private val navigator: Navigator, private val targets: Map<Screen, ScanTarget>) {
    fun route(scan: Scan): Feedback {
        val target = targets[navigator.screen.value]
            ?: return Feedback.red("Nothing to scan on this screen; open Receive, Pick & pack, Count or Returns first.")
        return target.onScan(scan)
    }
}
