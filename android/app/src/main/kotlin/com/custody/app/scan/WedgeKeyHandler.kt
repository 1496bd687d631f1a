package com.custody.app.scan

import android.view.InputDevice
import android.view.KeyCharacterMap
import android.view.KeyEvent
import com.custody.app.state.ScanInput

/**
 * Keyboard-wedge scanner sleeves (and Bluetooth ring scanners) type the barcode as hardware key
 * presses ending with Enter or Tab. MainActivity hands every key event here first; the characters
 * of physical keyboards go to [ScanInput] (which decides when a scan is complete) and are not
 * passed on, so a scan never lands half in a text field. The on-screen keyboard is not a hardware
 * keyboard: typing in fields works as usual.
 */
class WedgeKeyHandler(
    private val input: ScanInput,
    private val onResult: (ScanInput.Result) -> Unit,
) {
    @Suppress("DEPRECATION") // ACTION_MULTIPLE and characters: still what some sleeves send
    fun onKeyEvent(event: KeyEvent): Boolean {
        if (!fromHardwareKeyboard(event)) return false
        if (event.action == KeyEvent.ACTION_MULTIPLE && event.keyCode == KeyEvent.KEYCODE_UNKNOWN) {
            // Some sleeves send a whole string in one event.
            event.characters?.forEach { feed(it, event.eventTime) }
            return true
        }
        val c = charOf(event) ?: return false
        if (event.action == KeyEvent.ACTION_DOWN) feed(c, event.eventTime)
        return true // the matching key-up is ours too
    }

    /** The screen changed: a half-typed scan belongs to nobody. */
    fun reset() = input.reset()

    private fun feed(c: Char, at: Long) {
        val result = input.onChar(c, at)
        if (result != ScanInput.Result.Pending) onResult(result)
    }

    private fun charOf(event: KeyEvent): Char? = when (event.keyCode) {
        KeyEvent.KEYCODE_ENTER, KeyEvent.KEYCODE_NUMPAD_ENTER -> '\n'
        KeyEvent.KEYCODE_TAB -> '\t'
        else -> {
            val u = event.unicodeChar
            if (u == 0 || (u and KeyCharacterMap.COMBINING_ACCENT) != 0) null else u.toChar()
        }
    }

    private fun fromHardwareKeyboard(event: KeyEvent): Boolean =
        event.deviceId != KeyCharacterMap.VIRTUAL_KEYBOARD &&
            (event.source and InputDevice.SOURCE_KEYBOARD) == InputDevice.SOURCE_KEYBOARD &&
            event.device?.isVirtual != true
}
