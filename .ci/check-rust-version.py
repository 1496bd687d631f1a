#!/usr/bin/env python3
"""Every workspace crate declares the workspace's rust-version, and CI's rustc is that version:
the declared minimum is the one this run proves builds and passes (Cargo.toml says why 1.95)."""
import json, re, subprocess, sys

meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"]))
versions = {p["name"]: p.get("rust_version") for p in meta["packages"]}
missing = [name for name, v in versions.items() if not v]
if missing:
    sys.exit(f"crates without rust-version (add `rust-version.workspace = true`): {', '.join(missing)}")
declared = set(versions.values())
if len(declared) != 1:
    sys.exit(f"crates declare different rust-versions: {versions}")
declared = declared.pop()
rustc = subprocess.check_output(["rustc", "--version"], text=True)
actual = re.match(r"rustc (\d+\.\d+)", rustc).group(1)
want = ".".join(declared.split(".")[:2])
if actual != want:
    sys.exit(f"rust-version says {declared} but CI builds with {rustc.strip()}: "
             "raise rust-version to the version CI proves (and say why in Cargo.toml), or install that toolchain")
print(f"rust-version {declared}: every crate declares it and CI builds with it")
