"""jsonargparse's parse errors, cut down to the bad value, where it came from and what is valid.

jsonargparse reports a bad value inside a component as a nested Union dump::

    Parser key "model":
      Does not validate against any of the Union subtypes
      Subtypes: [<class 'lightning.pytorch.core.module.LightningModule'>, <class 'NoneType'>]
      Errors:
        - Problem with given class_path 'lightkit.components.tabular_mlp.TabularMLP':
            Parser key "lr":
              Expected a <class 'float'>. Got value: abc
        - Expected a <class 'NoneType'>
      Given value type: <class 'jsonargparse._util.NestedArg'>
      Given value: NestedArg(key='lr', val='abc')

:func:`translate_argument_error` walks that text down to the innermost problem (here: key
``model.lr``, value ``abc``, expected ``float``), finds where the key was set (the last flag that
sets it, else the last config file that does, with its line from the YAML node marks) and says
what would be valid (the type, the choices, or the closest accepted keys).
"""

from __future__ import annotations

import importlib
import re
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from lightkit.cli.config_origin import config_values, is_mapping, locate
from lightkit.errors import ConfigError
from lightkit.registry import did_you_mean, suggest

__all__ = ["Problem", "find_problem", "translate_argument_error"]

_SUBCOMMANDS = ("fit", "validate", "test", "predict")
#: top-level keys that only some subcommands take, to recognise a config written for another one
_ONLY_IN = {"return_predictions": "predict", "verbose": "validate or test"}
_NOUNS = {
    "LightningModule": "model",
    "LightningDataModule": "data module",
    "Callback": "callback",
    "Optimizer": "optimizer",
    "LRScheduler": "learning-rate scheduler",
    "Logger": "logger",
}


@dataclass
class Problem:
    """The innermost problem in a jsonargparse error.

    Attributes:
        kind: ``unknown_key``, ``type``, ``choice``, ``required``, ``not_class``, ``denied``,
            ``unknown_flag``, ``ambiguous``, ``not_mapping`` or ``other``.
        key: Dotted key as users write it (``model.lr``; ``init_args`` left out).
        value: The bad value, as text.
        expected: Type names, or the valid choices for ``choice``.
        class_path: The class whose argument ``key`` is, when inside a component.
        base: The base class a class-path value must subclass (``LightningModule``).
        detail: The original line, for ``other``.
    """

    kind: str
    key: str = ""
    value: str | None = None
    expected: list[str] = field(default_factory=list)
    class_path: str | None = None
    base: str | None = None
    detail: str = ""


# -- reading jsonargparse's text ---------------------------------------------------------------------
def _join(prefix: str, key: str) -> str:
    key = key.replace(".init_args.", ".").removeprefix("init_args.")
    return f"{prefix}.{key}" if prefix else key


def _type_name(text: str) -> str:
    match = re.fullmatch(r"<class '([\w.]+)'>", text.strip())
    name = match.group(1) if match else text.strip()
    return name.rsplit(".", 1)[-1] if "[" not in name else name


def _literal_choices(text: str) -> list[str] | None:
    match = re.match(r"typing\.Literal\[(.*)\]$", text.strip())
    if not match:
        return None
    try:
        values = yaml.safe_load(f"[{match.group(1)}]")
    except yaml.YAMLError:
        return [match.group(1)]
    return [str(v) for v in values]


def _items(body: str) -> list[str]:
    """The ``- ...`` items under ``Errors:``, each with its continuation lines, dedented."""
    lines = body.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Errors:") + 1
    except StopIteration:
        return []
    items: list[list[str]] = []
    indent = None
    for line in lines[start:]:
        stripped = line.lstrip()
        depth = len(line) - len(stripped)
        if indent is None and stripped.startswith("- "):
            indent = depth
        if indent is None:
            continue
        if depth < indent or (depth == indent and not stripped.startswith("- ")):
            break
        if depth == indent:
            items.append([stripped[2:]])
        else:
            items[-1].append(line)
    return [items_[0] + ("\n" + textwrap.dedent("\n".join(items_[1:])) if len(items_) > 1 else "") for items_ in items]


