"""jsonargparse's parse errors, cut down to the line that matters and a hint."""

from __future__ import annotations

import re
from typing import Any

from lightkit.errors import ConfigError
from lightkit.registry import suggest

__all__ = ["translate_argument_error"]

_MAX_LINES = 6


def _known_keys(parser: Any, subcommand: str | None) -> list[str]:
    try:
        sub = parser._subcommands_action._name_parser_map[subcommand] if subcommand else parser
    except (AttributeError, KeyError):
        sub = parser
    keys: list[str] = []
    for action in getattr(sub, "_actions", []):
        keys += [o for o in action.option_strings if o.startswith("--")]
    return keys


def translate_argument_error(err: BaseException, parser: Any, subcommand: str | None) -> ConfigError:
    """A short :class:`ConfigError` for a jsonargparse parse failure."""
    text = str(err).strip()
    help_hint = f"see `lightkit {subcommand or ''} --help`".replace("  ", " ")
    unrecognized = re.search(r"Unrecognized arguments:\s*(\S+)", text)
    if unrecognized:
        flag = unrecognized.group(1).split("=")[0]
        close = suggest(flag, _known_keys(parser, subcommand))
        hint = f"did you mean {close[0]!r}? " if close else ""
        return ConfigError(f"unknown option {flag!r} (from the command line)", hint + help_hint + " for the options.")
    not_expected = re.search(r"Key ['\"]?([\w.]+)['\"]? is not expected", text) or re.search(
        r"No action for key ['\"]?([\w.]+)['\"]?", text
    )
    if not_expected:
        key = not_expected.group(1)
        close = suggest("--" + key, _known_keys(parser, subcommand))
        hint = f"did you mean {close[0].lstrip('-')!r}? " if close else ""
        return ConfigError(f"unknown config key {key!r}", hint + help_hint + " for the valid keys.")
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    lines = [re.sub(r"^\s*(- )?", "", line) for line in lines]
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], "..."]
    return ConfigError("\n".join(lines) or type(err).__name__, help_hint + ".")
