#!/usr/bin/env python3
"""Checks that every binding the apps use exists in the Kotlin and Swift bindings generated from
this build, so that neither app drifts from core unnoticed (issue 13 point 9). Neither the
Android app (Compose) nor the iOS app compiles here; the Android screen models (android/ui-state)
do, against the same bindings, and are checked too.

What it reads:
  - the generated Kotlin (every .kt under the Kotlin output folder: `com/custody/...`) and Swift
    (every .swift under the Swift output folder), both from `uniffi-bindgen generate` over the
    built cdylib: the types each declares (records, enums, sealed classes/enums with their cases,
    errors, the client object, type aliases), their members (methods, fields, cases) and the
    top-level functions.
  - the apps' own code: android/app/src and android/ui-state/src/main (Kotlin); ios/Custody and
    ios/CustodyKit (Swift, uniffi's own Generated/ folder left out).

What it checks (each a failure with file:line):
  1. Kotlin imports from `com.custody.core` and `com.custody.core.types` name something that
     package declares (a type or a top-level function), and fully qualified calls
     `com.custody.core.fn(` name a top-level function.
  2. Calls on the client object, `client.name(` (Kotlin and Swift; the apps call the bindings
     through a variable named `client`: ClientApi on Android, AppModel's `call { client in ... }`
     on iOS), name a method of CustodyClient. In Swift the argument labels are checked too.
  3. Qualified references to a binding type's member, `Type.Member` (a sealed class's case
     `ScannedCode.Gs1`, an enum case `UnitOfMeasure.GRAM`, an error case
     `CustodyError.InvalidInput`), name a member of that type.
  4. Swift enum-case patterns (`case .name`, `case .name(let x)`, `if case .name = x`) over a
     value of a known binding enum type (see 5) name a case of that enum.
  5. Member accesses `x.name` and chains `x.field.name` where `x` has a binding type (declared
     `x: Quantity` once in the file, or a function's parameter, within that function's body)
     name a field or method of that type (or of one of its cases, for a sealed type), or a
     member the app adds itself in an extension. Swift `switch x.field {` / `if case` patterns
     over such a value name cases of its enum (point 4 is this, for Swift).

What it cannot see (not checked; the JVM tests compile ui-state against the bindings, which
covers it there, but android/app and iOS are read as text):
  - members reached through an untyped lambda parameter (`it.field`, `{ s in s.field }`), a
    chain (`route.stops[0].field`), a value whose type is inferred (`val r = client.route(..)`,
    then `r.field`), or a variable declared in another file;
  - a variable name declared with two different types in one file (skipped to stay free of
    false positives);
  - code inside string literals and Swift string interpolations `"\(x.field)"`;
  - Swift shorthand cases over a value whose type is not known as above (`.active` of SwiftUI
    is not a binding), and enum cases in `when`/`switch` over an unknown value;
  - argument types and labels of Kotlin calls, return types, nullability, Swift shorthand
    `.name` outside a `case` pattern;
  - anything the app calls by another name than `client` (wrappers are checked where they call
    the client, not where they are called).

Usage:
  python3 bindings/tests/check-bindings.py --kotlin DIR --swift DIR [--root REPO]
Exit 0 when every use is found, 1 with one line per missing binding otherwise.
Python 3 standard library only.
"""

import argparse
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"

# Members every Kotlin/Swift value or type has, which the generated files do not spell out.
KOTLIN_IMPLICIT = {
    "copy", "toString", "hashCode", "equals", "let", "also", "apply", "run", "takeIf", "name",
    "ordinal", "entries", "values", "valueOf", "Companion", "message", "cause", "localizedMessage",
    "stackTrace", "printStackTrace", "javaClass", "close", "destroy", "use",
}
SWIFT_IMPLICIT = {
    "self", "init", "description", "debugDescription", "hashValue", "hash", "localizedDescription",
    "allCases", "rawValue", "map", "flatMap", "none", "some",
}


