"""The sweep file: search space, metric, direction, sampler and pruner, read and checked.

A sweep file looks like this (every key but ``params`` has a default)::

    metric: val_loss            # a metric the model logs every validation epoch
    direction: minimize         # or maximize
    value: best                 # the trial's value: best epoch (default) or last epoch
    n_trials: 20                # finished + pruned trials the study aims for
    sampler: tpe                # tpe (default), random or grid; or {type: tpe, seed: 0, ...}
    pruner: median              # median (default), percentile, halving, hyperband, threshold, none
    params:                     # any key you could pass as --<key> to `lightkit fit`
      model.init_args.lr: {type: float, low: 1.0e-4, high: 1.0e-1, log: true}
      model.init_args.hidden_sizes[0]: {type: int, low: 16, high: 256, step: 16}
      model.init_args.dropout: {type: float, low: 0.0, high: 0.5, step: 0.1}
      data.init_args.batch_size: {type: categorical, choices: [16, 32, 64]}

``key[i]`` sets item ``i`` of a list; all items ``0..n-1`` of that key must be given. This module
imports only the standard library and PyYAML; Optuna objects are made in :mod:`lightkit.sweep.study`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lightkit.errors import ConfigError

__all__ = ["ParamSpec", "SweepSpec", "load_sweep_spec", "trial_flags"]

_TOP_KEYS = ("name", "metric", "direction", "value", "n_trials", "sampler", "pruner", "params")
_TYPES = ("float", "int", "categorical")
_INDEXED = re.compile(r"^(?P<key>[A-Za-z_][\w.]*)\[(?P<index>\d+)\]$")
_KEY = re.compile(r"^[A-Za-z_][\w.]*$")
_SCALARS = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class ParamSpec:
    """One searched config key and its distribution.

    Args:
        name: The key as written in the sweep file, e.g. ``model.init_args.lr`` or
            ``model.init_args.hidden_sizes[0]``.
        type: ``float``, ``int`` or ``categorical``.
        low: Lower bound (float and int).
        high: Upper bound, included (float and int).
        log: Sample on a log scale.
        step: Spacing of the values (float and int).
        choices: The values of a categorical parameter. Lists and mappings are kept as YAML text
            in the study, because Optuna stores only scalars.
    """

    name: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    @property
    def encoded(self) -> bool:
        """Whether the choices are stored as YAML text (some choice is a list or a mapping)."""
        return any(not isinstance(c, _SCALARS) for c in self.choices)

    def stored_choices(self) -> list[Any]:
        """The choices as Optuna stores them."""
        return [_flow(c) for c in self.choices] if self.encoded else list(self.choices)

    def decode(self, value: Any) -> Any:
        """The config value of a stored parameter value."""
        return yaml.safe_load(value) if self.encoded and isinstance(value, str) else value

    def grid(self) -> list[Any]:
        """Every value, for the grid sampler."""
        if self.type == "categorical":
            return self.stored_choices()
        if self.step is None:
            raise ConfigError(
                f"params.{self.name}: the grid sampler needs `step` or `choices` for a float parameter",
                "add e.g. `step: 0.1`, or list the values with `type: categorical`.",
            )
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        values = [self.low + i * self.step for i in range(count)]
        return [int(v) for v in values] if self.type == "int" else [round(v, 12) for v in values]

    def suggest(self, trial: Any) -> Any:
        """Ask ``trial`` (an ``optuna.Trial``) for this parameter's value; returns the stored value."""
        if self.type == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.name, self.low, self.high, log=self.log, step=self.step or 1)
        return trial.suggest_categorical(self.name, self.stored_choices())

    def example(self) -> Any:
        """A valid value (the lower bound or the first choice), to check the key before any trial."""
        return self.decode(self.stored_choices()[0]) if self.type == "categorical" else self.low


