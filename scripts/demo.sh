#!/usr/bin/env bash
# The README's main job: install lightkit (no extras: only what this job runs), train on the
# embedded wine data, then predict from the best checkpoint of that run (`best` means: the most
# recent run under runs/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
lightkit fit --config configs/wine_mlp.yaml
lightkit predict --ckpt_path best
