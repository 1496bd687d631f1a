package com.custody.app.state

/**
 * Shelf and bin labels printed for Custody read `LOC:` + the location's name, e.g.
 * `LOC:Vault A / Shelf 3` (core's scanner convention, core/src/scan.rs).
 *
 * Core's `parse_scan`, which knows this prefix, is not exported through the bindings yet; until it
 * is, screens tell a location label from a package tag with [locationOf] and leave every check of
 * the name and the tag to core.
 */
object Labels {
    const val LOCATION_PREFIX = "LOC:"

    /**
     * The location named by a scanned label, "" for a label with no name, or null if the text is
     * not a location label.
     */
    fun locationOf(scanned: String): String? {
        val text = scanned.trim { it.isWhitespace() || it.isISOControl() }
        if (!text.startsWith(LOCATION_PREFIX, ignoreCase = true)) return null
        return text.substring(LOCATION_PREFIX.length).trim()
    }

    const val EMPTY_LOCATION = "That location label has no name after LOC:; scan the shelf's label again."
}