@dataclass
class SweepSpec:
    """A parsed sweep file. See the module docstring for the format.

    Args:
        params: The searched keys, in file order.
        metric: The metric to optimise, as logged by the model (``val_loss``, ``val_acc``, ...).
        direction: ``minimize`` or ``maximize``.
        value: ``best`` (the best epoch's metric) or ``last`` (the last epoch's).
        n_trials: Finished plus pruned trials to aim for, unless ``--n_trials`` says otherwise.
        sampler: Sampler name and its keyword arguments.
        pruner: Pruner name and its keyword arguments.
        name: Study name; by default the sweep file's stem.
        source: Where the spec came from, for error messages.
    """

    params: list[ParamSpec]
    metric: str = "val_loss"
    direction: str = "minimize"
    value: str = "best"
    n_trials: int = 20
    sampler: tuple[str, dict[str, Any]] = ("tpe", {})
    pruner: tuple[str, dict[str, Any]] = ("median", {})
    name: str = "sweep"
    source: str = "sweep file"
    raw: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str) -> ParamSpec:
        """The parameter called ``name``."""
        return next(p for p in self.params if p.name == name)

    def examples(self) -> dict[str, Any]:
        """One valid value per parameter (see :meth:`ParamSpec.example`)."""
        return {p.name: p.example() for p in self.params}