def strip_code(text, lang):
    """Comments and string contents blanked, keeping line numbers (and `"` so calls stay calls)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('"""', i):
            j = text.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            depth = 0
            while j < n:
                if text[j] == "\\":
                    # Swift interpolation \( ... ) may hold quotes; skip it whole.
                    if lang == "swift" and j + 1 < n and text[j + 1] == "(":
                        depth += 1
                        j += 2
                        continue
                    j += 2
                    continue
                if depth and text[j] == ")":
                    depth -= 1
                elif depth and text[j] == "(":
                    depth += 1
                elif text[j] == '"' and not depth:
                    break
                elif text[j] == "\n":
                    break
                j += 1
            out.append('""')
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Bindings:
    """The names one language's generated bindings declare."""

    def __init__(self, lang):
        self.lang = lang
        self.members = {}      # qualified type name -> set of member names
        self.nested = {}       # qualified type name -> set of qualified nested type names
        self.top_level = {}    # package (Kotlin) or "" (Swift) -> set of names
        self.labels = {}       # (type, method) -> list of label tuples (Swift)
        self.enum_cases = set()
        self.field_types = {}  # (qualified type, field) -> the field's type, when a plain name
        self.aliases = {}      # type alias -> its target's simple name

    def types(self):
        return set(self.members)

    def simple(self):
        """Simple (unqualified) type name -> qualified name, for the top-level types."""
        return {t: t for t in self.members if "." not in t}

    def all_members(self, t):
        """Members of a type and of its nested types (a sealed type's cases' fields)."""
        seen = set(self.members.get(t, set()))
        for n in self.nested.get(t, set()):
            seen |= self.all_members(n)
        return seen


KT_DECL = re.compile(r"\b(?:(?:enum|data|sealed|open|abstract|inner|value|annotation)\s+)*(class|interface|object)\s+`?(" + IDENT + r")`?")
KT_TYPEALIAS = re.compile(r"\btypealias\s+`?(" + IDENT + r")`?")
KT_FUN = re.compile(r"\bfun\s+(?:<[^>]*>\s*)?(?:" + IDENT + r"\.)?`?(" + IDENT + r")`?\s*\(")
KT_PROP = re.compile(r"\b(?:val|var)\s+`?(" + IDENT + r")`?\s*:\s*([\w.]+)?")
KT_ENUM_ENTRY = re.compile(r"^\s*`?([A-Z][A-Z0-9_]*)`?\s*(?:[,;(]|$)")
SW_DECL = re.compile(r"\b(struct|enum|class|protocol|extension|actor)\s+`?(" + IDENT + r")`?")
SW_TYPEALIAS = re.compile(r"\btypealias\s+`?(" + IDENT + r")`?")
SW_FUNC = re.compile(r"\bfunc\s+`?(" + IDENT + r")`?\s*(?:<[^>]*>)?\s*\(([^)]*)\)")
SW_PROP = re.compile(r"\b(?:var|let)\s+`?(" + IDENT + r")`?\s*:\s*([\w.]+)?")
SW_CASE = re.compile(r"^\s*(?:indirect\s+)?case\s+(.*)$")


def swift_labels(params):
    """The argument labels of a Swift parameter list (`_` for none), each with whether it has a
    default value (and so may be left out)."""
    labels = []
    for p in split_top(params):
        p = p.strip()
        if not p:
            continue
        head = p.split(":")[0].split()
        labels.append((head[0].strip("`") if head else "_", "=" in p.split(":", 1)[-1]))
    return tuple(labels)


