package com.custody.app.ui

import androidx.activity.compose.BackHandler
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Scaffold
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.Screen
import com.custody.app.ui.screens.ApprovalsScreen
import com.custody.app.ui.screens.ConflictsScreen
import com.custody.app.ui.screens.StateSubmissionsScreen
import com.custody.app.ui.screens.CountScreen
import com.custody.app.ui.screens.EnrolScreen
import com.custody.app.ui.screens.HomeScreen
import com.custody.app.ui.screens.PickScreen
import com.custody.app.ui.screens.ReceiveScreen
import com.custody.app.ui.screens.ReturnsScreen
import com.custody.app.ui.screens.RouteScreen
import com.custody.app.ui.screens.SignInScreen
import com.custody.app.ui.screens.SyncScreen
import kotlinx.coroutines.delay

/** The frame of every screen: the sync bar on top, the screen, the green/red answer below. */
@Composable
fun CustodyApp(c: AppContainer) {
    val screen by c.navigator.screen.collectAsStateWithLifecycle()
    val sync by c.sync.state.collectAsStateWithLifecycle()
    val feedback by c.feedback.collectAsStateWithLifecycle()

    BackHandler(enabled = screen !in setOf(Screen.HOME, Screen.SIGN_IN, Screen.ENROL)) { c.navigator.back() }
    LaunchedEffect(Unit) {
        while (true) {
            delay(30_000)
            c.sync.tick() // keeps "Last sync 5 min ago" true
        }
    }

    Scaffold(
        topBar = { SyncBar(sync) { c.open(Screen.SYNC) } },
        bottomBar = { FeedbackPanel(feedback) },
    ) { padding ->
        Box(Modifier.padding(padding).fillMaxSize()) {
            when (screen) {
                Screen.ENROL -> EnrolScreen(c)
                Screen.SIGN_IN -> SignInScreen(c)
                Screen.HOME -> HomeScreen(c)
                Screen.RECEIVE -> ReceiveScreen(c)
                Screen.PICK -> PickScreen(c)
                Screen.COUNT -> CountScreen(c)
                Screen.RETURNS -> ReturnsScreen(c)
                Screen.APPROVALS -> ApprovalsScreen(c)
                Screen.CONFLICTS -> ConflictsScreen(c)
                Screen.ROUTE -> RouteScreen(c)
                Screen.SYNC -> SyncScreen(c)
                Screen.STATE -> StateSubmissionsScreen(c)
            }
        }
    }
}
