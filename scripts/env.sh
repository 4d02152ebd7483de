# Sourced by the project's scripts: tool versions and PATH. Nothing here installs.
PFNSCOPE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PFNSCOPE_ROOT
export PFNSCOPE_TRUNK_VERSION=0.21.14
export PFNSCOPE_BINARYEN_VERSION=132
# Only the browser benchmark (scripts/bench-browser.sh) uses it.
export PFNSCOPE_PLAYWRIGHT_VERSION=1.65.1
# Tools installed outside the work tree so that a fresh clone on the same
# machine reuses them.
export PFNSCOPE_TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/pfnscope/tools"
export PATH="$PFNSCOPE_TOOLS/node_modules/.bin:$HOME/.cargo/bin:$PATH"
