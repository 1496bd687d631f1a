package com.custody.app.state

import com.custody.core.types.CustodyException
import com.custody.core.OrderSummary
import com.custody.core.PickList
import com.custody.core.types.Quantity
import com.custody.core.ScannedCode
import com.custody.core.types.OrderStatus
import com.custody.core.types.UnitOfMeasure
import com.custody.core.unitSymbol
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow

/** An order in the list. A medical order shows only its redacted [patientRef], never the patient. */
data class OrderRow(
    val id: String,
    val number: String,
    val customer: String,
    val requestedOn: String,
    val status: OrderStatus,
    /** "To pick", "Packed"... */
    val statusText: String,
    val patientRef: String?,
    val lines: Int,
)

/** One entry of the pick list with its progress. */
data class PickRow(
    val line: Int,
    /** The package to take from the shelf. */
    val tag: String,
    val item: String,
    val batch: String,
    val location: String,
    val expiresOn: String?,
    /** What goes, as core formats it ("3.50 g"). */
    val quantity: String,
    /** The unit a weight typed for this line is read in (core's count unit: grams for weights). */
    val unit: UnitOfMeasure,
    /** The new tag when only part of [tag] goes (weigh it out). */
    val splitInto: String?,
    /** The allocated package this one replaces, by a manager's approval. */
    val substituteFor: String?,
    val pickedBy: String?,
    /** What went in the tote: [tag], or [splitInto] after a split. */
    val pickedTag: String?,
    val container: String?,
) {
    val picked: Boolean get() = pickedTag != null
    val packed: Boolean get() = container != null
}

/** A split line was scanned: the pick waits for the weight taken off the package. */
data class AwaitingWeight(
    val tag: String,
    val newTag: String,
    val item: String,
    /** What the line needs, as core formats it. */
    val expected: String,
    val unit: UnitOfMeasure,
)

/** A picked package was scanned at the packing bench: packing waits for its gross weight. */
data class AwaitingPack(
    val tag: String,
    val item: String,
    val container: String,
    /** "Already in container 1: this moves it." when it was packed before. */
    val note: String? = null,
)

/** A container after the final check. */
data class ContainerRow(val number: String, val tags: List<String>)

data class PickState(
    val orders: List<OrderRow> = emptyList(),
    /** The open order, null on the list. */
    val orderId: String? = null,
    val orderNumber: String = "",
    val customer: String = "",
    val patientRef: String? = null,
    val status: OrderStatus? = null,
    val lines: List<PickRow> = emptyList(),
    /** Packages two pickers both scanned before their phones synced: check the tote. */
    val pickedTwice: List<String> = emptyList(),
    /** Filled once the final check passed. */
    val containers: List<ContainerRow> = emptyList(),
    /** The container being filled, typed by the packer. */
    val container: String = "",
    val awaitingWeight: AwaitingWeight? = null,
    val awaitingPack: AwaitingPack? = null,
    /**
     * The checklist: what core's final check would still refuse ([CustodyApi.packingCheck]), one
     * entry each (lines short, packages not picked, packages not in a container). Read again each
     * time the order is shown; empty when packing can finish, or when the order is not being packed.
     */
    val missing: List<String> = emptyList(),
    val feedback: Feedback? = null,
    val prompt: String = "Choose an order",
    /** Loading the list or the order failed: core's sentence. */
    val error: String? = null,
) {
    val pickedCount: Int get() = lines.count { it.picked }
    val packedCount: Int get() = lines.count { it.packed }

    /** "Finish packing" is offered: the order is being packed and core's checklist is empty. */
    val canFinish: Boolean get() = status == OrderStatus.ALLOCATED && missing.isEmpty()

    /** "3 of 5 picked · 2 packed". */
    val progress: String get() = "$pickedCount of ${lines.size} picked · $packedCount packed"
}

