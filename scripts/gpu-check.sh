#!/usr/bin/env bash
# On the GPU machine: unpack the carried .deb files, build with CUDA (sm_90a),
# run the GPU tests (and optionally the whole suite), run `emu35 bench`, and
# print a short table last. Usage: scripts/gpu-check.sh [--all-tests] [--no-bench]
# Environment: EMU35_BENCH_ARGS adds `emu35 bench` options (e.g. "--e2e",
# "--only decode1k,gemm"); EMU35_TEST_FILTER a --gtest_filter for the GPU tests;
# EMU35_BUILD_TARGETS limits the build to some targets.
set -uo pipefail
cd "$(dirname "$0")/.."
all_tests=0; bench=1
for a in "$@"; do
  case $a in --all-tests) all_tests=1 ;; --no-bench) bench=0 ;; esac
done
root=$PWD/.deps/root
# Installs what it can, else unpacks the carried .deb files into $root.
bash scripts/setup.sh --minimal || exit 1
if [[ -d .deps/debs && ! -d $root ]]; then
  mkdir -p "$root"
  for d in .deps/debs/*.deb; do dpkg -x "$d" "$root"; done
fi
export PKG_CONFIG_PATH=$root/usr/lib/x86_64-linux-gnu/pkgconfig:$root/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$root
export ICU_ROOT=$root/usr
# Indirect dependencies (libicudata under libicuuc) are not found through RUNPATH.
export LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# ../shared does not travel to the GPU machine: prepare-gpu-carry.sh packs it.
shared=$(realpath -m ../shared)
if [[ ! -d $shared && -f .deps/shared.tar.xz ]]; then
  [[ -d .deps/shared ]] || tar -xJf .deps/shared.tar.xz -C .deps
  shared=$PWD/.deps/shared
fi
export EMU35_FIXTURES=$shared/fixtures/reference
build=${EMU35_BUILD_DIR:-build-gpu}
out=${OUT:-/tmp/gpu-check-out}
mkdir -p "$out"
summary=()
t0=$(date +%s)
if ! cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMU35_CUDA=ON -DEMU35_DEPS_PREFIX="$root" \
     >"$out/configure.log" 2>&1; then
  tail -30 "$out/configure.log"; echo "configure FAILED"; exit 1
fi
# EMU35_BUILD_TARGETS (e.g. "emu35 emu35_test_cuda") builds only those, for quick rounds.
# shellcheck disable=SC2086  # a list of targets on purpose
if ! cmake --build "$build" -j"$(nproc)" ${EMU35_BUILD_TARGETS:+--target $EMU35_BUILD_TARGETS} >"$out/build.log" 2>&1; then
  grep -E "error|Error" "$out/build.log" | head -40; echo "build FAILED"; exit 1
fi
summary+=("build: ok ($(( $(date +%s) - t0 ))s)")
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"

if [[ -x $build/tests/emu35_test_cuda ]]; then
  $build/tests/emu35_test_cuda --gtest_brief=1 ${EMU35_TEST_FILTER:+--gtest_filter=$EMU35_TEST_FILTER} 2>&1 |
    tee "$out/cuda-tests.log" | tail -40
  summary+=("cuda tests: $(grep -E '^\[  (PASSED|FAILED)' "$out/cuda-tests.log" | tr '\n' ' ')")
fi
if (( all_tests )); then
  ctest --test-dir "$build" -j8 --timeout 900 >"$out/ctest.log" 2>&1
  summary+=("ctest: $(grep -E 'tests passed|tests failed' "$out/ctest.log")")
  grep -E "Failed|\*\*\*" "$out/ctest.log" | head -20
fi
if (( bench )) && [[ -x $build/emu35 ]]; then
  # shellcheck disable=SC2086  # EMU35_BENCH_ARGS is split into options on purpose
  $build/emu35 bench --device cuda --shared $shared ${EMU35_BENCH_ARGS:-} 2>&1 | tee "$out/bench.log" | tail -60
fi
echo
echo "==== gpu-check summary ===="
for s in "${summary[@]}"; do echo "$s"; done
[[ -f $out/bench.log ]] && grep -E "^\||^  - gemm|^device copy|^bf16 GEMM" "$out/bench.log"
exit 0
