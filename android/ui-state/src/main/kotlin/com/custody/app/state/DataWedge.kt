package com.custody.app.state

/**
 * Reads a Zebra DataWedge "Intent output" broadcast. The Android receiver copies the intent's
 * action and extras into a map and calls [parse]; everything about which extras matter lives here.
 *
 * In the device's DataWedge profile for this app: Intent output on, delivery "Broadcast intent",
 * action = [action] (the app's default is [DEFAULT_ACTION]; it can be changed in the app's
 * settings to match a fleet's existing profile), Keystroke output off (or the scan arrives twice).
 */
class DataWedge(val action: String = DEFAULT_ACTION) {

    /** The scans in one broadcast; empty if it is not ours or carries no data. */
    fun parse(intentAction: String?, extras: Map<String, Any?>): List<Scan> {
        if (intentAction != action) return emptyList()
        val symbology = (extras[LABEL_TYPE] ?: extras[LEGACY_LABEL_TYPE]) as? String
        val text = (extras[DATA_STRING] ?: extras[LEGACY_DATA_STRING]) as? String
            ?: decodeData(extras[DECODE_DATA])
            ?: return emptyList()
        return ScanInput.onText(text, ScanSource.DATAWEDGE, symbology?.removePrefix("LABEL-TYPE-"))
    }

    /** `decode_data` is a list of byte arrays (the raw bytes of each segment). */
    private fun decodeData(value: Any?): String? {
        val parts = (value as? List<*>)?.filterIsInstance<ByteArray>() ?: return null
        if (parts.isEmpty()) return null
        return parts.joinToString("") { String(it, Charsets.ISO_8859_1) }
    }

    companion object {
        const val DEFAULT_ACTION = "com.custody.app.SCAN"

        // The extras DataWedge documents for its intent output.
        const val SOURCE = "com.symbol.datawedge.source"
        const val LABEL_TYPE = "com.symbol.datawedge.label_type"
        const val DATA_STRING = "com.symbol.datawedge.data_string"
        const val DECODE_DATA = "com.symbol.datawedge.decode_data"

        // The names older (Motorola-era) DataWedge versions use.
        const val LEGACY_LABEL_TYPE = "com.motorolasolutions.emdk.datawedge.label_type"
        const val LEGACY_DATA_STRING = "com.motorolasolutions.emdk.datawedge.data_string"

        /** Every extra [parse] reads: the receiver copies these from the intent. */
        val EXTRAS = listOf(SOURCE, LABEL_TYPE, DATA_STRING, DECODE_DATA, LEGACY_LABEL_TYPE, LEGACY_DATA_STRING)
    }
}