/**
 * Picking and packing an order on the phone. The picker opens an allocated order and scans each
 * package on its pick list; where a line needs only part of a package (a split), the phone asks
 * for the weight taken off it. At the packing bench the packer types the container number and
 * scans each picked package into it with its gross weight. Core's packing check (which writes
 * nothing) gives the checklist of what is still missing, shown with the order; "Finish packing" is
 * core's final check, offered once that list is empty.
 *
 * Every rule (is this the allocated package, is the weight right, was it picked already, may
 * this person pick) is core's: a refusal comes back red with core's sentence and changes nothing
 * here. Core reads each scan ([CustodyApi.parseScan]); the model only decides which call it is: a
 * package already picked for this order goes to packing, the source of a split line waits for its
 * weight, anything else (a tag, or text that is not one) is a pick, which core answers.
 */
class PickModel(private val api: CustodyApi) : ScanTarget {
    private val _state = MutableStateFlow(PickState())
    val state: StateFlow<PickState> = _state

    fun loadOrders() {
        try {
            val rows = api.orders().filter { it.status != OrderStatus.CANCELLED }.map(::orderRow)
            _state.value = _state.value.copy(orders = rows, error = null)
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
        }
    }

    /** Opens an order's pick list. */
    fun open(orderId: String): Feedback {
        return try {
            val list = api.pickList(orderId)
            _state.value = PickState(orders = _state.value.orders)
            show(list)
            Feedback.green("Order ${list.order.number} for ${list.order.recipient.name}")
        } catch (e: Exception) {
            showFeedback(Feedback.error(e))
        }
    }

    /** A manager allocates stock to an open order (core refuses anyone else). */
    fun generate(orderId: String): Feedback {
        return try {
            val list = api.generatePickList(orderId)
            loadOrders()
            _state.value = PickState(orders = _state.value.orders)
            show(list)
            Feedback.green("Pick list ready: ${list.lines.size} packages to pick for order ${list.order.number}")
        } catch (e: Exception) {
            showFeedback(Feedback.error(e))
        }
    }

    /** Re-reads the open order (another phone picked, a sync came in), or the list. */
    fun reload() {
        val id = _state.value.orderId ?: return loadOrders()
        try {
            show(api.pickList(id))
        } catch (e: Exception) {
            _state.value = _state.value.copy(error = errorText(e))
        }
    }

    /** Back to the orders (what was scanned is saved as it was scanned). */
    fun leave() {
        _state.value = PickState(orders = _state.value.orders)
        loadOrders()
    }

    fun editContainer(container: String) {
        _state.value = _state.value.copy(container = container)
    }

    fun cancelWeight() {
        _state.value = _state.value.copy(awaitingWeight = null, prompt = prompt(_state.value))
    }

    fun cancelPack() {
        _state.value = _state.value.copy(awaitingPack = null, prompt = prompt(_state.value))
    }

    override fun onScan(scan: Scan): Feedback {
        val s = _state.value
        val orderId = s.orderId ?: return showFeedback(Feedback.red("Choose an order first."))
        // A scale in keyboard-wedge mode types the weight and Enter, like a scanner.
        if (s.awaitingWeight != null && CountModel.looksLikeAmount(scan.text)) return enterWeight(scan.text)
        if (s.awaitingPack != null && CountModel.looksLikeAmount(scan.text)) return enterGrossWeight(scan.text)
        _state.value = s.copy(awaitingWeight = null, awaitingPack = null)

        // Not a tag: core's pick reads the text itself and says what it is instead.
        val code = try {
            api.parseScan(scan.text)
        } catch (e: CustodyException) {
            null
        }
        val tag = (code as? ScannedCode.Package)?.tag ?: return pick(orderId, scan.text, null)
        val packing = s.lines.firstOrNull { it.pickedTag == tag }
        if (packing != null) return startPacking(packing)
        val split = s.lines.firstOrNull { it.tag == tag && it.splitInto != null && !it.picked }
        if (split != null) {
            val awaiting = AwaitingWeight(tag, split.splitInto!!, split.item, split.quantity, split.unit)
            _state.value = _state.value.copy(
                awaitingWeight = awaiting,
                prompt = "Weigh out ${split.quantity} of ${split.item} from $tag and enter the weight",
            )
            return showFeedback(Feedback.green("${split.item} is split: weigh out ${split.quantity}, put it under tag ${split.splitInto}, enter the weight"))
        }
        return pick(orderId, tag, null)
    }

