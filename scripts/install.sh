#!/usr/bin/env bash
# Install lightkit and its test tools into the current Python environment.
# torch comes first and pinned: a CPU build is installed before anything that depends on torch,
# so pip does not pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
python -m pip install --quiet --disable-pip-version-check -e ".[test,sweep,docs,serve,export,tracking]"