def split_top(s):
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([<":
            depth += 1
        elif ch in ")]>":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def read_generated(lang, folder):
    b = Bindings(lang)
    ext = ".kt" if lang == "kotlin" else ".swift"
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs if f.endswith(ext))
    if not files:
        sys.exit(f"check-bindings: no {ext} files under {folder}: generate the bindings first")
    for path in files:
        with open(path, encoding="utf-8") as fh:
            code = strip_code(fh.read(), lang)
        package = ""
        m = re.search(r"^\s*package\s+([\w.]+)", code, re.M)
        if lang == "kotlin" and m:
            package = m.group(1)
        top = b.top_level.setdefault(package, set())
        declare(b, code.split("\n"), top)
    return b


def add_field(b, owner, match):
    b.members[owner].add(match.group(1))
    if match.group(2):
        b.field_types[(owner, match.group(1))] = match.group(2).split(".")[-1]


def declare(b, lines, top):
    """Walks declarations with a brace-scope stack, recording types, members and nesting."""
    stack = []          # (qualified type name or None, depth at its opening brace, is_enum)
    depth = 0
    pending = None      # (qualified name, is_enum) of a declaration waiting for its `{`
    paren = 0
    kotlin = b.lang == "kotlin"
    for idx, line in enumerate(lines):
        scope = next((s for s in reversed(stack) if s[0] is not None), None)
        owner = scope[0] if scope and scope[1] == depth - 1 else None
        owner_is_enum = scope[2] if owner else False
        decl = (KT_DECL if kotlin else SW_DECL).search(line)
        alias = (KT_TYPEALIAS if kotlin else SW_TYPEALIAS).search(line)
        if alias and depth == 0:
            top.add(alias.group(1))
            b.members.setdefault(alias.group(1), set())
            target = re.search(r"=\s*([\w.]+)", line[alias.end():])
            if target:
                b.aliases[alias.group(1)] = target.group(1).split(".")[-1]
        if decl and not (kotlin and decl.group(1) == "object" and "companion" in line[: decl.start() + 1].split()[-1:]):
            name = decl.group(2)
            if kotlin and re.search(r"\bcompanion\s+object", line):
                name = None
            if name:
                is_extension = not kotlin and decl.group(1) == "extension"
                qualified = name if (owner is None or is_extension) else f"{owner}.{name}"
                b.members.setdefault(qualified, set())
                if owner and not is_extension:
                    b.members[owner].add(name)
                    b.nested.setdefault(owner, set()).add(qualified)
                if depth == 0:
                    top.add(name)
                is_enum = "enum" in line[: decl.end()]
                pending = (qualified, is_enum)
        elif owner is not None:
            target = owner
            if kotlin:
                f = KT_FUN.search(line)
                if f:
                    b.members[target].add(f.group(1))
                for p in KT_PROP.finditer(line):
                    add_field(b, target, p)
                if owner_is_enum:
                    e = KT_ENUM_ENTRY.match(line)
                    if e:
                        b.members[target].add(e.group(1))
                        b.enum_cases.add(e.group(1))
            else:
                f = SW_FUNC.search(line)
                if f:
                    b.members[target].add(f.group(1))
                    b.labels.setdefault((target, f.group(1)), set()).add(swift_labels(f.group(2)))
                for p in SW_PROP.finditer(line):
                    add_field(b, target, p)
                c = SW_CASE.match(line)
                if c and owner_is_enum:
                    for part in split_top(c.group(1)):
                        cm = re.match(r"\s*`?(" + IDENT + r")`?", part)
                        if cm:
                            b.members[target].add(cm.group(1))
                            b.enum_cases.add(cm.group(1))
        elif depth == 0:
            f = (KT_FUN if kotlin else SW_FUNC).search(line)
            if f and not re.search(r"\b(private|internal|fileprivate)\b", line[: f.start()]):
                top.add(f.group(1))
                if not kotlin:
                    b.labels.setdefault(("", f.group(1)), set()).add(swift_labels(f.group(2)))
        # Kotlin record fields live in the constructor's parentheses, before the `{`.
        if kotlin and pending and paren > 0 and not decl:
            for p in KT_PROP.finditer(line):
                add_field(b, pending[0], p)
        for ch in line:
            if ch == "(":
                paren += 1
                if pending and kotlin and decl is not None:
                    pass
            elif ch == ")":
                paren = max(0, paren - 1)
            elif ch == "{":
                if pending:
                    stack.append((pending[0], depth, pending[1]))
                    pending = None
                else:
                    stack.append((None, depth, False))
                depth += 1
            elif ch == "}":
                depth -= 1
                while stack and stack[-1][1] >= depth:
                    stack.pop()
        if decl and kotlin and pending and paren > 0:
            # Constructor parameters on the declaration line itself.
            for p in KT_PROP.finditer(line[decl.end():]):
                add_field(b, pending[0], p)
        if pending and paren == 0 and "{" not in line:
            nxt = next((l for l in lines[idx + 1:] if l.strip()), "")
            stripped = line.rstrip()
            if not nxt.lstrip().startswith("{") and not stripped.endswith((",", ":", "(")) and not nxt.lstrip().startswith((":", ",", "where")):
                pending = None
    return b


# ---- the apps --------------------------------------------------------------------------------

def app_files(root, folders, ext, skip=()):
    out = []
    for folder in folders:
        base = os.path.join(root, folder)
        for d, _, fs in os.walk(base):
            if any(s in d.split(os.sep) for s in skip):
                continue
            out.extend(os.path.join(d, f) for f in fs if f.endswith(ext))
    return sorted(out)


def read_app(paths, lang):
    """Stripped code per file, and what the app itself declares (types, members, enum cases)."""
    code = {}
    declared_types, declared_members, enum_cases = set(), set(), set()
    extension_members = {}
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            c = strip_code(fh.read(), lang)
        code[p] = c
        own = Bindings(lang)
        declare(own, c.split("\n"), set())
        kinds = r"(?:class|interface|object|typealias)" if lang == "kotlin" else r"(?:struct|enum|class|protocol|actor|typealias)"
        declared_types |= set(re.findall(r"\b" + kinds + r"\s+(" + IDENT + r")", c))
        for t, ms in own.members.items():
            declared_members.update(ms)
            # Swift: what an `extension T { }` adds to T (and, harmlessly, an app type's own members).
            extension_members.setdefault(t.split(".")[-1], set()).update(ms)
        enum_cases |= own.enum_cases
        if lang == "kotlin":
            for m in re.finditer(r"\b(?:fun|val|var)\s+(?:<[^>]*>\s*)?(" + IDENT + r")\.`?(" + IDENT + r")`?", c):
                extension_members.setdefault(m.group(1), set()).add(m.group(2))
                declared_members.add(m.group(2))
        else:
            for m in re.finditer(r"^\s*(?:indirect\s+)?case\s+(.*)$", c, re.M):
                for part in split_top(m.group(1)):
                    cm = re.match(r"\s*(" + IDENT + r")", part)
                    if cm:
                        enum_cases.add(cm.group(1))
    return code, declared_types, declared_members, enum_cases, extension_members


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def check_app(root, lang, bindings, paths):
    problems = []
    code, app_types, _app_members, app_cases, ext_members = read_app(paths, lang)
    implicit = KOTLIN_IMPLICIT if lang == "kotlin" else SWIFT_IMPLICIT
    # Binding types the app does not shadow with its own declaration of the same name.
    btypes = {t for t in bindings.simple() if t not in app_types}
    client = {m for t in ("CustodyClient", "CustodyClientInterface", "CustodyClientProtocol") for m in bindings.members.get(t, set())}
    client |= ext_members.get("CustodyClient", set())

    def canon(t):
        """A type alias's target (a custom type is an alias of a record or of a builtin)."""
        seen = set()
        while t in bindings.aliases and t not in seen:
            seen.add(t)
            t = bindings.aliases[t]
        return t

    def allowed(t):
        return bindings.all_members(canon(t)) | implicit | ext_members.get(t, set()) | ext_members.get(canon(t), set())

    # An alias of a builtin (a tag is a String) is no record: its members are the builtin's.
    btypes = {t for t in btypes if t not in bindings.aliases or canon(t) in bindings.members and canon(t) not in bindings.aliases}

    for path, c in code.items():
        rel = os.path.relpath(path, root)

        def report(pos, message):
            problems.append(f"{rel}:{line_of(c, pos)}: {message}")

        if lang == "kotlin":
            for m in re.finditer(r"^\s*import\s+(com\.custody\.core(?:\.types)?)\.(" + IDENT + r")\s*$", c, re.M):
                package, name = m.group(1), m.group(2)
                if name not in bindings.top_level.get(package, set()):
                    report(m.start(2), f"imports {package}.{name}, which the generated Kotlin bindings do not declare")
            for m in re.finditer(r"(?<![\w.])com\.custody\.core\.(" + IDENT + r")\s*\(", c):
                if m.group(1) not in bindings.top_level.get("com.custody.core", set()):
                    report(m.start(1), f"calls com.custody.core.{m.group(1)}(), which the generated Kotlin bindings do not declare")

        # 2. calls on the client
        for m in re.finditer(r"(?<!\w)client\s*\.\s*(" + IDENT + r")\s*\(", c):
            name = m.group(1)
            if name not in client and name not in implicit:
                report(m.start(1), f"calls client.{name}(), which CustodyClient does not have in the generated {lang} bindings")
                continue
            if lang == "swift":
                args = call_args(c, m.end() - 1)
                labels = swift_call_labels(args)
                known = bindings.labels.get(("CustodyClient", name), set()) | bindings.labels.get(("CustodyClientProtocol", name), set())
                if known and labels is not None and not any(labels_match(labels, k) for k in known):
                    want = " or ".join(sorted("(" + ", ".join(label for label, _ in k) + ")" for k in known))
                    report(m.start(1), f"calls client.{name} with labels ({', '.join(labels)}); the generated Swift has {want}")

        # 3. Type.Member
        for m in re.finditer(r"(?<![\w.])(" + IDENT + r")\.(" + IDENT + r")\b", c):
            t, member = m.group(1), m.group(2)
            if t not in btypes:
                continue
            if member not in allowed(t):
                report(m.start(2), f"uses {t}.{member}, which {t} does not have in the generated {lang} bindings")

        # Variables declared with a binding type in this file (skipped when a name is declared
        # with two types).
        declared = {}
        # Types are capitalised; `stop: number` is a Swift call's argument, not a declaration.
        decl_re = r"(?<![\w.])`?(" + IDENT + r")`?\s*:\s*([A-Z][A-Za-z0-9_]*)[?!]?(?=[\s,)={]|$)"
        for m in re.finditer(decl_re, c, re.M):
            declared.setdefault(m.group(1), set()).add(m.group(2))
        # A name also bound without a type (`val x =`, `for x in`, a lambda's `x ->` or `x in`,
        # a pattern's `let x`) may be another value: not checked.
        untyped = set(re.findall(r"\b(?:val|var|let)\s+(" + IDENT + r")\b(?!\s*:)", c))
        untyped |= set(re.findall(r"\bfor\s*\(?\s*(" + IDENT + r")\s+in\b", c))
        untyped |= set(re.findall(r"[{,(]\s*(" + IDENT + r")\s*(?:->|\bin\b)", c))
        untyped |= set(re.findall(r"\(\s*(" + IDENT + r")\s*,[^)]*\)\s*->", c))
        typed = {v: next(iter(ts)) for v, ts in declared.items() if len(ts) == 1 and v not in untyped}
        typed = {v: t for v, t in typed.items() if t in btypes and v not in ("it", "self", "this", "client") and not v[0].isupper()}

        def resolve(expr, pos):
            """The binding type of `var.field.field` at `pos`, or None."""
            parts = [x for x in re.split(r"\s*[?!]?\.\s*", expr.strip()) if x]
            t = next((st for v, st, lo, hi in scopes if parts and v == parts[0] and lo <= pos < hi), None)
            if t is None:
                return None
            for f in parts[1:]:
                t = field_type(t, f)
                if t is None or t not in btypes:
                    return None
            return t

        def field_type(t, f):
            for owner in [t] + sorted(bindings.nested.get(t, set())):
                if (owner, f) in bindings.field_types:
                    return bindings.field_types[(owner, f)]
            return None

        # Where a name has a binding type: a name typed once in the whole file, or a function's parameter within that function's
        # body (when the body does not bind the name again).
        scopes = [(var, t, 0, len(c)) for var, t in typed.items()]
        fn_re = r"\b(?:func|fun)\s+`?" + IDENT + r"`?\s*(?:<[^>]*>)?\s*\("
        for f in re.finditer(fn_re, c):
            params = call_args(c, f.end() - 1)
            if params is None:
                continue
            brace = c.find("{", f.end() + len(params))
            if brace < 0 or c.find("\n\n", f.end() + len(params), brace) >= 0:
                continue
            body = call_args(c, brace)
            if body is None:
                continue
            for pm in re.finditer(r"`?(" + IDENT + r")`?\s*:\s*([A-Z][A-Za-z0-9_]*)[?!]?\s*(?:,|=|$)", params):
                var, t = pm.group(1), pm.group(2)
                if t not in btypes or var in typed or var in ("self", "this", "client"):
                    continue
                rebinds = re.search(r"\b(?:val|var|let)\s+" + re.escape(var) + r"\b|\bfor\s*\(?\s*" + re.escape(var) + r"\s+in\b|[{,(]\s*" + re.escape(var) + r"\s*(?:->|\bin\b)", body)
                if not rebinds:
                    scopes.append((var, t, brace, brace + len(body) + 1))
        # 4. Swift case patterns over a value whose binding enum is known: `switch x.y {` with
        # `case .name`, and `if case .name(...) = x` / `guard case ...`.
        if lang == "swift":
            for m in re.finditer(r"\bswitch\s+([\w.?! ]+?)\s*\{", c):
                t = resolve(m.group(1), m.start())
                if t is None:
                    continue
                body = call_args(c, m.end() - 1) or ""
                depth = 0
                for line_match in re.finditer(r"[^\n]*", body):
                    line = line_match.group(0)
                    if depth == 0:
                        cm = re.match(r"\s*case\b(.*)", line)
                        if cm:
                            check_cases(cm.group(1), t, m.end() + line_match.start() + cm.start(1), report, bindings)
                    depth += line.count("{") - line.count("}")
            for m in re.finditer(r"\b(?:if|guard|,)\s+case\b([^=\n]*)=\s*([\w.?! ]+?)(?=\s*(?:else\b|\{|,|$))", c, re.M):
                t = resolve(m.group(2), m.start())
                if t is not None:
                    check_cases(m.group(1), t, m.start(1), report, bindings)

        # 5. member accesses on typed variables (scopes above)
        for var, t, lo, hi in scopes:
            for m in re.finditer(r"(?<![\w.])" + re.escape(var) + r"((?:\s*[?!]?\.\s*`?" + IDENT + r"`?)+)", c[:hi]):
                if m.start() < lo:
                    continue
                cur = t
                path = var
                for f in [x for x in re.split(r"\s*[?!]?\.\s*", m.group(1)) if x]:
                    f = f.strip("`")
                    if f not in allowed(cur):
                        report(m.start(1), f"reads {path}.{f} ({path} is a {cur}), which {cur} does not have in the generated {lang} bindings")
                        break
                    nxt = field_type(cur, f)
                    if nxt is None or nxt not in btypes:
                        break
                    cur, path = nxt, f"{path}.{f}"
    return problems


def check_cases(pattern, enum, pos, report, bindings):
    """The leading-dot names of one case pattern must be cases of `enum`."""
    pattern = re.split(r"(?<![=!<>])=(?!=)|:\s*(?:$|return\b|\S)|\bwhere\b", pattern)[0]
    cases = bindings.all_members(enum) | {"some", "none"}
    for d in re.finditer(r"(?<![\w)\]?!])\.(" + IDENT + r")", pattern):
        if d.group(1) not in cases:
            report(pos + d.start(1), f"matches .{d.group(1)}, which {enum} does not have in the generated Swift bindings")


def call_args(c, open_paren):
    depth, i = 0, open_paren
    while i < len(c):
        if c[i] in "([{":
            depth += 1
        elif c[i] in ")]}":
            depth -= 1
            if depth == 0:
                return c[open_paren + 1: i]
        i += 1
    return None


def swift_call_labels(args):
    if args is None:
        return None
    if "{" in args:
        return None     # a trailing-closure or closure argument: too clever for a text check
    labels = []
    for a in split_top(args):
        a = a.strip()
        if not a:
            continue
        m = re.match(r"(" + IDENT + r")\s*:(?!:)", a)
        labels.append(m.group(1) if m else "_")
    return tuple(labels)


def labels_match(call, declared):
    i = 0
    for label, has_default in declared:
        if i < len(call) and call[i] == label:
            i += 1
        elif not has_default:
            return False
    return i == len(call)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kotlin", required=True, help="folder of the generated Kotlin bindings")
    ap.add_argument("--swift", required=True, help="folder of the generated Swift bindings")
    ap.add_argument("--root", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
    args = ap.parse_args(argv)
    problems = run(args.root, args.kotlin, args.swift)
    for p in problems:
        print(p)
    if problems:
        print(f"check-bindings: {len(problems)} use(s) of bindings that the generated code does not have")
        return 1
    print("check-bindings: every binding the apps use is in the generated Kotlin and Swift")
    return 0


def run(root, kotlin_dir, swift_dir):
    kotlin = read_generated("kotlin", kotlin_dir)
    swift = read_generated("swift", swift_dir)
    kt_files = app_files(root, ["android/app/src", "android/ui-state/src/main"], ".kt")
    sw_files = app_files(root, ["ios/Custody", "ios/CustodyKit"], ".swift", skip=("Generated",))
    return check_app(root, "kotlin", kotlin, kt_files) + check_app(root, "swift", swift, sw_files)


if __name__ == "__main__":
    sys.exit(main())