    /**
     * The weight taken off a split package: a plain number is read in the line's unit ("3.5" ->
     * 3.5 g), a number with a unit as it is. Core checks it against the line.
     */
    fun enterWeight(text: String): Feedback {
        val s = _state.value
        val awaiting = s.awaitingWeight ?: return showFeedback(Feedback.red("Scan the package to split first."))
        val orderId = s.orderId ?: return showFeedback(Feedback.red("Choose an order first."))
        val quantity = try {
            api.parseQuantity(text, awaiting.unit)
        } catch (e: Exception) {
            return showFeedback(Feedback.error(e))
        }
        return pick(orderId, awaiting.tag, quantity)
    }

    /** The gross weight of the package going into the container (grams unless a unit is typed). */
    fun enterGrossWeight(text: String): Feedback {
        val s = _state.value
        val awaiting = s.awaitingPack ?: return showFeedback(Feedback.red("Scan a picked package first."))
        val orderId = s.orderId ?: return showFeedback(Feedback.red("Choose an order first."))
        return try {
            val weight = api.parseQuantity(text, UnitOfMeasure.G)
            api.pack(orderId, awaiting.tag, awaiting.container, weight)
            _state.value = _state.value.copy(awaitingPack = null)
            reload()
            _state.value = _state.value.copy(prompt = prompt(_state.value))
            showFeedback(Feedback.green("${awaiting.item} in container ${awaiting.container} (${format(weight)} gross)"))
        } catch (e: Exception) {
            // The package stays waiting: the packer may correct the weight or the container.
            showFeedback(Feedback.error(e))
        }
    }

    /**
     * Core's final check. Refused, the red panel shows core's sentence as it is, and the checklist
     * is read again from core's packing check.
     */
    fun finish(): Feedback {
        val orderId = _state.value.orderId ?: return showFeedback(Feedback.red("Choose an order first."))
        return try {
            val list = api.finishPacking(orderId)
            show(list)
            loadOrders()
            val n = list.containers.size
            showFeedback(Feedback.green("Order ${list.order.number} packed: $n container${if (n == 1) "" else "s"}, ready for a manifest"))
        } catch (e: Exception) {
            reload()
            showFeedback(Feedback.error(e))
        }
    }

    private fun startPacking(row: PickRow): Feedback {
        val container = _state.value.container.trim()
        val tag = row.pickedTag ?: row.tag
        if (container.isEmpty()) {
            return showFeedback(Feedback.red("${row.item} is picked. Type the container number, then scan $tag again to pack it."))
        }
        val note = row.container?.takeIf { it != container }?.let { "Already in container $it: this moves it to $container." }
        _state.value = _state.value.copy(
            awaitingPack = AwaitingPack(tag, row.item, container, note),
            prompt = "Weigh ${row.item} in container $container and enter the gross weight",
        )
        return showFeedback(Feedback.green("Packing ${row.item} into container $container: enter the gross weight"))
    }

    private fun pick(orderId: String, raw: String, quantity: Quantity?): Feedback {
        return try {
            val result = api.pickScan(orderId, raw, quantity)
            val item = _state.value.lines.firstOrNull { it.line.toUInt() == result.line }?.item ?: result.tag
            _state.value = _state.value.copy(awaitingWeight = null)
            reload()
            _state.value = _state.value.copy(prompt = prompt(_state.value))
            val split = result.splitFrom?.let { " (split from $it)" } ?: ""
            val left = when (result.remaining) {
                0u -> "everything is picked; pack it"
                1u -> "1 more to pick"
                else -> "${result.remaining} more to pick"
            }
            showFeedback(Feedback.green("Picked $item: ${result.tag}$split, ${format(result.quantity)}; $left"))
        } catch (e: Exception) {
            // A refusal changes nothing: a weight typed for a split line stays waiting.
            showFeedback(Feedback.error(e))
        }
    }

