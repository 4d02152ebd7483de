#!/usr/bin/env bash
# Installs what is missing, builds the web app in release mode and serves it
# on http://127.0.0.1:8080 with the built-in default scenario. Ctrl+C stops it.
#
#   scripts/serve.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$here/bootstrap.sh"
# shellcheck source=env.sh
source "$here/env.sh"
cd "$PFNSCOPE_ROOT"
echo "pfnscope: building, then serving on http://127.0.0.1:8080"
exec trunk serve --release
