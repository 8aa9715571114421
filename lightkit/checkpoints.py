"""Checkpoints: finding them, loading them safely, and reading back the config stored in them.

``--ckpt_path`` takes a file, a run directory, ``best`` or ``last``.

Checkpoints are loaded with ``torch.load(weights_only=True)``: a file that carries pickled code
is refused. ``LIGHTKIT_UNSAFE_LOAD=1`` turns that off, for files you trust.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

from lightkit.errors import CheckpointError
from lightkit.runs import find_latest_run

__all__ = [
    "CONFIG_KEY",
    "checkpoint_config",
    "explain_state_dict_mismatch",
    "load_checkpoint",
    "resolve_ckpt_path",
    "run_dir_of",
    "unsafe_load",
]

#: the key under which lightkit stores its own record inside a checkpoint
CONFIG_KEY = "lightkit"


def unsafe_load() -> bool:
    """Whether the user opted out of ``weights_only`` loading (``LIGHTKIT_UNSAFE_LOAD=1``)."""
    return os.environ.get("LIGHTKIT_UNSAFE_LOAD", "").lower() in ("1", "true", "yes")


def run_dir_of(ckpt: Path) -> Path | None:
    """The run directory a checkpoint lives in (``<run>/checkpoints/x.ckpt``), if it does."""
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None


def _pick_in_run(run: Path, which: str) -> Path:
    ckpts = run / "checkpoints"
    order = [which] if which in ("best", "last") else ["best", "last"]
    for name in order:
        if (ckpts / f"{name}.ckpt").is_file():
            return ckpts / f"{name}.ckpt"
    found = sorted(ckpts.glob("*.ckpt"), key=os.path.getmtime) if ckpts.is_dir() else []
    if found:  # a run of another ModelCheckpoint: Lightning's epoch=N-step=M.ckpt, or the user's names
        return found[-1] if which == "last" else (_best_recorded(found[-1]) or found[-1])
    raise CheckpointError(
        f"run directory {str(run)!r} has no {' or '.join(f'{n}.ckpt' for n in order)}",
        "did that run finish an epoch? Its checkpoints/ folder is empty.",
    )


def _best_recorded(newest: Path) -> Path | None:
    """The best checkpoint a ModelCheckpoint recorded in ``newest`` (its callback state), if it exists."""
    try:
        states = _torch_load(newest, weights_only=True).get("callbacks") or {}
    except Exception:  # noqa: BLE001 - an unreadable file is reported when it is loaded for real
        return None
    for key, state in states.items():
        path = state.get("best_model_path") if str(key).startswith("ModelCheckpoint") else None
        if path and Path(path).is_file():
            return Path(path)
    return None


def resolve_ckpt_path(value: str, runs_root: str | Path, run_name: str | None = None) -> Path:
    """Turn ``--ckpt_path`` into a checkpoint file.

    Accepts a ``.ckpt`` file; a run directory (its best checkpoint, else its last); or ``best`` /
    ``last`` for the run named by ``--run.name``, else the most recent run under ``runs_root``.
    """
    if value in ("best", "last"):
        run = Path(runs_root) / run_name if run_name else find_latest_run(runs_root)
        if run is None or not run.is_dir():
            raise CheckpointError(
                f"--ckpt_path {value}: no run directory "
                + (f"{str(run)!r}" if run is not None else f"under {str(runs_root)!r}"),
                "train first with `lightkit fit`, or give a checkpoint file or run directory.",
            )
        return _pick_in_run(run, value)
    path = Path(value)
    if path.is_dir():
        if path.name == "checkpoints":
            path = path.parent
        return _pick_in_run(path, "any")
    if path.is_file():
        return path
    nearby = sorted(str(p) for p in path.parent.glob("*.ckpt")) if path.parent.is_dir() else []
    raise CheckpointError(
        f"checkpoint {value!r} (from --ckpt_path) does not exist",
        f"checkpoints in {str(path.parent)!r}: {nearby[:5]}" if nearby else "give a .ckpt file, a run directory, "
        "or `best`/`last`.",
    )


def _previous_good(path: Path) -> str:
    """Offer the newest other checkpoint of the same run that loads, for a corrupt one."""
    if run_dir_of(path) is None:
        return "re-create it, or give another checkpoint."
    others = [p for p in sorted(path.parent.glob("*.ckpt"), key=os.path.getmtime, reverse=True) if p != path]
    for other in others:
        try:
            _torch_load(other, weights_only=True)
        except Exception:  # noqa: BLE001 - a bad neighbour is simply not offered
            continue
        return f"the previous good checkpoint is {str(other)!r}: pass it with --ckpt_path."
    return "no other checkpoint of that run loads; train again."


def _torch_load(path: Path, weights_only: bool) -> dict[str, Any]:
    import torch

    return torch.load(path, map_location="cpu", weights_only=weights_only)


def _first_sentence(err: BaseException) -> str:
    text = " ".join(str(err).split())
    text = text.split(". ", 1)[0][:100] if text else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint onto the CPU, refusing pickled code unless :func:`unsafe_load` says otherwise.

    Raises:
        CheckpointError: The file carries pickled code (and ``LIGHTKIT_UNSAFE_LOAD`` is not set),
            is truncated or corrupt (the hint offers the run's previous good checkpoint), or is
            not a Lightning checkpoint.
    """
    path = Path(path)
    weights_only = not unsafe_load()
    try:
        checkpoint = _torch_load(path, weights_only)
    except pickle.UnpicklingError as err:
        if weights_only and "weights only load failed" in str(err).lower():
            raise CheckpointError(
                f"refusing to load {str(path)!r}: it contains pickled code, not only weights"
                + (f" ({detail})" if (detail := _unsafe_global(str(err))) else ""),
                "nothing in it was run. Only if you trust the file's author, set LIGHTKIT_UNSAFE_LOAD=1 "
                "to load it anyway (see docs/reliability.md).",
            ) from None
        raise CheckpointError(
            f"checkpoint {str(path)!r} is corrupt ({_first_sentence(err)})", _previous_good(path)
        ) from None
    except Exception as err:  # noqa: BLE001 - torch reports damage as many types (OSError, KeyError, ...)
        size = path.stat().st_size if path.exists() else 0
        raise CheckpointError(
            f"checkpoint {str(path)!r} is truncated or corrupt ({size} bytes; {_first_sentence(err)})",
            _previous_good(path),
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{str(path)!r} is not a Lightning checkpoint (no state_dict)",
            "give a .ckpt file written by `lightkit fit` or a Lightning Trainer.",
        )
    return checkpoint


