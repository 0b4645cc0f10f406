#!/usr/bin/env bash
# Build the one-folder desktop bundle (packaging/jobdeck.spec) into DIR (default: dist/)
# and print its build time and size. Needs the `bundle` extra: pip install -e ".[bundle]".
# The bundle's program is then DIR/jobdeck/jobdeck; tests/e2e/test_bundle.py smoke-tests
# it when JOBDECK_BUNDLE names it.
set -euo pipefail
cd "$(dirname "$0")/.."
dist="$(realpath -m "${1:-dist}")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
python3 -m PyInstaller --noconfirm --log-level=ERROR --distpath "$dist" --workpath "$work" \
    packaging/jobdeck.spec
echo "bundle: $dist/jobdeck/jobdeck built in $(($(date +%s) - started)) s, $(du -sh "$dist/jobdeck" | cut -f1)"
