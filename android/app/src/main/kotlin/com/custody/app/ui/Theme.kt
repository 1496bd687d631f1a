package com.custody.app.ui

import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.lightColorScheme
import androidx.compose.runtime.Composable
import androidx.compose.ui.graphics.Color

val Green = Color(0xFF1B7F3B)
val Red = Color(0xFFC62828)
val Amber = Color(0xFFB26A00)
private val Forest = Color(0xFF1B4332)

@Composable
fun CustodyTheme(content: @Composable () -> Unit) {
    MaterialTheme(
        colorScheme = lightColorScheme(primary = Forest, secondary = Green, error = Red),
        content = content,
    )
}