def _unsafe_global(text: str) -> str:
    """The global the weights-only unpickler refused, e.g. ``posix.system``."""
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text) or re.search(r"GLOBAL ([\w.]+)", text)
    return f"it asks for {match.group(1)}" if match else ""


def explain_state_dict_mismatch(text: str, ckpt_path: str | None) -> CheckpointError:
    """A short error for ``load_state_dict`` failing: the checkpoint is from another model.

    Args:
        text: The ``RuntimeError`` message of ``Module.load_state_dict``.
        ckpt_path: ``--ckpt_path`` as given, for the message.
    """
    owner = re.search(r"loading state_dict for (\w+)", text)
    shapes = re.findall(
        r"size mismatch for ([\w.]+): copying a param with shape torch\.Size\((\[[^\]]*\])\) from checkpoint, "
        r"the shape in current model is torch\.Size\((\[[^\]]*\])\)",
        text,
    )
    missing = re.search(r"Missing key\(s\) in state_dict: (.*?)\.\s*$", text, flags=re.M)
    unexpected = re.search(r"Unexpected key\(s\) in state_dict: (.*?)\.\s*$", text, flags=re.M)
    parts = []
    if shapes:
        name, theirs, ours = shapes[0]
        parts.append(f"{len(shapes)} tensors differ in shape, e.g. {name}: {theirs} in the checkpoint, {ours} in the model")
    for label, match in (("missing", missing), ("unexpected", unexpected)):
        if match:
            keys = re.findall(r'"([^"]+)"', match.group(1))
            parts.append(f"{len(keys)} {label} keys (e.g. {keys[0]})" if keys else f"{label} keys")
    where = f" {ckpt_path!r}" if ckpt_path else ""
    model = owner.group(1) if owner else "the model"
    return CheckpointError(
        f"checkpoint{where} does not fit {model}: " + ("; ".join(parts) or "its weights have other names or shapes"),
        "it was trained with another model or other data. Drop the overrides that change the "
        "architecture (see 'changed against the checkpoint' above), or use the matching checkpoint.",
    )


def checkpoint_config(checkpoint: dict[str, Any]) -> str | None:
    """The resolved config (YAML) lightkit stored in the checkpoint, if it did."""
    record = checkpoint.get(CONFIG_KEY)
    return record.get("config") if isinstance(record, dict) else None
