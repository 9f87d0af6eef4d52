#!/usr/bin/env bash
# Sets up the packages, builds everything and runs the whole test suite (CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
# --browser: Chromium for the web page's headless-browser test (tests/browser).
bash scripts/setup.sh --browser
build=${EMU35_BUILD_DIR:-build}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 1500
