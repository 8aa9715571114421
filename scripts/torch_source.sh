#!/usr/bin/env bash
# Where pip should take torch from, for scripts/install.sh: prints the pip arguments (one a line,
# none for pip's own choice) on stdout and the reason on stderr.
#
#   LIGHTKIT_TORCH_INDEX=URL    take torch from this index (e.g. https://download.pytorch.org/whl/cu126)
#   LIGHTKIT_TORCH_INDEX=       leave the choice to pip and its configuration
#
# Without LIGHTKIT_TORCH_INDEX: the CPU build from PyTorch's CPU index on Linux without an NVIDIA
# GPU (PyPI's Linux torch is a multi-GB CUDA build); pip's own choice where pip is configured with
# a package source (index-url, extra-index-url or find-links: a mirror or a local wheel folder, whose
# torch is what this machine is meant to get), where a GPU is present, and on macOS and Windows,
# where PyPI's torch already is the CPU build.
set -euo pipefail

cpu_index=https://download.pytorch.org/whl/cpu

if [ "${LIGHTKIT_TORCH_INDEX+set}" = set ]; then
    if [ -n "$LIGHTKIT_TORCH_INDEX" ]; then
        echo "torch: from $LIGHTKIT_TORCH_INDEX (LIGHTKIT_TORCH_INDEX)" >&2
        printf '%s\n' --index-url "$LIGHTKIT_TORCH_INDEX"
    else
        echo "torch: as pip's configuration chooses (LIGHTKIT_TORCH_INDEX is empty)" >&2
    fi
    exit 0
fi

if [ -n "${PIP_INDEX_URL:-}${PIP_EXTRA_INDEX_URL:-}${PIP_FIND_LINKS:-}" ] ||
    python -m pip config list 2> /dev/null | grep -Eq '^[^=]*\.(index-url|extra-index-url|find-links)='; then
    echo "torch: from the package source pip is configured with (LIGHTKIT_TORCH_INDEX overrides)" >&2
    exit 0
fi

case "$(uname -s)" in
    Linux) ;;
    *)
        echo "torch: from PyPI, whose build for $(uname -s) is the CPU one" >&2
        exit 0
        ;;
esac

if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L > /dev/null 2>&1; then
    echo "torch: the CUDA build from PyPI, for the NVIDIA GPU found (LIGHTKIT_TORCH_INDEX overrides)" >&2
    exit 0
fi

echo "torch: the CPU build from $cpu_index, no GPU found (LIGHTKIT_TORCH_INDEX overrides)" >&2
printf '%s\n' --index-url "$cpu_index"
