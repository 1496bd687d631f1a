#!/usr/bin/env python3
"""Parse every .swift file under the given paths with tree-sitter's Swift grammar.

Exit 0 when every file parses cleanly, 1 when any has a syntax error (each listed as
file:line:column), 2 when there is nothing to check or the parser cannot be loaded.
The last line is `N passed, M failed`.

Folders named `Generated` (the uniffi bindings, written by build-xcframework.sh on a Mac,
gitignored, so never in CI) are skipped unless --include-generated is given: the Swift compiler
checks them, and the tree-sitter grammar cannot read some valid constructs uniffi emits
(`#if swift(>=5.8) @_documentation(...) #endif` before a declaration, `{ () }`).

Run it through check-swift-syntax.sh, which installs `tree-sitter` and `tree-sitter-swift`.
"""

from __future__ import annotations

import os
import sys

SKIP_DIRS = {".build", ".swiftpm", "DerivedData", "build", "Pods", ".git"}
GENERATED_DIR = "Generated"
MAX_ERRORS_PER_FILE = 5


def load_parser():
    try:
        import tree_sitter
        import tree_sitter_swift
    except ImportError as e:  # pragma: no cover - environment problem
        print(f"check-swift-syntax: cannot import tree-sitter ({e}); run check-swift-syntax.sh", file=sys.stderr)
        sys.exit(2)
    language = tree_sitter.Language(tree_sitter_swift.language())
    try:
        return tree_sitter.Parser(language)  # tree-sitter >= 0.22
    except TypeError:  # older bindings: Parser() then set_language
        parser = tree_sitter.Parser()
        parser.set_language(language)
        return parser


def swift_files(paths, include_generated):
    found = []
    skipped = 0
    for path in paths:
        if os.path.isfile(path):
            if path.endswith(".swift"):
                found.append(path)
            continue
        if not os.path.isdir(path):
            print(f"check-swift-syntax: no such file or folder: {path}", file=sys.stderr)
            sys.exit(2)
        for root, dirs, files in os.walk(path):
            if not include_generated and os.path.basename(root) == GENERATED_DIR:
                skipped += sum(1 for f in files if f.endswith(".swift"))
                dirs[:] = []
                continue
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.endswith(".xcframework"))
            found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".swift"))
    return found, skipped


def syntax_errors(root_node):
    """(line, column, what) of the innermost ERROR nodes and of MISSING nodes, in source order.

    An ERROR node can wrap most of a file (even be the root) when the parser recovers late; the
    innermost ones are closest to the mistake, so those are reported.
    """
    errors = []
    stack = [root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            row, col = node.start_point
            errors.append((row + 1, col + 1, f"missing {node.type!r}"))
            continue
        if not node.has_error:
            continue
        inner = [child for child in node.children if child.has_error or child.is_missing]
        if node.is_error and not inner:
            row, col = node.start_point
            text = node.text.decode("utf-8", "replace").strip() if node.text else ""
            snippet = text.splitlines()[0][:60] if text else ""
            errors.append((row + 1, col + 1, f"syntax error near {snippet!r}" if snippet else "syntax error"))
            continue
        stack.extend(inner)
    errors.sort()
    return errors


def main(argv):
    args = argv[1:]
    include_generated = "--include-generated" in args
    paths = [a for a in args if a != "--include-generated"]
    paths = paths or [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")]
    files, skipped = swift_files(paths, include_generated)
    if skipped:
        print(f"skipping {skipped} generated file(s) in {GENERATED_DIR}/ (--include-generated to parse them)")
    if not files:
        print("check-swift-syntax: no .swift files found", file=sys.stderr)
        print("0 passed, 0 failed")
        return 2
    parser = load_parser()
    passed = failed = 0
    for path in files:
        with open(path, "rb") as f:
            source = f.read()
        tree = parser.parse(source)
        shown = os.path.relpath(path)
        if tree.root_node.has_error:
            failed += 1
            errors = syntax_errors(tree.root_node) or [(1, 1, "syntax error")]
            for line, col, what in errors[:MAX_ERRORS_PER_FILE]:
                print(f"{shown}:{line}:{col}: {what}")
            if len(errors) > MAX_ERRORS_PER_FILE:
                print(f"{shown}: ... and {len(errors) - MAX_ERRORS_PER_FILE} more")
        else:
            passed += 1
            print(f"ok {shown}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
