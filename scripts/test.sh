#!/usr/bin/env bash
# Everything the test suite needs, on a fresh Debian machine, then the suite itself:
#   Debian packages (D-Bus, GNOME Keyring, Chromium), the package with its test extras,
#   a private D-Bus session with an unlocked keyring, pytest, mypy --strict, the layout checks
#   (import-linter's layers contract, no cycles, module sizes), ruff and the docs build.
# PostgreSQL and Redis are installed only as programs: the hosted tests start private servers.
# The real-keyring and real-browser tests may not skip here: SCOPEDAUTH_REQUIRE_KEYRING=1 and
# SCOPEDAUTH_REQUIRE_BROWSER=1 make a missing Secret Service or Chromium a failure, and
# SCOPEDAUTH_REQUIRE_HOSTED=1 a missing PostgreSQL or Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dbus-run-session >/dev/null || need+=(dbus)
command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
command -v chromium >/dev/null || need+=(chromium)
command -v fish >/dev/null || need+=(fish)
command -v curl >/dev/null || need+=(curl)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
command -v redis-server >/dev/null || need+=(redis-server)
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

python -m pip install -q --disable-pip-version-check -e ".[test]" >&2

export SCOPEDAUTH_REQUIRE_KEYRING=1 SCOPEDAUTH_REQUIRE_BROWSER=1 SCOPEDAUTH_REQUIRE_HOSTED=1
export SCOPEDAUTH_CHROMIUM="${SCOPEDAUTH_CHROMIUM:-$(command -v chromium)}"
# The keyring lives in a throw-away XDG_DATA_HOME: a developer's own login keyring is never
# touched, created or unlocked with this password.
keyrings="$(mktemp -d)"
trap 'rm -rf "$keyrings"' EXIT
XDG_DATA_HOME="$keyrings" dbus-run-session -- sh -c '
  printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null ||
    { echo "could not start an unlocked gnome-keyring" >&2; exit 1; }
  python -m pytest -p no:cacheprovider "$@"
' sh "$@"
mypy scopedauth
lint-imports --no-cache >/dev/null || lint-imports --no-cache  # the layers contract in pyproject.toml
python scripts/check_layout.py                                # no import cycles, flat modules, module size
ruff check scopedauth tests benchmarks
ruff format --check scopedauth tests benchmarks >/dev/null || { echo "ruff format would change files" >&2; exit 1; }
mkdocs build --strict --quiet --site-dir "$keyrings/site"   # the docs: every page in the nav, every link and anchor resolves
