#!/usr/bin/env python3
"""Checks that a crate's modules import only from their own layer or the layers below.

A table lists, per source root, its layers from the bottom up. A module is named `name` for
`name.rs` or `name/mod.rs` (with everything under `name/` not listed on its own) and `dir::sub`
for `dir/sub.rs`; `lib` and `main` are the crate roots. Every `use crate::...` and every
`crate::x::...` path in a module's code (comments left out) must name a module of the same or a
lower layer; a path to an item of the crate root (`crate::Config`) counts as `lib`. `super::`
paths are not followed: write cross-module paths from `crate::`.

Fails (exit 1) with file:line and the import when a module reaches up, and when a module is in no
layer (a new module must be placed deliberately). Python 3 standard library only.

Usage: python3 tests/check-layers.py   (from anywhere; paths are relative to the repository)
"""

import os
import re
import sys

# Bottom layer first. Why this order: docs/decisions/0017-server-layers.md.
LAYERS = {
    # Bottom first. Why this order: docs/decisions/0018-unit-of-work-and-layers.md.
    "core/src": [
        # Domain: values, rules and pure functions, no I/O (the future I/O-free crate).
        ["bounds", "text", "ids", "quantity", "hlc", "signing", "files", "ffi", "input", "state_json"],
        ["event", "event_view", "roles", "people", "scan"],
        ["chain", "fold"],
        # The pure halves of outbound and receiving.
        ["outbound::order", "outbound::picklist", "outbound::patient", "outbound::plan", "receiving::manifest"],
        # Work documents (Automerge), and the state's lab results read into a receiving document's
        # certificate; the facility's settings and their rules (they name adjustment reasons).
        ["work", "receiving::coa", "settings"],
        # What crosses the wire to the sync server.
        ["protocol"],
        # The device store and its unit of work.
        ["store"],
        # Workflows: what a person does on the phone, over the store.
        ["approvals", "conflicts", "counts", "receiving", "outbound", "testing"],
        # The sync client and its TLS trust.
        ["tls"],
        ["sync"],
        # Which error the apps see for each of core's errors (feature `uniffi`).
        ["ffi::errors"],
        ["lib"],
    ],
    "sync-server/src": [
        # Leaves: settings, secrets, the loaded-document cache.
        ["config", "secret", "docs::cache"],
        # What a state system must do, Metrc's HTTP and the GET pacing (know only the settings).
        ["state", "state::metrc", "state::pace"],
        # The error every store call returns; HTTP plumbing that needs only the settings.
        ["error", "limits", "transport"],
        # The store: schema, migrations, facilities, users, enrolment codes, authentication.
        ["db"],
        # Services on the store that know no people or documents.
        ["data_key", "lockout", "state::connection", "settings"],
        ["people"],
        # The work-document engine (storage, cache, sync, signatures), device admin, people admin.
        ["docs::engine", "devices", "people_admin"],
        # Outbound: claims, patient data, office orders (uses the engine).
        ["outbound"],
        # What each kind of document demands (uses outbound for orders and manifests).
        # The outbox of state writes is here too: filled by the ledger and by the manifest policy,
        # it uses the engine to read approvals.
        ["docs", "docs::policy", "state::outbox"],
        # What the pulls keep (inbox, certificates, reference, revision) and what a sync sends of it.
        ["state::inbox"],
        # The sync round trip: events and documents in one transaction.
        ["ledger"],
        # The task that sends the outbox to the state.
        ["state::drain", "state::pull"],
        ["api"],
        ["lib", "main"],
    ],
}

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
USE_CRATE = re.compile(r"\buse\s+crate::")
CRATE_PATH = re.compile(r"\bcrate((?:::" + IDENT + r")+)")


def blank(chunk):
    """Spaces for a chunk of text, keeping its newlines (so line numbers stay right)."""
    return "".join("\n" if ch == "\n" else " " for ch in chunk)


RAW_STRING = re.compile(r'\br(#*)"')


def strip_comments(text):
    """The code with comments and string contents blanked: a path in a comment or a message is
    not an import."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        raw = RAW_STRING.match(text, i) if c == "r" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) else None
        if raw:
            close = '"' + raw.group(1)
            j = text.find(close, raw.end())
            j = n if j < 0 else j + len(close)
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(blank(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(blank(text[i:j]))
            i = j
        elif c == "'" and i + 2 < n and (text[i + 2] == "'" or text[i + 1] == "\\"):
            # A char literal ('"', '\\'): skipped whole so its quote does not start a string.
            j = text.find("'", i + 3 if text[i + 1] == "\\" else i + 2)
            j = n if j < 0 else j + 1
            out.append(blank(text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, self}}` -> ["a::b", "a::c::d", "a::c"] (paths under `crate::`)."""
    tree = re.sub(r"\s+as\s+" + IDENT, "", tree)
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        path = re.sub(r"(::self|::\*)$", "", tree)
        return [path] if path and path != "self" else []
    prefix = tree[:brace].rstrip(":")
    inner = tree[brace + 1 : tree.rfind("}")]
    parts, depth, start = [], 0, 0
    for k, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:k])
            start = k + 1
    parts.append(inner[start:])
    out = []
    for part in filter(None, parts):
        for sub in expand_use_tree(part):
            out.append(prefix + "::" + sub if prefix else sub)
        if part in ("self", "*") and prefix:
            out.append(prefix)
    return out


