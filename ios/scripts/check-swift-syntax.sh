#!/usr/bin/env bash
# Parses every .swift file under ios/ with the tree-sitter Swift grammar and fails on a syntax
# error. There is no Swift toolchain on Linux CI; this is the check that runs there.
#
# Usage: bash ios/scripts/check-swift-syntax.sh [--include-generated] [FILE_OR_DIR ...]
#        (default: all of ios/; uniffi's generated files under Generated/ are skipped unless
#        --include-generated: see check-swift-syntax.py)
# Ends with the line `N passed, M failed`; exits 1 if any file has a syntax error.
#
# Installs the PyPI packages `tree-sitter` and `tree-sitter-swift` (pinned below) once, into a
# venv under the repo's gitignored target/ folder, and reuses it on later runs. Override the
# location with CUSTODY_SWIFT_SYNTAX_ENV.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ios_dir="$(cd "$here/.." && pwd)"
repo_root="$(cd "$ios_dir/.." && pwd)"

# Pinned: the Python API (Language/Parser) changed across tree-sitter releases.
TREE_SITTER_VERSION="0.25.2"
TREE_SITTER_SWIFT_VERSION="0.7.4"
stamp_text="tree-sitter==$TREE_SITTER_VERSION tree-sitter-swift==$TREE_SITTER_SWIFT_VERSION"

env_dir="${CUSTODY_SWIFT_SYNTAX_ENV:-$repo_root/target/swift-syntax-check}"
venv="$env_dir/venv"
stamp="$env_dir/installed.txt"

# tree-sitter 0.25 (needed for the grammar's ABI 15) wants Python 3.10 or later.
python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1
}
python_bin="${PYTHON:-}"
if [[ -z "$python_bin" ]]; then
    for candidate in python3 python3.13 python3.12 python3.11 python3.10 python; do
        if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
            python_bin="$candidate"
            break
        fi
    done
fi
if [[ -z "$python_bin" ]] || ! python_ok "$python_bin"; then
    echo "check-swift-syntax: needs Python 3.10 or later (set PYTHON=/path/to/python3)" >&2
    exit 2
fi

install_packages() {
    mkdir -p "$env_dir"
    rm -rf "$venv" "$env_dir/site"
    if "$python_bin" -m venv "$venv" >/dev/null 2>&1 && [[ -x "$venv/bin/python" ]]; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "tree-sitter==$TREE_SITTER_VERSION" "tree-sitter-swift==$TREE_SITTER_SWIFT_VERSION"
    else
        # No venv module (e.g. Debian without python3-venv): install into a plain folder.
        rm -rf "$venv"
        "$python_bin" -m pip install --quiet --disable-pip-version-check --target "$env_dir/site" \
            "tree-sitter==$TREE_SITTER_VERSION" "tree-sitter-swift==$TREE_SITTER_SWIFT_VERSION"
    fi
    echo "$stamp_text" > "$stamp"
}

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$stamp_text" ]]; then
    echo "check-swift-syntax: installing $stamp_text into $env_dir" >&2
    install_packages
fi

if [[ -x "$venv/bin/python" ]]; then
    run_python=("$venv/bin/python")
else
    run_python=(env PYTHONPATH="$env_dir/site${PYTHONPATH:+:$PYTHONPATH}" "$python_bin")
fi

has_path=0
for arg in "$@"; do
    if [[ "$arg" != --* ]]; then has_path=1; fi
done
if [[ $has_path -eq 0 ]]; then
    set -- "$@" "$ios_dir"
fi
exec "${run_python[@]}" "$here/check-swift-syntax.py" "$@"