def find_problem(text: str, prefix: str = "", class_path: str | None = None) -> Problem:
    """Parse a jsonargparse error message down to its innermost :class:`Problem`."""
    text = text.strip("\n")
    lines = text.splitlines() or [""]
    head = re.match(r'\s*Parser key "([^"]+)":\s*$', lines[0])
    if head:
        key = _join(prefix, head.group(1))
        body = textwrap.dedent("\n".join(lines[1:]))
        return _union_or_leaf(body, key, class_path)
    return _leaf(text, prefix, class_path)


def _union_or_leaf(body: str, key: str, class_path: str | None) -> Problem:
    given = re.findall(r"^\s*Given value: (.*)$", body, flags=re.M)
    value = given[-1] if given else None
    subtypes = re.search(r"^\s*Subtypes: \[(.*)\]\s*$", body, flags=re.M)
    if "Does not validate against any of the Union subtypes" not in body:
        problem = _leaf(body, key, class_path, is_value=True)
        if problem.kind != "other":
            return problem
        return Problem("other", key, value, detail=_first_line(body))
    items = [i for i in _items(body) if not re.match(r"Expected a <class 'NoneType'>", i)]
    for item in items:
        nested = re.match(r"Problem with given class_path '([\w.]+)':\s*\n(.*)", item, flags=re.S)
        if nested:
            return find_problem(nested.group(2), key, nested.group(1))
    base = None
    if subtypes:
        classes = [_type_name(t) for t in re.findall(r"<class '[\w.]+'>", subtypes.group(1))]
        base = next((c for c in classes if c in _NOUNS), None)
    for item in items:
        problem = _leaf(item, key, class_path, is_value=True)
        if problem.kind in ("denied", "not_class", "unknown_key", "required"):
            problem.value = problem.value or value
            problem.base = problem.base or base
            return problem
    expected: list[str] = []
    choices: list[str] = []
    for item in items:
        match = re.match(r"Expected a (.+?)(?:\. Got value: .*)?$", item.splitlines()[0])
        if match:
            literal = _literal_choices(match.group(1))
            if literal is not None:
                choices += literal
            else:
                expected.append(_type_name(match.group(1)))
    if choices:
        return Problem("choice", key, value, list(dict.fromkeys(choices)), class_path)
    if expected:
        return Problem("type", key, value, expected, class_path)
    detail = _first_line(items[0]) if items else _first_line(body)
    return Problem("other", key, value, class_path=class_path, base=base, detail=detail)


def _leaf(text: str, key: str, class_path: str | None, is_value: bool = False) -> Problem:
    first = _first_line(text)
    prefix = key if not is_value else key
    if m := re.match(r"Option '([\w.]+)' is not accepted", first):
        return Problem("unknown_key", _join(prefix, m.group(1)), class_path=class_path)
    if m := re.match(r"Group '([\w.]+)' does not accept option '([\w.]+)'", first):
        return Problem("unknown_key", _join(prefix, f"{m.group(1)}.{m.group(2)}"), class_path=class_path)
    if m := re.match(r"Subcommand '[\w.]+' does not accept option '([\w.]+)'", first):
        return Problem("unknown_key", _join(prefix, m.group(1)), class_path=class_path)
    if m := re.search(r"Key ['\"]?([\w.]+)['\"]? is not expected|No action for key ['\"]?([\w.]+)", first):
        return Problem("unknown_key", _join(prefix, m.group(1) or m.group(2)), class_path=class_path)
    if m := re.match(r"(?i)unrecognized arguments: (\S+)", first):
        return Problem("unknown_flag", m.group(1).split("=", 1)[0])
    if m := re.match(r"the following arguments are required: (.+)", first):
        missing = [_join(prefix, k.strip()) for k in m.group(1).split(",")]
        return Problem("required", missing[0], expected=missing, class_path=class_path)
    if m := re.match(r"Expected a (.+?)\. Got value: (.*)$", first):
        literal = _literal_choices(m.group(1))
        if literal is not None:
            return Problem("choice", key, m.group(2), literal, class_path)
        return Problem("type", key, m.group(2), [_type_name(m.group(1))], class_path)
    if m := re.search(r"Importing '([\w.]+)' is not allowed", text):
        return Problem("denied", key, m.group(1), class_path=class_path)
    if m := re.match(r"Import path does not correspond to a subclass of (\w+)", first):
        return Problem("not_class", key, base=m.group(1), class_path=class_path)
    if m := re.match(r"Not a valid subclass of (\w+)(?:\. Got value: (.*))?", first):
        return Problem("not_class", key, m.group(2), base=m.group(1), class_path=class_path)
    if m := re.match(r"ambiguous option: (--[^\s=]+)\S* could match (.*)", first):
        return Problem("ambiguous", m.group(1), expected=[o.strip() for o in m.group(2).split(",")])
    if m := re.match(r"(?:Expected a dot import path string|Unexpected import path format): (.*)", first):
        return Problem("not_class", key, m.group(1), class_path=class_path)
    if m := re.match(r"Unexpected config: (.*)", text, flags=re.S):
        return Problem("not_mapping", key, m.group(1).strip())
    return Problem("other", key, class_path=class_path, detail=first)


