package com.custody.app.ui

import androidx.compose.foundation.background
import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import com.custody.app.state.Feedback
import com.custody.app.state.Signal
import com.custody.app.state.SyncStatusState

/** Always on top: online or offline, what waits, when it last synced; red after a failure. */
@Composable
fun SyncBar(state: SyncStatusState, onClick: () -> Unit) {
    val colour = when {
        state.attention -> Red
        state.online -> Green
        else -> Amber
    }
    Column(
        Modifier
            .fillMaxWidth()
            .background(colour)
            .clickable(onClick = onClick)
            .padding(horizontal = 12.dp, vertical = 6.dp),
    ) {
        Text("${state.connection} · ${state.pendingText}", color = Color.White, fontWeight = FontWeight.Bold)
        Text(state.lastSyncText, color = Color.White, fontSize = 13.sp)
        state.lastError?.let { Text(it, color = Color.White, fontSize = 13.sp) }
    }
}

/** The answer to the last scan or action: a green tick or a red cross, with the reason. */
@Composable
fun FeedbackPanel(feedback: Feedback?) {
    if (feedback == null) return
    val green = feedback.signal == Signal.GREEN
    Row(
        Modifier
            .fillMaxWidth()
            .background(if (green) Green else Red)
            .padding(16.dp),
        verticalAlignment = Alignment.CenterVertically,
    ) {
        Text(if (green) "✓" else "✕", color = Color.White, fontSize = 32.sp, fontWeight = FontWeight.Bold)
        Spacer(Modifier.width(12.dp))
        Text(feedback.message, color = Color.White, fontSize = 18.sp)
    }
}

@Composable
fun ErrorText(text: String?) {
    if (text != null) Text(text, color = MaterialTheme.colorScheme.error, modifier = Modifier.padding(vertical = 4.dp))
}

@Composable
fun Title(text: String) {
    Text(text, style = MaterialTheme.typography.headlineSmall, modifier = Modifier.padding(bottom = 8.dp))
}
