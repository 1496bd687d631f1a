package com.custody.app.state

import com.custody.core.types.Role
import com.custody.core.types.SignedInUser

/** A screen that takes scans: the app hands every scan to the screen in front. */
fun interface ScanTarget {
    fun onScan(scan: Scan): Feedback
}

/** The app's screens. */
enum class Screen { ENROL, SIGN_IN, HOME, RECEIVE, PICK, COUNT, RETURNS, APPROVALS, CONFLICTS, ROUTE, SYNC, STATE }

/** One tile on the home screen. */
data class Tile(val screen: Screen, val title: String, val subtitle: String, val badge: String? = null)

data class HomeState(
    val greeting: String,
    val role: String,
    val tiles: List<Tile>,
    /** Work for this role that is not on the phone yet (shown as a note, not a tile). */
    val notYetHere: String? = null,
)

/**
 * What each role sees on the home screen. This only chooses which doors to show; core still
 * decides every action behind them (a floor worker who reached the approvals screen some other
 * way would still be refused by core).
 *
 * - floor staff: receive, pick & pack, count, returns (check-in at the vault), sync
 * - manager: receive, pick & pack, count, returns, approvals, conflicts, routes (the office's view of
 *   deliveries; core lets managers confirm stops too), sync
 * - compliance: count, approvals (to follow the requests; core lets managers decide), sync
 * - driver: their route, sync (packages come back through the vault's returns, which core lets
 *   only floor staff and managers check in)
 * - admin: sync (admins run devices and accounts, not stock)
 */
object HomeModel {
    fun screensFor(role: Role): List<Screen> = when (role) {
        Role.FLOOR_STAFF -> listOf(Screen.RECEIVE, Screen.PICK, Screen.COUNT, Screen.RETURNS, Screen.SYNC)
        Role.MANAGER -> listOf(Screen.RECEIVE, Screen.PICK, Screen.COUNT, Screen.RETURNS, Screen.APPROVALS, Screen.CONFLICTS, Screen.ROUTE, Screen.SYNC)
        Role.COMPLIANCE -> listOf(Screen.COUNT, Screen.APPROVALS, Screen.SYNC)
        Role.DRIVER -> listOf(Screen.ROUTE, Screen.SYNC)
        Role.ADMIN -> listOf(Screen.SYNC)
    }

    fun roleName(role: Role): String = when (role) {
        Role.FLOOR_STAFF -> "Floor staff"
        Role.DRIVER -> "Driver"
        Role.MANAGER -> "Manager"
        Role.COMPLIANCE -> "Compliance"
        Role.ADMIN -> "Admin"
    }

    /**
     * The home screen for [user]; [pendingApprovals], [returnsDue] and [sync] put counts on the
     * tiles (null when not known yet).
     */
    fun home(
        user: SignedInUser,
        pendingApprovals: Int? = null,
        sync: SyncStatusState? = null,
        returnsDue: Int? = null,
        stateSubmissions: StateSubmissionsState? = null,
    ): HomeState {
        // The state submissions tile: only when core said this person may see it (the model's
        // `visible`), never from the role here.
        val screens = screensFor(user.role) + listOfNotNull(Screen.STATE.takeIf { stateSubmissions?.visible == true })
        val tiles = screens.map { screen ->
            when (screen) {
                Screen.RECEIVE -> Tile(screen, "Receive", "Scan packages into intake")
                Screen.PICK -> Tile(screen, "Pick & pack", "Pick lists, containers, final check")
                Screen.COUNT -> Tile(screen, "Count", "Blind cycle counts")
                Screen.RETURNS -> Tile(
                    screen,
                    "Returns",
                    "Check in packages back from the trucks",
                    badge = returnsDue?.takeIf { it > 0 }?.toString(),
                )
                Screen.ROUTE -> Tile(
                    screen,
                    if (user.role == Role.DRIVER) "My route" else "Routes",
                    if (user.role == Role.DRIVER) "Departure and each stop's delivery" else "Manifests and deliveries, stop by stop",
                )
                Screen.APPROVALS -> Tile(
                    screen,
                    "Approvals",
                    "Adjustment requests",
                    badge = pendingApprovals?.takeIf { it > 0 }?.toString(),
                )
                Screen.CONFLICTS -> Tile(screen, "Conflicts", "What the ledger could not reconcile, for a decision")
                Screen.SYNC -> Tile(
                    screen,
                    "Sync",
                    sync?.connection ?: "Status and pending changes",
                    badge = sync?.pending?.takeIf { it > 0 }?.toString() ?: if (sync?.attention == true) "!" else null,
                )
                Screen.STATE -> Tile(
                    screen,
                    "State submissions",
                    stateSubmissions?.stopped ?: "Failed writes and the outbox to the state",
                    badge = stateSubmissions?.failed?.size?.takeIf { it > 0 }?.toString()
                        ?: if (stateSubmissions?.stopped != null) "!" else null,
                )
                else -> Tile(screen, screen.name, "")
            }
        }
        return HomeState(
            greeting = "Hello, ${user.name}",
            role = roleName(user.role),
            tiles = tiles,
            notYetHere = when (user.role) {
                Role.ADMIN -> "Devices and accounts are managed on the server."
                else -> null
            },
        )
    }
}