def imports(code):
    """(line, shown text, path under crate::) for every crate path in the code."""
    found = []
    covered = []
    for m in USE_CRATE.finditer(code):
        end = code.find(";", m.end())
        end = len(code) if end < 0 else end
        tree = code[m.end() : end]
        # `use crate as name;` style aliases fall through: nothing under crate:: is named.
        line = code.count("\n", 0, m.start()) + 1
        shown = " ".join(code[m.start() : end + 1].split())
        for path in expand_use_tree(tree):
            found.append((line, shown, path))
        covered.append((m.start(), end))
    for m in CRATE_PATH.finditer(code):
        if any(a <= m.start() < b for a, b in covered):
            continue
        line = code.count("\n", 0, m.start()) + 1
        found.append((line, m.group(0), m.group(1)[2:]))
    return found


def without_tests(text):
    """The file up to its inline test module (`#[cfg(test)]` at the start of a line before
    `mod name {`, by convention at the end of the file): tests may put any layers together."""
    at = re.search(r"^#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text, re.M)
    return text if at is None else text[: at.start()]


def module_of_file(rel):
    """`docs/engine.rs` -> "docs::engine", `docs/mod.rs` -> "docs", `lib.rs` -> "lib"."""
    parts = rel[: -len(".rs")].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return "::".join(parts)


def placed(module, layer_of):
    """The listed module a module path belongs to: the longest listed prefix, if any."""
    segments = module.split("::")
    for k in range(len(segments), 0, -1):
        name = "::".join(segments[:k])
        if name in layer_of:
            return name
    return None


def target_module(path, modules, layer_of):
    """The listed module a `crate::` path reaches: the longest prefix naming a module of the
    crate; an item of the crate root is `lib`."""
    segments = path.split("::")
    for k in range(len(segments), 0, -1):
        name = "::".join(segments[:k])
        if name in modules or name in layer_of:
            return placed(name, layer_of)
    return "lib"


def check(repo, root, layers):
    """Problems found under `root` (relative to `repo`) against `layers` (bottom first)."""
    layer_of = {}
    for index, names in enumerate(layers):
        for name in names:
            if name in layer_of:
                return [f"{root}: {name} is listed in two layers"]
            layer_of[name] = index
    base = os.path.join(repo, root)
    files = []
    for dirpath, _, names in os.walk(base):
        for name in sorted(names):
            if name.endswith(".rs"):
                files.append(os.path.relpath(os.path.join(dirpath, name), base))
    files.sort()
    modules = {module_of_file(f) for f in files}
    # A folder holding only submodule files is a module too (`docs` for docs/engine.rs).
    for m in list(modules):
        segments = m.split("::")
        for k in range(1, len(segments)):
            modules.add("::".join(segments[:k]))
    problems = []
    for rel in files:
        module = module_of_file(rel)
        home = placed(module, layer_of)
        shown_file = os.path.join(root, rel)
        if home is None:
            problems.append(f"{shown_file}: module {module} is in no layer; add it to LAYERS in tests/check-layers.py")
            continue
        if module.endswith("::tests") or module == "tests":
            continue  # a test module may put any layers together
        with open(os.path.join(base, rel), encoding="utf-8") as f:
            code = strip_comments(without_tests(f.read()))
        seen = set()
        for line, shown, path in imports(code):
            target = target_module(path, modules, layer_of)
            if target is None or target == home or (line, target) in seen:
                continue
            seen.add((line, target))
            if layer_of[target] > layer_of[home]:
                problems.append(
                    f"{shown_file}:{line}: {home} (layer {layer_of[home]}) imports {target} "
                    f"(layer {layer_of[target]}), a higher layer: {shown}"
                )
    return problems


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    problems = []
    for root, layers in LAYERS.items():
        problems.extend(check(repo, root, layers))
    for p in problems:
        print(p)
    if problems:
        print(f"check-layers: {len(problems)} problem(s); the layer orders are in docs/decisions/0017-server-layers.md (server) and 0018-unit-of-work-and-layers.md (core)")
        return 1
    print("check-layers: every module imports only its own layer or lower ones")
    return 0


if __name__ == "__main__":
    sys.exit(main())
