package com.custody.app

import android.content.Context
import com.custody.app.location.LocationGpsProvider
import com.custody.app.scan.FeedbackPlayer
import com.custody.app.security.KeystoreKeyProvider
import com.custody.app.state.ApprovalsModel
import com.custody.app.state.ConflictsModel
import com.custody.app.state.BackgroundSync
import com.custody.app.state.ClientApi
import com.custody.app.state.CountModel
import com.custody.app.state.EnrolModel
import com.custody.app.state.Feedback
import com.custody.app.state.HomeModel
import com.custody.app.state.InboxModel
import com.custody.app.state.Navigator
import com.custody.app.state.PickModel
import com.custody.app.state.ReceiveModel
import com.custody.app.state.StateSubmissionsModel
import com.custody.app.state.ReturnsModel
import com.custody.app.state.RouteModel
import com.custody.app.state.Scan
import com.custody.app.state.ScanRouter
import com.custody.app.state.Screen
import com.custody.app.state.SignInModel
import com.custody.app.state.SignInStep
import com.custody.app.state.SyncStatusModel
import com.custody.app.sync.SyncWorker
import com.custody.core.ChangeKind
import com.custody.core.ChangeListener
import com.custody.core.CustodyClient
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File

/**
 * Wires the app: the store key, the client, the screen models (all in :ui-state), the scan
 * router and the feedback player. Screens call [act] with a model method; it runs off the main
 * thread, one at a time and in order (so scans are handled in the order they were made), and the
 * answer it returns is shown and played.
 */
class AppContainer(private val context: Context) {
    val settings = AppSettings(context)

    private val dbFile: File = context.getDatabasePath("custody.db")

    /**
     * The store's 32-byte key, made on first start and kept wrapped by an AndroidKeyStore key
     * (KeystoreKeyProvider). Core opens the store with it and derives every secret it keeps at
     * rest from it (the patient-data seal, the wrapping of each person's signing key).
     */
    private val storeKey: ByteArray by lazy { KeystoreKeyProvider(context).storeKey(storeExists = dbFile.exists()) }

    val client: CustodyClient by lazy {
        check(storeKey.size == 32)
        dbFile.parentFile?.mkdirs()
        CustodyClient(dbFile.absolutePath, storeKey)
    }

    private val api by lazy { ClientApi(client) }

