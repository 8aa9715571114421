#!/usr/bin/env bash
# Install lightkit into the current Python environment, in editable mode.
#
#   bash scripts/install.sh                  lightkit and what it needs to train and predict (the main job)
#   bash scripts/install.sh test,sweep,docs  the same plus optional extras (README: "Optional extras")
#
# torch comes first and pinned, from where scripts/torch_source.sh says (the CPU build on Linux
# without a GPU, unless pip is configured with a package source; LIGHTKIT_TORCH_INDEX overrides),
# so that installing lightkit does not pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-}
torch_source=()
while IFS= read -r arg; do
    torch_source+=("$arg")
done < <(bash scripts/torch_source.sh)
pip=(python -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" ${torch_source[@]+"${torch_source[@]}"} "torch==2.13.0"
"${pip[@]}" -e ".${extras:+[$extras]}"