def _first_line(text: str) -> str:
    return next((line.strip().removeprefix("- ") for line in text.splitlines() if line.strip()), "")


# -- what would be valid ---------------------------------------------------------------------------------
def _import(path: str | None) -> Any:
    if not path or "." not in path:
        return None
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except Exception:  # noqa: BLE001 - only used to improve a message
        return None


def _class_keys(class_path: str | None) -> list[str]:
    cls = _import(class_path)
    if cls is None:
        return []
    from jsonargparse import ArgumentParser

    try:
        parser = ArgumentParser(exit_on_error=False)
        parser.add_class_arguments(cls, fail_untyped=False, sub_configs=True)
    except Exception:  # noqa: BLE001 - only used to improve a message
        return []
    return [a.dest for a in parser._actions if a.dest not in ("help", "config", "print_config") and "." not in a.dest]


def _parser_keys(parser: Any, subcommand: str | None) -> list[str]:
    try:
        sub = parser._subcommands_action._name_parser_map[subcommand] if subcommand else parser
    except (AttributeError, KeyError):
        sub = parser
    keys: list[str] = []
    for action in getattr(sub, "_actions", []):
        keys += [o[2:] for o in action.option_strings if o.startswith("--")]
    return keys


def _subclass_names(base: str | None) -> list[str]:
    if base is None:
        return []
    try:
        import lightning.pytorch as pl
        import torch
        from jsonargparse._typehints import get_all_subclass_paths

        bases = {
            "LightningModule": pl.LightningModule,
            "LightningDataModule": pl.LightningDataModule,
            "Callback": pl.Callback,
            "Optimizer": torch.optim.Optimizer,
            "LRScheduler": torch.optim.lr_scheduler.LRScheduler,
        }
        return sorted({p.rsplit(".", 1)[-1] for p in get_all_subclass_paths(bases[base])}) if base in bases else []
    except Exception:  # noqa: BLE001 - only used to improve a message
        return []


def _short(class_path: str | None) -> str:
    return (class_path or "").rsplit(".", 1)[-1]


def _article(type_name: str) -> str:
    return ("an " if type_name[:1].lower() in "aeiou" else "a ") + type_name


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(repr(v) for v in values)


