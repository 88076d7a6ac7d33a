#!/usr/bin/env bash
# A separate venv for Aegra (`aegra-api` + its CLI `aegra-cli`, PyPI), the open-source
# LangGraph-API server on PostgreSQL that bench/peers.py compares with. Its releases since
# 0.7 need Python >= 3.12 (ours is 3.11), and it pins its own langgraph, so it never
# touches the project's .venv.
#     bash bench/setup_aegra.sh        # idempotent; creates bench/.venv-aegra
#     PYTHON=/path/to/python3.12 bash bench/setup_aegra.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-aegra"
if [[ -f "$venv/.installed" ]]; then
    exit 0
fi
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
    for candidate in python3.12 python3.13 "$HOME"/.pyenv/versions/3.12*/bin/python3 "$HOME"/.pyenv/versions/3.13*/bin/python3; do
        # run it, not just find it: a pyenv shim exists for versions that are not selected
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' > /dev/null 2>&1; then
            python="$candidate"
            break
        fi
    done
fi
if [[ -z "$python" ]]; then
    echo "setup_aegra.sh: no Python >= 3.12 found (set PYTHON=...); aegra-api >= 0.7 requires it" >&2
    exit 1
fi
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet aegra-cli aegra-api
"$venv/bin/aegra" version
touch "$venv/.installed"
