#!/usr/bin/env bash
# The README's test command: install (system packages, then lightkit with its test tools), then run
# the whole suite. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_system_packages.sh
bash scripts/install.sh test,sweep,docs,serve,export,tracking  # every extra: the suite tests them all
python -m pytest -q -p no:cacheprovider "$@"
