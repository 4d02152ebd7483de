#!/usr/bin/env bash
# The core benchmarks natively and as wasm in headless Chromium, the same
# code (crates/pfnscope-bench), side by side: figure, native, wasm, ratio.
# Outside the test command; figures go in BENCHMARKS.md.
#
#   scripts/bench-wasm.sh          # the release profile (opt-level "z")
#   scripts/bench-wasm.sh 3        # both builds at another opt-level
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/bootstrap.sh" >/dev/null
# shellcheck source=env.sh
source "$here/env.sh"
level=${1:-z}
export CARGO_PROFILE_RELEASE_OPT_LEVEL=$level
if [ ! -d "$PFNSCOPE_TOOLS/node_modules/playwright-core" ]; then
  echo "bench: installing playwright-core $PFNSCOPE_PLAYWRIGHT_VERSION from npm"
  npm install --prefix "$PFNSCOPE_TOOLS" --no-audit --no-fund --silent "playwright-core@$PFNSCOPE_PLAYWRIGHT_VERSION"
fi
cd "$PFNSCOPE_ROOT"
out=target/bench-wasm
cargo build --locked --release -p pfnscope-bench 2>/dev/null
echo "native (opt-level $level)..." >&2
target/release/pfnscope-bench > "$out.native.json"
trunk build web/bench.html --release=true --dist "$out" >/dev/null 2>&1
echo "wasm in headless Chromium (opt-level $level)..." >&2
port=8096
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$out" >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
sleep 1
NODE_PATH="$PFNSCOPE_TOOLS/node_modules" node "$here/bench-browser.js" "http://127.0.0.1:$port/" > "$out.wasm.json"
python3 - "$out.native.json" "$out.wasm.json" "$level" <<'PY'
import json, sys
native = {f["name"]: f for f in json.load(open(sys.argv[1]))}
wasm = json.load(open(sys.argv[2]))["figures"]
print(f"opt-level {sys.argv[3]}")
print(f"| figure | native | wasm | wasm / native | same state |")
print(f"| --- | --- | --- | --- | --- |")
def show(ns):
    return f"{ns / 1e6:.2f} ms" if ns >= 1e5 else f"{ns:.0f} ns"
for w in wasm:
    n = native[w["name"]]
    print(f"| {w['name']} | {show(n['ns'])} | {show(w['ns'])} | {w['ns'] / n['ns']:.2f}x | {'yes' if w['fingerprint'] == n['fingerprint'] else 'NO'} |")
PY
