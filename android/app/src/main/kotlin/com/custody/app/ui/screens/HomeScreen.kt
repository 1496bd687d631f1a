package com.custody.app.ui.screens

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Badge
import androidx.compose.material3.Card
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import com.custody.app.AppContainer
import com.custody.app.state.HomeModel
import com.custody.app.state.Screen
import com.custody.app.ui.Title

/** The tiles of the signed-in person's role (HomeModel). */
@Composable
fun HomeScreen(c: AppContainer) {
    val signIn by c.signIn.state.collectAsStateWithLifecycle()
    val sync by c.sync.state.collectAsStateWithLifecycle()
    val approvals by c.approvals.state.collectAsStateWithLifecycle()
    val returns by c.returns.state.collectAsStateWithLifecycle()
    val state by c.stateSubmissions.state.collectAsStateWithLifecycle()
    val user = signIn.user ?: return
    val checksReturns = Screen.RETURNS in HomeModel.screensFor(user.role)
    LaunchedEffect(user.id) {
        c.act {
            c.approvals.load()
            if (checksReturns) c.returns.load()
            // Core says whether this person sees the state submissions tile.
            c.stateSubmissions.load()
            c.navigator.stateSubmissions = c.stateSubmissions.state.value.visible
            null
        }
    }
    val home = HomeModel.home(
        user,
        pendingApprovals = approvals.rows.count { it.canDecide },
        sync = sync,
        returnsDue = returns.rows.size.takeIf { checksReturns },
        stateSubmissions = state,
    )

    Column(Modifier.padding(16.dp).fillMaxWidth(), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Title(home.greeting)
        Text(home.role)
        home.tiles.forEach { tile ->
            Card(Modifier.fillMaxWidth().clickable { c.open(tile.screen) }) {
                Row(Modifier.padding(16.dp), verticalAlignment = Alignment.CenterVertically) {
                    Column(Modifier.weight(1f)) {
                        Text(tile.title, fontSize = 22.sp)
                        Text(tile.subtitle)
                    }
                    tile.badge?.let { Badge { Text(it) } }
                }
            }
        }
        home.notYetHere?.let { Text(it) }
        OutlinedButton(onClick = { c.signOut() }) { Text("Sign out") }
    }
}
