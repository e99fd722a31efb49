#!/usr/bin/env bash
# Everything the test suite needs, on a fresh Debian machine, then the suite itself:
#   Debian packages (D-Bus, GNOME Keyring, Chromium), the package with its test extras,
#   a private D-Bus session with an unlocked keyring, pytest, mypy --strict and ruff.
# The real-keyring and real-browser tests may not skip here: SCOPEDAUTH_REQUIRE_KEYRING=1 and
# SCOPEDAUTH_REQUIRE_BROWSER=1 make a missing Secret Service or Chromium a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dbus-run-session >/dev/null || need+=(dbus)
command -v dbus-launch >/dev/null || need+=(dbus-x11)
command -v gnome-keyring-daemon >/dev/null || need+=(gnome-keyring)
command -v chromium >/dev/null || need+=(chromium)
command -v fish >/dev/null || need+=(fish)
if ((${#need[@]})); then
  echo "installing Debian packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

python -m pip install -q --disable-pip-version-check -e ".[test]" >&2

export SCOPEDAUTH_REQUIRE_KEYRING=1 SCOPEDAUTH_REQUIRE_BROWSER=1
export SCOPEDAUTH_CHROMIUM="${SCOPEDAUTH_CHROMIUM:-$(command -v chromium)}"
dbus-run-session -- sh -c '
  printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  python -m pytest -p no:cacheprovider "$@"
' sh "$@"
mypy scopedauth
ruff check scopedauth tests benchmarks
ruff format --check scopedauth tests benchmarks >/dev/null || { echo "ruff format would change files" >&2; exit 1; }