def _flow(value: Any) -> str:
    """``value`` as one line of YAML, the way a flag value is written."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def trial_flags(spec: SweepSpec, values: dict[str, Any]) -> list[str]:
    """Command-line flags that set ``values`` (stored parameter values by name) on ``lightkit fit``.

    ``key[i]`` items are gathered into one list flag per key.
    """
    flags: list[str] = []
    lists: dict[str, dict[int, Any]] = {}
    for param in spec.params:
        value = param.decode(values[param.name])
        match = _INDEXED.match(param.name)
        if match:
            lists.setdefault(match["key"], {})[int(match["index"])] = value
        else:
            flags += [f"--{param.name}", _flow(value)]
    for key, items in lists.items():
        flags += [f"--{key}", _flow([items[i] for i in sorted(items)])]
    return flags


# -- reading ---------------------------------------------------------------------------------------------
def _number(name: str, spec: dict[str, Any], key: str, where: str) -> float | int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: params.{name}.{key} must be a number, got {value!r}")
    return value


def _param(name: Any, spec: Any, where: str) -> ParamSpec:
    if not isinstance(name, str) or not (_KEY.match(name) or _INDEXED.match(name)):
        raise ConfigError(
            f"{where}: {name!r} is not a config key",
            "write keys the way you would pass them to `lightkit fit` without the dashes, "
            "e.g. model.init_args.lr or model.init_args.hidden_sizes[0].",
        )
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where}: params.{name} must be a mapping such as {{type: float, low: 0.001, high: 0.1}}, "
            f"got {spec!r}"
        )
    kind = spec.get("type")
    if kind not in _TYPES:
        raise ConfigError(
            f"{where}: params.{name}.type is {kind!r}",
            f"use one of {', '.join(_TYPES)} (float/int take low, high, log, step; categorical: choices).",
        )
    allowed = {"type", "choices"} if kind == "categorical" else {"type", "low", "high", "log", "step"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: params.{name} has unknown key {unknown[0]!r} for a {kind} parameter",
            f"valid keys are: {', '.join(sorted(allowed))}.",
        )
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"{where}: params.{name}.choices must be a non-empty list, got {choices!r}")
        return ParamSpec(name, kind, choices=tuple(choices))
    low, high = _number(name, spec, "low", where), _number(name, spec, "high", where)
    step = _number(name, spec, "step", where)
    if low is None or high is None:
        raise ConfigError(f"{where}: params.{name} needs both `low` and `high`")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}: params.{name}.log must be true or false, got {log!r}")
    if not low < high:
        raise ConfigError(f"{where}: params.{name}: low must be below high, got low={low} high={high}")
    if log and low <= 0:
        raise ConfigError(f"{where}: params.{name}: a log scale needs low > 0, got low={low}")
    if log and step is not None:
        raise ConfigError(f"{where}: params.{name}: use either `log: true` or `step`, not both")
    if step is not None and step <= 0:
        raise ConfigError(f"{where}: params.{name}.step must be positive, got {step}")
    if kind == "int":
        for key, value in (("low", low), ("high", high), ("step", step)):
            if value is not None and value != int(value):
                raise ConfigError(
                    f"{where}: params.{name}.{key} must be a whole number for an int parameter, got {value}"
                )
        low, high = int(low), int(high)
        step = int(step) if step is not None else None
    else:
        low, high = float(low), float(high)
        step = float(step) if step is not None else None
    return ParamSpec(name, kind, low=low, high=high, log=log, step=step)


def _named(
    value: Any, key: str, default: str, where: str, valid: tuple[str, ...]
) -> tuple[str, dict[str, Any]]:
    if value is None:
        return default, {}
    if isinstance(value, str):
        name, kwargs = value, {}
    elif isinstance(value, dict) and isinstance(value.get("type"), str):
        name, kwargs = value["type"], {k: v for k, v in value.items() if k != "type"}
    else:
        raise ConfigError(
            f"{where}: {key} must be a name or {{type: <name>, ...}}, got {value!r}",
            f"names: {', '.join(valid)}.",
        )
    if name not in valid:
        raise ConfigError(f"{where}: unknown {key} {name!r}", f"use one of {', '.join(valid)}.")
    return name, kwargs


def _check_lists(params: list[ParamSpec], where: str) -> None:
    indices: dict[str, list[int]] = {}
    for param in params:
        match = _INDEXED.match(param.name)
        if match:
            indices.setdefault(match["key"], []).append(int(match["index"]))
        elif param.name in indices:
            raise ConfigError(f"{where}: params.{param.name} is searched both whole and by item")
    for key, found in indices.items():
        if key in {p.name for p in params}:
            raise ConfigError(f"{where}: params.{key} is searched both whole and by item")
        if sorted(found) != list(range(len(found))):
            raise ConfigError(
                f"{where}: params.{key}[i] gives items {sorted(found)}",
                f"give every item from {key}[0] to {key}[{max(found)}]: the list is rebuilt from them.",
            )


def load_sweep_spec(path: str | Path, samplers: tuple[str, ...], pruners: tuple[str, ...]) -> SweepSpec:
    """Read and check the sweep file at ``path``.

    Args:
        path: The sweep YAML file.
        samplers: Valid sampler names.
        pruners: Valid pruner names.

    Raises:
        ConfigError: The file is missing, is not YAML, or a key or value is wrong; the message
            names the file and the key.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ConfigError(
            f"sweep file {where!r} does not exist", "pass the search space with --sweep <file.yaml>."
        )
    from lightkit.config_yaml import check_yaml

    text = path.read_text()
    check_yaml(text, where)  # bounded aliases, no duplicate keys
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where} is not valid YAML{at}: {getattr(err, 'problem', err)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with a `params:` section, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_TOP_KEYS))
    if unknown:
        from lightkit.registry import did_you_mean

        hint = did_you_mean(unknown[0], list(_TOP_KEYS))
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}", hint + f"valid keys are: {', '.join(_TOP_KEYS)}."
        )
    params_raw = raw.get("params")
    if not isinstance(params_raw, dict) or not params_raw:
        raise ConfigError(
            f"{where}: `params` must map config keys to distributions",
            "e.g. params: {model.init_args.lr: {type: float, low: 1.0e-4, high: 0.1, log: true}}",
        )
    params = [_param(name, spec, where) for name, spec in params_raw.items()]
    _check_lists(params, where)
    direction = raw.get("direction", "minimize")
    if direction not in ("minimize", "maximize"):
        raise ConfigError(f"{where}: direction is {direction!r}", "use minimize or maximize.")
    value = raw.get("value", "best")
    if value not in ("best", "last"):
        raise ConfigError(
            f"{where}: value is {value!r}", "use best (the best epoch's metric) or last (the last epoch's)."
        )
    metric = raw.get("metric", "val_loss")
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"{where}: metric must be a metric name such as val_loss, got {metric!r}")
    n_trials = raw.get("n_trials", 20)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ConfigError(f"{where}: n_trials must be a positive whole number, got {n_trials!r}")
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not re.fullmatch(r"[\w.-]+", name):
        raise ConfigError(f"{where}: name must be letters, digits, '.', '_' or '-', got {name!r}")
    return SweepSpec(
        params=params,
        metric=metric,
        direction=direction,
        value=value,
        n_trials=n_trials,
        sampler=_named(raw.get("sampler"), "sampler", "tpe", where, samplers),
        pruner=_named(raw.get("pruner"), "pruner", "median", where, pruners),
        name=name,
        source=where,
        raw=raw,
    )
