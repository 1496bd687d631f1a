package com.custody.app.state

import com.custody.core.types.CustodyException

/** The colour of the answer to a scan or an action. */
enum class Signal { GREEN, RED }

/** Which sound to play; the app maps it to a ToneGenerator tone. */
enum class Sound {
    /** A short high beep: matched, saved. */
    BEEP,

    /** A low, longer error tone: refused, look at the screen. */
    BUZZ,
}

/** What the person turned off on this device. */
data class FeedbackSettings(val sound: Boolean = true, val vibration: Boolean = true)

/**
 * The answer to one scan or action, decided here and played by the app: a green or red panel with
 * the message, a sound, and a vibration pattern (Android's `VibrationEffect.createWaveform`
 * timings: off, on, off, on... in milliseconds; null for none).
 *
 * [id] makes two equal answers in a row distinct, so the same refusal scanned twice buzzes twice.
 */
data class Feedback(
    val signal: Signal,
    val message: String,
    val sound: Sound?,
    val soundMillis: Int,
    val vibration: List<Long>?,
    val id: Long = nextId(),
) {
    val isGreen: Boolean get() = signal == Signal.GREEN

    /** This answer as the person's settings play it (the models decide with the defaults). */
    fun forSettings(settings: FeedbackSettings): Feedback = when (signal) {
        Signal.GREEN -> green(message, settings)
        Signal.RED -> red(message, settings)
    }.copy(id = id)

    companion object {
        private var counter = 0L

        @Synchronized
        private fun nextId(): Long = ++counter

        /** A match: a green tick and a short beep; no buzz (the hand feels only the errors). */
        fun green(message: String, settings: FeedbackSettings = FeedbackSettings()) = Feedback(
            signal = Signal.GREEN,
            message = message,
            sound = if (settings.sound) Sound.BEEP else null,
            soundMillis = 120,
            vibration = null,
        )

        /** Anything else: a red panel, an error tone and two buzzes, whatever the sound setting is. */
        fun red(message: String, settings: FeedbackSettings = FeedbackSettings()) = Feedback(
            signal = Signal.RED,
            message = message,
            sound = if (settings.sound) Sound.BUZZ else null,
            soundMillis = 400,
            // A red answer must be noticed even with the sound off in a loud vault.
            vibration = if (settings.vibration || !settings.sound) listOf(0L, 250L, 120L, 250L) else null,
        )

        /** Red with the reason: core's sentence for a [CustodyException], as it is. */
        fun error(e: Throwable, settings: FeedbackSettings = FeedbackSettings()) = red(errorText(e), settings)
    }
}

/**
 * The text shown for an error. Core writes its messages for the person holding the phone, so a
 * [CustodyException]'s message is shown unchanged; anything else is a bug in the app and says so.
 */
fun errorText(e: Throwable): String = when (e) {
    is CustodyException -> e.message?.takeIf { it.isNotBlank() } ?: (e::class.simpleName ?: "Error")
    else -> "Something went wrong in the app (${e::class.simpleName}: ${e.message}); call support."
}