    @OptIn(ExperimentalCoroutinesApi::class)
    private val worker = Dispatchers.IO.limitedParallelism(1)
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Main.immediate)

    val navigator = Navigator()
    val sync by lazy { SyncStatusModel(api) }
    val enrol by lazy { EnrolModel(api) }
    val signIn by lazy { SignInModel(api) }
    val receive by lazy { ReceiveModel(api) }
    val count by lazy { CountModel(api) }
    val approvals by lazy { ApprovalsModel(api) }

    /** The manager's conflict list and resolutions (core decides who may resolve). */
    val conflicts by lazy { ConflictsModel(api) }

    /** The manager's state submissions screen (core decides who sees it). */
    val stateSubmissions by lazy { StateSubmissionsModel(api) }

    /** The receiving inbox: manifests from the state, times in the facility's zone. */
    val inbox by lazy { InboxModel(api, zone = { java.time.ZoneId.systemDefault().id }) }
    val pick by lazy { PickModel(api) }

    /** Return check-in at the vault; starts at the location returns went to last on this phone. */
    val returns by lazy { ReturnsModel(api, settings.returnsLocation) { settings.returnsLocation = it } }

    /** Where the phone is when a stop is confirmed; listening only while the route screen is open. */
    val gps by lazy { LocationGpsProvider(context) }
    val route by lazy { RouteModel(api, gps) }
    private val router by lazy {
        ScanRouter(
            navigator,
            mapOf(
                Screen.ENROL to enrol,
                Screen.SIGN_IN to signIn,
                Screen.RECEIVE to receive,
                Screen.PICK to pick,
                Screen.COUNT to count,
                Screen.RETURNS to returns,
                Screen.CONFLICTS to conflicts,
            ),
        )
    }

    private val _feedback = MutableStateFlow<Feedback?>(null)

    /** The last answer, shown as the green or red panel at the bottom of every screen. */
    val feedback: StateFlow<Feedback?> = _feedback
    private val player by lazy { FeedbackPlayer(context) }

    /**
     * The listener is called on the thread that made the change: never call the client in it.
     * A sync that signs the person out (deactivated, PIN reset) arrives here as SIGN_IN.
     */
    private val changes = object : ChangeListener {
        override fun onChange(what: ChangeKind) {
            scope.launch(worker) { refresh(what) }
            if (BackgroundSync.syncSoonAfter(what)) SyncWorker.syncSoon(context)
        }
    }

    fun start() {
        scope.launch {
            val startup = withContext(worker) {
                runCatching {
                    client.setSyncListener(sync)
                    client.setChangeListener(changes)
                    sync.refresh()
                    signIn.load()
                    client.identity() to client.currentUser()
                }
            }
            startup.onSuccess { (identity, user) -> navigator.start(identity, user) }
                .onFailure { show(Feedback.error(it)) }
        }
    }

    /** Runs a model action off the main thread, in order, then shows and plays its answer. */
    fun act(block: suspend () -> Feedback?) {
        scope.launch {
            val answer = withContext(worker) {
                try {
                    block()
                } catch (e: Exception) {
                    Feedback.error(e)
                }
            }
            answer?.let(::show)
        }
    }

    fun show(feedback: Feedback) {
        val played = feedback.forSettings(settings.feedback)
        _feedback.value = played
        player.play(played)
    }

    /** A scan from any source goes to the screen in front. */
    fun onScan(scan: Scan) = act { router.route(scan) }

    /**
     * Badge and PIN to core. A suspend call: the first sign-in of a person on this phone goes to
     * the server (core's network call runs on its own runtime, so the worker is not held while
     * it waits); the model shows "checking" meanwhile and its pad takes nothing.
     */
    fun submitSignIn() = act {
        val answer = signIn.submit()
        val s = signIn.state.value
        if (s.step == SignInStep.SIGNED_IN) {
            val identity = client.identity()
            withContext(Dispatchers.Main) { navigator.start(identity, s.user) }
        }
        if (s.needsEnrolment) withContext(Dispatchers.Main) { navigator.start(null, null) }
        answer
    }

    fun signOut() = act {
        // Patient details shown to this driver are not for whoever signs in next.
        route.hidePatient()
        val answer = signIn.signOut()
        withContext(Dispatchers.Main) { navigator.signedOut() }
        answer
    }

    fun submitEnrolment() = act {
        val answer = enrol.enrol()
        val identity = enrol.state.value.identity
        if (identity != null) {
            signIn.enrolled()
            withContext(Dispatchers.Main) { navigator.start(identity, null) }
            SyncWorker.schedulePeriodic(context)
        }
        answer
    }

    /** Opens a screen from home and loads what it shows. */
    fun open(screen: Screen) {
        if (!navigator.open(screen)) return
        act {
            when (screen) {
                Screen.PICK -> pick.loadOrders()
                Screen.COUNT -> count.loadSessions()
                Screen.RETURNS -> returns.load()
                Screen.APPROVALS -> approvals.load()
                Screen.CONFLICTS -> conflicts.load()
                Screen.STATE -> stateSubmissions.load()
                Screen.RECEIVE -> inbox.load()
                Screen.ROUTE -> route.load()
                Screen.SYNC -> sync.refresh()
                else -> Unit
            }
            null
        }
    }

    fun syncNow() = act { sync.syncNow() }

    /** Out of sight (another app, the screen off): patient details on screen are dropped. */
    fun onBackground() {
        route.hidePatient()
    }

    /** Back in front: re-read the status, and push what is waiting. */
    fun onForeground() {
        act {
            sync.refresh()
            null
        }
        SyncWorker.syncSoon(context)
    }

    private suspend fun refresh(what: ChangeKind) {
        sync.refresh()
        when (what) {
            ChangeKind.COUNT_SESSIONS -> if (navigator.screen.value == Screen.COUNT) count.reload()
            ChangeKind.ADJUSTMENTS -> if (navigator.screen.value == Screen.APPROVALS) approvals.load()
            // A reload never asks core for a patient again: the route model keeps what was shown.
            ChangeKind.OUTBOUND -> when (navigator.screen.value) {
                Screen.PICK -> pick.reload()
                Screen.ROUTE -> route.reload()
                Screen.RETURNS -> returns.load()
                // The Returns tile's count of packages due back.
                Screen.HOME -> if (navigator.user?.role?.let { Screen.RETURNS in HomeModel.screensFor(it) } == true) returns.load()
                else -> Unit
            }
            // Someone signed in or out; if a sync signed out the person on screen (deactivated,
            // or their PIN was reset), their patient details go and the sign-in screen shows.
            ChangeKind.SIGN_IN -> if (signIn.checkSession()) {
                route.hidePatient()
                withContext(Dispatchers.Main) { navigator.signedOut() }
            }
            // A sync brought events: the fold may have raised or resolved conflicts.
            ChangeKind.INVENTORY -> if (navigator.screen.value == Screen.CONFLICTS) conflicts.load()
        }
    }
}
