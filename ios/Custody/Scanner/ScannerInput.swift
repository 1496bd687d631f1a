import SwiftUI
import UIKit

/// Scanner sleeves pair with the phone as a hardware (HID) keyboard: a scan arrives as keystrokes
/// ending with Return or Tab. This invisible view holds the keyboard focus, collects the
/// characters until Return or Tab, and hands the text as it came to `onScan`; custody-core parses
/// it (tag, location label, GS1) and says what is wrong with garbage. It never brings up the
/// on-screen keyboard.
///
/// Pass `active: false` while a visible text field is being edited, so typed text goes there.
struct ScannerInput: UIViewRepresentable {
    var active: Bool = true
    let onScan: (String) -> Void

    func makeUIView(context: Context) -> KeyboardWedgeView {
        let view = KeyboardWedgeView(frame: .zero)
        view.onScan = onScan
        view.wantsFocus = active
        return view
    }

    func updateUIView(_ view: KeyboardWedgeView, context: Context) {
        view.onScan = onScan
        view.wantsFocus = active
    }
}

/// A first responder that takes hardware-keyboard text (UIKeyInput) and ends a scan on Return or
/// Tab. Tab is also taken as a key command with priority, so the focus system does not eat it.
final class KeyboardWedgeView: UIView, UIKeyInput {
    var onScan: ((String) -> Void)?
    var wantsFocus = true {
        didSet {
            if wantsFocus != oldValue {
                updateFocus()
            }
        }
    }

    private var buffer = ""
    private let noKeyboard = UIView(frame: .zero)

    override var canBecomeFirstResponder: Bool { true }

    /// An empty input view: the software keyboard stays hidden while this view has the focus.
    override var inputView: UIView? { noKeyboard }

    override func didMoveToWindow() {
        super.didMoveToWindow()
        updateFocus()
    }

    // MARK: UIKeyInput

    var hasText: Bool { !buffer.isEmpty }

    func insertText(_ text: String) {
        for character in text {
            if character.isNewline || character == "\t" {
                endOfScan()
            } else {
                buffer.append(character)
            }
        }
    }

    func deleteBackward() {
        if !buffer.isEmpty {
            buffer.removeLast()
        }
    }

    // MARK: Return and Tab

    override var keyCommands: [UIKeyCommand]? {
        let tab = UIKeyCommand(input: "\t", modifierFlags: [], action: #selector(endOfScan))
        let enter = UIKeyCommand(input: "\r", modifierFlags: [], action: #selector(endOfScan))
        tab.wantsPriorityOverSystemBehavior = true
        enter.wantsPriorityOverSystemBehavior = true
        return [tab, enter]
    }

    @objc private func endOfScan() {
        let raw = buffer
        buffer = ""
        if !raw.isEmpty {
            onScan?(raw)
        }
    }

    private func updateFocus() {
        DispatchQueue.main.async { [weak self] in
            guard let self = self, self.window != nil else { return }
            if self.wantsFocus && !self.isFirstResponder {
                self.becomeFirstResponder()
            } else if !self.wantsFocus && self.isFirstResponder {
                self.resignFirstResponder()
            }
        }
    }
}
