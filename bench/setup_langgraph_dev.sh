#!/usr/bin/env bash
# A separate venv for LangGraph's own dev server (`langgraph dev`, langgraph-cli[inmem]).
# It may pin langgraph versions other than ours, so it never touches the project's .venv.
#     bash bench/setup_langgraph_dev.sh        # idempotent; creates bench/.venv-langgraph
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-langgraph"
python="${PYTHON:-python3}"
if [[ -f "$venv/.installed" ]]; then
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "langgraph-cli[inmem]" httpx
"$venv/bin/langgraph" --version
touch "$venv/.installed"
