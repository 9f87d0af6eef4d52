#!/usr/bin/env bash
# The browser test of `emu35 serve`'s web page (registered with CTest).
# Starts the server on the fixture model, installs playwright-core here
# (node_modules, git-ignored) when missing, and runs browser_test.mjs with
# Debian's chromium. Exits 77 (CTest: skipped) when chromium, node or the
# HTTP server are not available.
#   run_browser_test.sh EMU35_BIN FIXTURES_DIR OUT_DIR
set -uo pipefail
SKIP=77
here=$(cd "$(dirname "$0")" && pwd)
bin=$1 fixtures=${EMU35_FIXTURES:-$2} out=$3
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z $chromium || ! -x $chromium ]]; then
  echo "SKIP: chromium is not installed (scripts/setup.sh --browser)"; exit $SKIP
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node / npm are not installed (scripts/setup.sh --browser)"; exit $SKIP
fi
if [[ ! -d $here/node_modules/playwright-core ]]; then
  if ! (cd "$here" && npm ci --no-audit --no-fund --loglevel=error); then
    echo "SKIP: npm ci could not install playwright-core"; exit $SKIP
  fi
fi
mkdir -p "$out"
"$bin" serve --model "$fixtures/model" --vq "$fixtures/vq" --port 0 --threads 2 \
  --preview-rows 3 --preview-interval-ms 0 >"$out/serve.out" 2>"$out/serve.err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
port=""
for _ in $(seq 1 600); do
  port=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\)/.*#\1#p' "$out/serve.out")
  [[ -n $port ]] && break
  if ! kill -0 $pid 2>/dev/null; then
    if grep -q "built without the HTTP server" "$out/serve.err"; then echo "SKIP: emu35 has no HTTP server"; exit $SKIP; fi
    echo "FAIL: emu35 serve exited:"; cat "$out/serve.err"; exit 1
  fi
  sleep 0.1
done
[[ -n $port ]] || { echo "FAIL: emu35 serve did not start"; cat "$out/serve.err"; exit 1; }
node "$here/browser_test.mjs" --url "http://127.0.0.1:$port/" --chromium "$chromium" --out "$out" --fixtures "$fixtures"
rc=$?
echo "screenshots: $out/drawing.png $out/screenshot.png"
exit $rc