# -- the message -------------------------------------------------------------------------------------------
def _message(problem: Problem, parser: Any, subcommand: str | None, argv: list[str]) -> ConfigError:
    sub = subcommand or ""
    help_hint = f"see `lightkit {sub} --help`".replace("  ", " ")
    key, where = problem.key, locate(problem.key, argv, subcommand) if problem.key else None
    origin = f" (from {where})" if where else ""
    value = problem.value
    shown = repr(value) if value is not None else ""
    if problem.kind == "unknown_flag":
        close = _closest_key(problem.key.lstrip("-"), _parser_keys(parser, subcommand))
        hint = f"did you mean '--{close}'? " if close else ""
        return ConfigError(f"unknown option {problem.key!r} (from the command line)", hint + help_hint + " for the options.")
    if problem.kind == "ambiguous":
        options = [o for o in problem.expected if not o.endswith((".help", "+"))]
        listed = ", ".join(options[:6]) + (f" and {len(options) - 6} more" if len(options) > 6 else "")
        return ConfigError(f"option {problem.key!r} is ambiguous: it could be {listed}", "write the option in full.")
    if problem.kind == "unknown_key":
        return _unknown_key(problem, parser, subcommand, argv, help_hint)
    not_finite = str(value).strip().lower().lstrip("+-") in ("nan", "inf", "infinity", ".nan", ".inf")
    if problem.kind == "type" and "float" in problem.expected and not_finite:  # floats to Python, not here
        return ConfigError(f"{key}: {shown} is not a finite number{origin}", f"{key} takes a finite float.")
    if problem.kind == "type":
        kinds = " or ".join(_article(t) for t in problem.expected)
        return ConfigError(f"{key}: {shown} is not {kinds}{origin}", f"{key} takes {kinds}; {help_hint}.")
    if problem.kind == "choice":
        close = suggest(str(value), problem.expected) if value is not None else []
        hint = f"did you mean {close[0]!r}? " if close else ""
        return ConfigError(
            f"{key}: {shown} is not one of the choices{origin}",
            hint + f"{key} takes one of {_quoted(problem.expected)}.",
        )
    if problem.kind == "required":
        return _required(problem, argv, subcommand, help_hint)
    if problem.kind in ("not_class", "denied"):
        return _bad_class(problem, origin, help_hint)
    if problem.kind == "not_mapping":
        culprit = next((v for v in config_values(argv) if not is_mapping(v)), "--config")
        return ConfigError(
            f"config {culprit!r} is "
            + (f"not a mapping of keys to values (it reads as {str(value)[:40]!r})" if value else "empty"),
            "a config is YAML like `model: ...`, `data: ...`, `trainer: ...`; "
            f"`lightkit {sub} --print_config` prints a complete one.".replace("  ", " "),
        )
    line = problem.detail or "invalid value"
    subject = f"{key}: " if key else ""
    return ConfigError(f"{subject}{line}{origin}" + (f" (value {shown})" if value and value not in line else ""), help_hint + ".")


def _unknown_key(problem: Problem, parser: Any, subcommand: str | None, argv: list[str], help_hint: str) -> ConfigError:
    key = problem.key
    parts = key.split(".")
    if parts[0] in _SUBCOMMANDS:
        where = locate(parts[0], argv, None) or "the config"
        if parts[0] == subcommand:
            return ConfigError(
                f"{where}: a top-level '{parts[0]}:' section is not accepted",
                f"move the keys under '{parts[0]}:' to the top level of the file.",
            )
        return ConfigError(
            f"{where} has a top-level '{parts[0]}:' section: it is written for `lightkit {parts[0]}`, "
            f"not `lightkit {subcommand}`",
            f"run it with `lightkit {parts[0]} --config ...`, or move the keys out of '{parts[0]}:'.",
        )
    valid = _parser_keys(parser, subcommand)
    if not problem.class_path:  # report the first part that is not a known key or group
        known = {".".join(k.split(".")[:n]) for k in valid for n in range(1, k.count(".") + 2)}
        depth = next((n for n in range(1, len(parts) + 1) if ".".join(parts[:n]) not in known), len(parts))
        key, parts = ".".join(parts[:depth]), parts[:depth]
    origin = f" (from {where})" if (where := locate(key, argv, subcommand)) else ""
    if parts[0] in _ONLY_IN and len(parts) == 1:
        return ConfigError(
            f"option {key!r}{origin} belongs to `lightkit {_ONLY_IN[parts[0]]}`, not `lightkit {subcommand}`",
            "was this config written for another command? Drop the key or run that command.",
        )
    if problem.class_path:
        valid = _class_keys(problem.class_path)
        owner, leaf = _short(problem.class_path), parts[-1]
        hint = did_you_mean(leaf, valid)
        listed = _quoted(valid[:8]) + (", ..." if len(valid) > 8 else "")
        return ConfigError(f"unknown option {key!r} for {owner}{origin}", hint + f"{owner} takes {listed}")
    close = _closest_key(key, valid)
    hint = f"did you mean {close!r}? " if close else ""
    group = parts[0] if len(parts) > 1 else ""
    return ConfigError(
        f"unknown option {key!r}{origin}", hint + f"{help_hint} for the {f'{group!r} ' if group else ''}keys."
    )


