#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the emu35 build needs. Idempotent: packages
# already present are not touched, so a machine that has them all needs no network.
# Usage: scripts/setup.sh [--minimal] [--browser]
#   --minimal  only what the core library and GPU build need (no HTTP server,
#              WebP, zip, PCRE2, browser test tools); used on machines that
#              cannot reach a package registry.
#   --browser  also the browser test's tools: Debian's chromium and
#              chromium-driver (Node.js 20 comes with the machine; the test
#              installs playwright-core itself, see tests/browser).
set -euo pipefail

core=(cmake ninja-build g++ pkg-config
      libgtest-dev libgmock-dev libbenchmark-dev
      nlohmann-json3-dev libcli11-dev libyaml-cpp-dev
      libpng-dev libjpeg-dev libopenblas-dev
      libprotobuf-dev protobuf-compiler libicu-dev)
full=(libcpp-httplib-dev libwebp-dev libzip-dev zlib1g-dev libpcre2-dev libssl-dev libbrotli-dev)

# Optional: the headless-browser test of `emu35 serve`'s page (tests/browser).
browser=(chromium chromium-driver)

pkgs=("${core[@]}")
minimal=0; with_browser=0
for a in "$@"; do
  case $a in --minimal) minimal=1 ;; --browser) with_browser=1 ;; esac
done
if (( ! minimal )); then pkgs+=("${full[@]}"); fi
if (( with_browser )); then pkgs+=("${browser[@]}"); fi

# A tool already on PATH counts as installed, however it got there (the GPU
# machine has CMake and Ninja from pip, not from packages).
declare -A tool_of=([cmake]=cmake [ninja-build]=ninja [g++]=g++ [pkg-config]=pkg-config [protobuf-compiler]=protoc)
missing=()
for p in "${pkgs[@]}"; do
  if [[ -n ${tool_of[$p]:-} ]] && command -v "${tool_of[$p]}" >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if timeout 120 $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  exit 0
fi
# No registry (the GPU machine): fall back to the .deb files carried there
# (scripts/prepare-gpu-carry.sh), unpacked into a prefix the build searches.
here=$(cd "$(dirname "$0")/.." && pwd)
if compgen -G "$here/.deps/debs/*.deb" >/dev/null; then
  mkdir -p "$here/.deps/root"
  for d in "$here"/.deps/debs/*.deb; do dpkg -x "$d" "$here/.deps/root"; done
  echo "setup: no package registry; unpacked the carried packages into .deps/root"
  echo "setup: configure with -DEMU35_DEPS_PREFIX=$here/.deps/root (scripts/gpu-check.sh does)"
  exit 0
fi
echo "setup: could not install: ${missing[*]}" >&2
exit 1
