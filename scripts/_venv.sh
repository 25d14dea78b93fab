# Sourced by scripts/serve and scripts/test: make .venv and install the project into it.
# A new machine needs nothing but python3 (3.11+); python3-venv comes from apt if missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POIESIS_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        echo "python3 -m venv failed; installing python3-venv" >&2
        apt-get update -qq && apt-get install -y -qq python3-venv
        python3 -m venv "$VENV"
    fi
fi
stamp="$VENV/.poiesis-installed"
if [ ! -f "$stamp" ] || [ "$ROOT/setup.cfg" -nt "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT[test]"
    touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
