package com.custody.app.state

import com.custody.core.ScannedCode
import com.custody.core.types.UnitOfMeasure
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

/** A package received on this screen. */
data class ReceivedLine(val tag: String, val item: String, val quantity: String, val location: String)

data class ReceiveState(
    val item: String = "",
    val batch: String = "",
    /** The amount per package, in [unit] unless it names its own unit. */
    val quantityText: String = "",
    val unit: UnitOfMeasure = UnitOfMeasure.G,
    /** `YYYY-MM-DD`, optional. */
    val expiresOn: String = "",
    /** The inbound manifest number, optional. */
    val manifest: String = "",
    /** Where received packages go: the intake location, or a shelf label scanned here. */
    val location: String = ReceiveModel.DEFAULT_INTAKE,
    /** Received on this screen, latest first. */
    val received: List<ReceivedLine> = emptyList(),
    val feedback: Feedback? = null,
    val prompt: String = "Enter the item, batch and amount, then scan each package tag",
)

/**
 * SIMPLE RECEIVING, until the receiving workflow (manifest check, certificates of analysis,
 * weighing against the manifest, accept/reject per package) exists in core: the person enters the
 * item, batch and amount once, then scans each package tag; each scan records a `Received` event
 * into the intake location through the client (`receive(...)`). A `LOC:` label scanned here
 * changes where the packages go. Core reads the scan and checks the tag, the fields and
 * duplicates.
 */
class ReceiveModel(private val api: CustodyApi) : ScanTarget {
    private val _state = MutableStateFlow(ReceiveState())
    val state: StateFlow<ReceiveState> = _state

    fun edit(
        item: String? = null,
        batch: String? = null,
        quantityText: String? = null,
        unit: UnitOfMeasure? = null,
        expiresOn: String? = null,
        manifest: String? = null,
        location: String? = null,
    ) {
        val s = _state.value
        _state.value = s.copy(
            item = item ?: s.item,
            batch = batch ?: s.batch,
            quantityText = quantityText ?: s.quantityText,
            unit = unit ?: s.unit,
            expiresOn = expiresOn ?: s.expiresOn,
            manifest = manifest ?: s.manifest,
            location = location ?: s.location,
        )
    }

    /**
     * Core reads the scan ([CustodyApi.parseScan]): a `LOC:` label changes where packages go, a
     * package tag is received; anything else is red with core's sentence.
     */
    override fun onScan(scan: Scan): Feedback {
        val code = try {
            api.parseScan(scan.text)
        } catch (e: Exception) {
            return show(Feedback.error(e))
        }
        val tag = when (code) {
            is ScannedCode.Location -> {
                edit(location = code.name)
                return show(Feedback.green("Receiving into ${code.name}"))
            }
            is ScannedCode.Gs1 -> return show(Feedback.red(GS1_NOT_A_PACKAGE))
            is ScannedCode.Package -> code.tag
        }
        val s = _state.value
        val missing = listOfNotNull(
            "the item".takeIf { s.item.isBlank() },
            "the batch".takeIf { s.batch.isBlank() },
            "the amount".takeIf { s.quantityText.isBlank() },
        )
        if (missing.isNotEmpty()) {
            return show(Feedback.red("Enter ${missing.joinToString(", ")} before scanning packages."))
        }
        return try {
            val quantity = api.parseQuantity(s.quantityText, s.unit)
            val event = api.receive(
                tag,
                s.item.trim(),
                s.batch.trim(),
                quantity,
                s.location.trim(),
                s.expiresOn.trim().ifEmpty { null },
                s.manifest.trim().ifEmpty { null },
            )
            val amount = api.formatQuantity(quantity)
            val line = ReceivedLine(event.tag, s.item.trim(), amount, s.location.trim())
            _state.value = _state.value.copy(received = listOf(line) + _state.value.received)
            show(Feedback.green("Received ${event.tag}: $amount into ${line.location}"))
        } catch (e: Exception) {
            show(Feedback.error(e))
        }
    }

    private fun show(feedback: Feedback): Feedback {
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    companion object {
        const val DEFAULT_INTAKE = "Intake"
    }
}
