#!/usr/bin/env python3
"""Proves check-bindings.py catches drift: on copies of the generated Kotlin and Swift, renaming a
client method, a record field, an enum case (or a sealed class's case) that the apps use makes
the check fail naming it, and the untouched copies pass.

Usage: CUSTODY_KOTLIN_GEN=DIR CUSTODY_SWIFT_GEN=DIR python3 bindings/tests/test_check_bindings.py
(tests/run.sh runs it right after the check itself, on the same generated files).
"""

import importlib.util
import os
import re
import shutil
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
spec = importlib.util.spec_from_file_location("check_bindings", os.path.join(HERE, "check-bindings.py"))
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

KOTLIN = os.environ.get("CUSTODY_KOTLIN_GEN")
SWIFT = os.environ.get("CUSTODY_SWIFT_GEN")


@unittest.skipUnless(KOTLIN and SWIFT, "set CUSTODY_KOTLIN_GEN and CUSTODY_SWIFT_GEN to the generated bindings")
class DriftIsCaught(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="check-bindings-")
        self.kotlin = os.path.join(self.tmp, "kotlin")
        self.swift = os.path.join(self.tmp, "swift")
        shutil.copytree(KOTLIN, self.kotlin)
        shutil.copytree(SWIFT, self.swift)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def rename(self, folder, ext, pattern, replacement):
        """Applies a regex rename to every generated file; asserts it changed something."""
        changed = 0
        for d, _, fs in os.walk(folder):
            for f in fs:
                if not f.endswith(ext):
                    continue
                path = os.path.join(d, f)
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
                new, n = re.subn(pattern, replacement, text)
                if n:
                    with open(path, "w", encoding="utf-8") as fh:
                        fh.write(new)
                    changed += n
        self.assertGreater(changed, 0, f"{pattern} matched nothing in the generated {ext} files")

    def problems(self):
        return check.run(ROOT, self.kotlin, self.swift)

    def assert_caught(self, needle):
        found = self.problems()
        self.assertTrue(any(needle in p for p in found), f"no problem mentions {needle!r}: {found}")

    def test_the_current_tree_passes(self):
        self.assertEqual(self.problems(), [])

    def test_a_renamed_client_method_is_caught_in_both_languages(self):
        self.rename(self.kotlin, ".kt", r"`syncNow`", "`syncNowRenamed`")
        self.rename(self.swift, ".swift", r"\bfunc syncNow\(", "func syncNowRenamed(")
        found = self.problems()
        self.assertTrue(any(p.endswith(".kt" + p.split(".kt")[-1]) and "client.syncNow()" in p for p in found), found)
        self.assertTrue(any(".swift:" in p and "client.syncNow()" in p for p in found), found)

    def test_a_renamed_swift_argument_label_is_caught(self):
        self.rename(self.swift, ".swift", r"func route\(manifestId:", "func route(manifest:")
        self.assert_caught("calls client.route with labels (manifestId)")

    def test_a_removed_kotlin_type_is_caught_at_its_import(self):
        self.rename(self.kotlin, ".kt", r"\bdata class PickList\b", "data class PickListRenamed")
        self.assert_caught("imports com.custody.core.PickList")

    def test_a_renamed_sealed_case_is_caught(self):
        self.rename(self.kotlin, ".kt", r"\bclass NotEnrolled\b", "class NotEnrolledRenamed")
        self.assert_caught("CustodyException.NotEnrolled")

    def test_a_renamed_kotlin_enum_case_is_caught(self):
        self.rename(self.kotlin, ".kt", r"(?m)^(\s*)G,", r"\1GRAM,")
        self.assert_caught("uses UnitOfMeasure.G, which")

    def test_a_renamed_swift_enum_case_in_a_switch_is_caught(self):
        self.rename(self.swift, ".swift", r"(?m)^(\s*case )done\b", r"\1finished")
        self.assert_caught("matches .done")

    def test_a_renamed_record_field_is_caught(self):
        self.rename(self.swift, ".swift", r"\blet orderId\b", "let orderRef")
        self.assert_caught("reads stop.orderId (stop is a RouteStop)")


if __name__ == "__main__":
    unittest.main()
