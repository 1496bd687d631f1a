package com.custody.app.scan

import android.content.Context
import android.media.AudioManager
import android.media.ToneGenerator
import android.os.Build
import android.os.VibrationEffect
import android.os.Vibrator
import android.os.VibratorManager
import com.custody.app.state.Feedback
import com.custody.app.state.Sound

/** Plays what a [Feedback] decided: a beep or an error tone, and the buzz pattern. */
class FeedbackPlayer(context: Context) {
    private val tones: ToneGenerator? = runCatching { ToneGenerator(AudioManager.STREAM_NOTIFICATION, 90) }.getOrNull()

    private val vibrator: Vibrator? = if (Build.VERSION.SDK_INT >= 31) {
        context.getSystemService(VibratorManager::class.java)?.defaultVibrator
    } else {
        @Suppress("DEPRECATION")
        context.getSystemService(Vibrator::class.java)
    }

    fun play(feedback: Feedback) {
        feedback.sound?.let { sound ->
            val tone = when (sound) {
                Sound.BEEP -> ToneGenerator.TONE_PROP_BEEP
                Sound.BUZZ -> ToneGenerator.TONE_SUP_ERROR
            }
            tones?.startTone(tone, feedback.soundMillis)
        }
        val pattern = feedback.vibration ?: return
        val v = vibrator ?: return
        if (v.hasVibrator()) v.vibrate(VibrationEffect.createWaveform(pattern.toLongArray(), -1))
    }
}
