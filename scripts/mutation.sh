#!/usr/bin/env bash
# Mutation testing with mutmut 3 on the modules named, against a fast, relevant set of tests.
#
#   scripts/mutation.sh MODULE.py... -- PYTEST-ARGS...
#   scripts/mutation.sh scopedauth/urls.py -- tests/test_urls.py
#
# Not part of CI (it runs the chosen tests once per mutant: minutes, not seconds). Needs the
# `mutation` extra: pip install -e ".[mutation,test]". The work happens in a throw-away copy
# of this checkout (mutmut writes mutants/ and needs a [mutmut] section of its own), so the
# tree you run it from is never touched. MUTMUT_CHILDREN (default 2) bounds the parallel test
# processes; MUTMUT_KEEP=1 keeps the copy and prints where it is (to read `mutmut show NAME`).
#
# Prints mutmut's per-mutant results and a summary line; exits non-zero only when mutmut
# itself fails. What counts as an equivalent mutant is a judgement: benchmarks/mutation.md.
set -euo pipefail
cd "$(dirname "$0")/.."

modules=()
while (($#)) && [ "$1" != "--" ]; do modules+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
if ((${#modules[@]} == 0 || $# == 0)); then
  echo "usage: $0 MODULE.py... -- PYTEST-ARGS..." >&2
  exit 2
fi
for m in "${modules[@]}"; do [ -f "$m" ] || { echo "no such module: $m" >&2; exit 2; }; done
python -c 'import mutmut' 2>/dev/null || { echo 'mutmut is missing: pip install -e ".[mutation]"' >&2; exit 2; }

work="$(mktemp -d)"
if [ "${MUTMUT_KEEP:-0}" = 1 ]; then echo "work copy: $work" >&2; else trap 'rm -rf "$work"' EXIT; fi
tar --exclude=./mutants --exclude=./.git --exclude='*/__pycache__' -cf - . | tar -xf - -C "$work"
cd "$work"

# pyproject.toml has no [tool.mutmut], so mutmut reads this file; one entry per line
{
  echo "[mutmut]"
  echo "source_paths = scopedauth"
  echo "only_mutate ="
  printf '    %s\n' "${modules[@]}"
  echo "pytest_add_cli_args = -p no:cacheprovider -q"
  echo "pytest_add_cli_args_test_selection ="
  printf '    %s\n' "$@"
} >setup.cfg

python -m mutmut run --max-children "${MUTMUT_CHILDREN:-2}" >mutmut.log 2>&1 || { tail -40 mutmut.log >&2; exit 1; }
python -m mutmut results --all true | sed '/^$/d' | sort
python - <<'EOF'
import collections, re, subprocess
out = subprocess.run(["python", "-m", "mutmut", "results", "--all", "true"], capture_output=True, text=True).stdout
status = collections.Counter(m.group(1) for m in re.finditer(r":\s*(\w[\w ]*)$", out, re.M))
total = sum(status.values())
killed = status.get("killed", 0) + status.get("timeout", 0) + status.get("caught by type check", 0)
print(f"mutants: {total}, killed: {killed} ({100 * killed / max(total, 1):.1f}%), by status: {dict(status)}")
EOF
