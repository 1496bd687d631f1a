package com.custody.app

import android.content.Context
import com.custody.app.state.DataWedge
import com.custody.app.state.FeedbackSettings

/** What a person or an administrator sets on this device (the Sync screen shows them). */
class AppSettings(context: Context) {
    private val prefs = context.getSharedPreferences("custody.settings", Context.MODE_PRIVATE)

    /** The intent action of the DataWedge profile's Intent output (fleets may have their own). */
    var dataWedgeAction: String
        get() = prefs.getString(KEY_ACTION, null)?.takeIf { it.isNotBlank() } ?: DataWedge.DEFAULT_ACTION
        set(value) = prefs.edit().putString(KEY_ACTION, value.trim()).apply()

    /** Where returned packages went last on this device: the Returns screen starts there. */
    var returnsLocation: String?
        get() = prefs.getString(KEY_RETURNS_LOCATION, null)?.takeIf { it.isNotBlank() }
        set(value) = prefs.edit().putString(KEY_RETURNS_LOCATION, value?.trim()).apply()

    var feedback: FeedbackSettings
        get() = FeedbackSettings(sound = prefs.getBoolean(KEY_SOUND, true), vibration = prefs.getBoolean(KEY_VIBRATION, true))
        set(value) = prefs.edit().putBoolean(KEY_SOUND, value.sound).putBoolean(KEY_VIBRATION, value.vibration).apply()

    private companion object {
        const val KEY_ACTION = "datawedge_action"
        const val KEY_SOUND = "sound"
        const val KEY_VIBRATION = "vibration"
        const val KEY_RETURNS_LOCATION = "returns_location"
    }
}
