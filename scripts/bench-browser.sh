#!/usr/bin/env bash
# The browser benchmark page: builds the release app, serves it, opens
# `?bench=N` in headless Chromium and prints what it measured (each step
# timed from the keypress-equivalent message to the end of its render).
# Outside the test command; figures go in BENCHMARKS.md.
#
#   scripts/bench-browser.sh                       # 64 GiB desktop, 300 steps
#   scripts/bench-browser.sh 'scenario=default&bench=200'
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/bootstrap.sh" >/dev/null
# shellcheck source=env.sh
source "$here/env.sh"
query=${1:-machine=x86-64-64g&workload=desktop&seed=1&steps=20000&bench=300}
if [ ! -d "$PFNSCOPE_TOOLS/node_modules/playwright-core" ]; then
  echo "bench: installing playwright-core $PFNSCOPE_PLAYWRIGHT_VERSION from npm"
  npm install --prefix "$PFNSCOPE_TOOLS" --no-audit --no-fund --silent "playwright-core@$PFNSCOPE_PLAYWRIGHT_VERSION"
fi
cd "$PFNSCOPE_ROOT"
# The benchmark page is a cargo feature, left out of the release app.
trunk build --release=true --features bench --dist target/bench-app >/dev/null
port=8097
python3 -m http.server "$port" --bind 127.0.0.1 --directory target/bench-app >/dev/null 2>&1 &
server=$!
trap 'kill $server' EXIT
sleep 1
NODE_PATH="$PFNSCOPE_TOOLS/node_modules" node "$here/bench-browser.js" "http://127.0.0.1:$port/?$query"