    private fun show(list: PickList) {
        val rows = list.lines.map { l ->
            PickRow(
                line = l.line.toInt(),
                tag = l.tag,
                item = l.item,
                batch = l.batch,
                location = l.location,
                expiresOn = l.expiresOn,
                quantity = format(l.quantity),
                unit = typedUnit(l.quantity.unit),
                splitInto = l.splitInto,
                substituteFor = l.substituteFor,
                pickedBy = l.pickedBy,
                pickedTag = l.pickedTag,
                container = l.container,
            )
        }
        val next = _state.value.copy(
            orderId = list.order.id,
            orderNumber = list.order.number,
            customer = list.order.recipient.name,
            patientRef = list.order.patientRef,
            status = list.order.status,
            lines = rows,
            pickedTwice = list.pickedTwice,
            containers = list.containers.map { ContainerRow(it.number, it.tags) },
            missing = checklist(list),
            error = null,
        )
        _state.value = next.copy(
            // A line the person is weighing stays waiting unless another phone picked it meanwhile.
            awaitingWeight = next.awaitingWeight?.takeIf { a -> rows.any { it.tag == a.tag && !it.picked } },
            prompt = prompt(next),
        )
    }

    /**
     * Core's packing check for an order being packed. If it cannot be read, the list is empty:
     * "Finish packing" stays offered, and core's final check says what is wrong.
     */
    private fun checklist(list: PickList): List<String> {
        if (list.order.status != OrderStatus.ALLOCATED) return emptyList()
        return try {
            api.packingCheck(list.order.id)
        } catch (e: Exception) {
            emptyList()
        }
    }

    private fun typedUnit(unit: UnitOfMeasure): UnitOfMeasure = try {
        api.countUnit(unit)
    } catch (e: Exception) {
        unit
    }

    private fun format(q: Quantity): String = try {
        api.formatQuantity(q)
    } catch (e: Exception) {
        "${q.amount} ${unitSymbol(q.unit)}"
    }

    private fun orderRow(o: OrderSummary) = OrderRow(
        id = o.id,
        number = o.number,
        customer = o.recipient.name,
        requestedOn = o.requestedOn,
        status = o.status,
        statusText = statusText(o.status),
        patientRef = o.patientRef,
        lines = o.lines.size,
    )

    private fun showFeedback(feedback: Feedback): Feedback {
        _state.value = _state.value.copy(feedback = feedback)
        return feedback
    }

    companion object {
        fun statusText(status: OrderStatus): String = when (status) {
            OrderStatus.OPEN -> "Waiting for a pick list"
            OrderStatus.ALLOCATED -> "To pick and pack"
            OrderStatus.PACKED -> "Packed"
            OrderStatus.CANCELLED -> "Cancelled"
        }

        fun prompt(s: PickState): String = when {
            s.orderId == null -> "Choose an order"
            s.awaitingWeight != null -> "Weigh out ${s.awaitingWeight.expected} of ${s.awaitingWeight.item} and enter the weight"
            s.awaitingPack != null -> "Enter the gross weight of ${s.awaitingPack.item}"
            s.status == OrderStatus.OPEN -> "No pick list yet: a manager makes it"
            s.status == OrderStatus.PACKED -> "Packed: ready for a manifest"
            s.status == OrderStatus.CANCELLED -> "This order was cancelled"
            s.lines.any { !it.picked } -> "Scan each package on the list"
            s.lines.any { !it.packed } -> "Type the container number, then scan each package into it"
            s.missing.isNotEmpty() -> "Not ready to finish: see what is still missing"
            else -> "Everything is packed: finish packing"
        }
    }
}
