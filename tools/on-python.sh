#!/usr/bin/env bash
# Run pytest on another CPython: tools/on-python.sh 3.12 [pytest arguments...]
#
# Finds pythonX.Y on PATH, or installed by pyenv but not activated; makes (or reuses) the
# venv .venv-pyX.Y with this checkout installed editable, the `testing` extra and the `test`
# dependency group, and runs pytest there with the C extension required. Without that
# CPython here it says so and exits 0 (SKIP_MISSING=0 makes that a failure).
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:?usage: tools/on-python.sh X.Y [pytest arguments...]}
shift
name=python$version
interpreter=""
if command -v "$name" >/dev/null 2>&1 && "$name" -c pass >/dev/null 2>&1; then
  interpreter=$(command -v "$name")
else
  for candidate in "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/"$version"*/bin/"$name"; do
    if [ -x "$candidate" ]; then interpreter=$candidate; fi  # the newest patch release wins
  done
fi
if [ -z "$interpreter" ]; then
  echo "on-python: no $name here, skipped"
  [ "${SKIP_MISSING:-1}" = 1 ]
  exit
fi

venv=.venv-py$version
echo "on-python: $("$interpreter" --version) at $interpreter, venv $venv"
stamp=$venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ] \
   || [ -n "$(find aioproducer -name '*.[ch]' -newer "$stamp" -print -quit)" ]; then
  "$interpreter" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e '.[testing]' --group test
  touch "$stamp"
fi
exec "$venv/bin/python" -m pytest -p no:cacheprovider --implementation=compiled "$@"