def _closest_key(key: str, valid: list[str]) -> str | None:
    """The closest accepted key in the same group as ``key`` (``trainer.max_epoch`` -> ``trainer.max_epochs``)."""
    prefix = key.rsplit(".", 1)[0] if "." in key else ""
    siblings = [k for k in valid if (k.rsplit(".", 1)[0] if "." in k else "") == prefix]
    leaves = {k.rsplit(".", 1)[-1]: k for k in siblings if k not in ("help", "config", "print_config")}
    close = suggest(key.rsplit(".", 1)[-1], list(leaves))
    return leaves[close[0]] if close else None


def _required(problem: Problem, argv: list[str], subcommand: str | None, help_hint: str) -> ConfigError:
    missing = problem.expected or [problem.key]
    if problem.class_path is None and len(missing[0].split(".")) == 2 and missing[0].split(".")[0] in _SUBCOMMANDS:
        what = missing[0].split(".")[1]
        noun = {"model": "model", "data": "data module"}.get(what, what)
        return ConfigError(
            f"no {noun} given (--{what} is required)",
            f"choose one with --{what} NAME (see `lightkit plugins list`) or in a config file under '{what}:'.",
        )
    owner = _short(problem.class_path) or "the command"
    names = ", ".join(missing)
    component = missing[0].rsplit(".", 1)[0]
    chosen = locate(component, argv, subcommand)
    return ConfigError(
        f"missing required option{'s' if len(missing) > 1 else ''} {names} for {owner}"
        + (f" (chosen by {chosen})" if chosen else ""),
        f"set {' and '.join('--' + m + ' VALUE' for m in missing)}, or under {owner}'s init_args in "
        f"the config; {help_hint}.",
    )


def _bad_class(problem: Problem, origin: str, help_hint: str) -> ConfigError:
    value = problem.value or ""
    if problem.kind == "denied":
        from lightkit.trust import STRICT_ENV, TRUSTED_NAMESPACES, strict_mode

        if strict_mode():
            hint = (
                f"strict mode ({STRICT_ENV}=1) allows only registered plugins and the "
                f"{', '.join(TRUSTED_NAMESPACES)} namespaces; unset {STRICT_ENV} only if you trust this config."
            )
        else:
            hint = "that namespace runs commands or loads code, so a config may not name it (docs/reliability.md)."
        return ConfigError(f"{problem.key}: importing {value!r} is not allowed{origin}", hint)
    noun = _NOUNS.get(problem.base or "", problem.base or "")
    names = _subclass_names(problem.base)
    hint = did_you_mean(value.rsplit(".", 1)[-1], names) if value else ""
    base = f" ({problem.base} subclass)" if problem.base else ""
    what = f"{noun} class" if noun else "class"
    return ConfigError(
        f"{problem.key}: {value!r} is not a known {what}{base}{origin}",
        hint + "give a registered name (`lightkit plugins list`) or a full import path.",
    )


def translate_argument_error(
    err: BaseException, parser: Any, subcommand: str | None, argv: list[str] | None = None
) -> ConfigError:
    """A short :class:`ConfigError` for a jsonargparse parse failure.

    Args:
        err: What ``parse_args`` raised.
        parser: The root parser, to list accepted keys.
        subcommand: The subcommand being parsed.
        argv: The command line as the user typed it, to say where a bad key was set.
    """
    text = str(err)
    abstract = re.search(r"Expected an instantiatable class, but ([\w.]+) is abstract", text)
    nested = re.search(r"NestedArg\(key='[\w.]+'", text)
    key_match = re.search(r'Parser key "([\w.]+)"', text) or re.search(r"^(?:error: )?([\w.]+):", text, flags=re.M)
    if abstract and nested and key_match:  # `--tracking.uri x` without `--tracking mlflow`
        key = key_match.group(1)
        return ConfigError(
            f"--{key}.<option> was given, but no {key} was chosen",
            f"choose one first, e.g. `--{key} NAME` (see `--{key}.help NAME`), then its options.",
        )
    problem = find_problem(text)
    return _message(problem, parser, subcommand, list(argv or []))
