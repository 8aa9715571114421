#!/usr/bin/env bash
# The README's test command: install (system packages, then lightkit with its test tools), then run
# the whole suite. Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_system_packages.sh
bash scripts/install.sh test,sweep,docs,serve,export,tracking  # every extra: the suite tests them all
# the tests that pip-install plugin packages into a nested venv build them without build isolation
# with this environment's setuptools, which has bdist_wheel from 70.1 on (tests/nested_venv.py)
python -m pip install --quiet --disable-pip-version-check "setuptools>=70.1"
python -m pytest -q -p no:cacheprovider "$@"
