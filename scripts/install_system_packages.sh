#!/usr/bin/env bash
# System packages the test suite needs on a fresh machine, installed only when missing:
# the PostgreSQL server binaries (initdb, postgres, pg_ctl under /usr/lib/postgresql/*/bin).
# Debian/Ubuntu only; without root (or password-less sudo) or apt-get, it says so and skips.
set -euo pipefail

found() { compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null; }

if found; then
    echo "install_system_packages: PostgreSQL found: $(compgen -G '/usr/lib/postgresql/*/bin/initdb' | head -n 1)"
    exit 0
fi
if ! command -v apt-get > /dev/null; then
    echo "install_system_packages: skipped: no apt-get here; install the PostgreSQL server by hand" >&2
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
    as_root=(sudo -n)
else
    echo "install_system_packages: skipped: not root; as root run: apt-get install postgresql" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# wait for another apt or dpkg to finish rather than fail on its lock
apt=(apt-get -q -o DPkg::Lock::Timeout=600)
echo "install_system_packages: installing postgresql"
"${as_root[@]}" "${apt[@]}" update
"${as_root[@]}" "${apt[@]}" install -y --no-install-recommends postgresql
found || { echo "install_system_packages: postgresql installed, but no initdb under /usr/lib/postgresql" >&2; exit 1; }
