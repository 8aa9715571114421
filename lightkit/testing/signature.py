"""Static checks of a plugin class: a docstring, and every ``__init__`` argument typed and documented.

The arguments are read with jsonargparse's own signature resolver, the one LightningCLI uses to
build ``--help`` and the config schema, so what this check sees is what users see.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["init_argument_problems"]


def _resolved_parameters(cls: type) -> list[Any]:
    from jsonargparse._parameter_resolvers import get_signature_parameters

    return list(get_signature_parameters(cls, None))


def _documented_names(cls: type) -> set[str] | None:
    """Names under ``Args:`` in the class and ``__init__`` docstrings; None without docstring_parser."""
    try:
        import docstring_parser
    except ImportError:
        return None
    names: set[str] = set()
    for doc in (
        cls.__doc__,
        cls.__dict__.get("__init__", object).__doc__ if "__init__" in cls.__dict__ else None,
    ):
        if doc:
            params = docstring_parser.parse(doc).params
            names |= {p.arg_name.split(" ")[0].lstrip("*") for p in params if p.args and p.args[0] == "param"}
    return names


def _suggested_hint(param: Any) -> str:
    """``name: type = default`` with the type guessed from the default, for the message."""
    default = param.default
    if default is inspect.Parameter.empty:
        return f"{param.name}: int"
    kind = "float | None" if default is None else type(default).__name__
    return f"{param.name}: {kind} = {default!r}"


def init_argument_problems(cls: type) -> list[str]:
    """What keeps ``cls`` from having complete CLI help; an empty list when nothing does.

    Checks that the class has a docstring, that its ``__init__`` takes no ``*args`` and no
    ``**kwargs`` that jsonargparse cannot follow, that every argument has a type hint and a
    description, and that the docstring documents no argument that ``__init__`` does not take.
    """
    problems: list[str] = []
    if not inspect.getdoc(cls) or cls.__doc__ is None:
        problems.append(f"class {cls.__name__} has no docstring (its first line is the summary in listings)")
    own = inspect.signature(cls.__init__).parameters if "__init__" in cls.__dict__ else {}
    for param in own.values():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            problems.append(
                f"*{param.name}: positional varargs cannot be set from the command line or a config"
            )
    resolved = _resolved_parameters(cls)
    own_init = cls.__dict__.get("__init__")
    has_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own.values())
    if has_kwargs and not any(getattr(p, "component", None) is not own_init for p in resolved):
        problems.append(
            "**kwargs: its keys are invisible to --help and to config checks (name each argument, or "
            "pass **kwargs straight to a documented super().__init__)"
        )
    for param in resolved:
        name = param.name
        if param.annotation is inspect.Parameter.empty:
            problems.append(f"argument {name!r} has no type hint (write e.g. `{_suggested_hint(param)}`)")
        if not (param.doc or "").strip():
            problems.append(f"argument {name!r} is not documented (add `{name}: ...` under `Args:`)")
    documented = _documented_names(cls)
    if documented is not None:
        takes = {p.name for p in resolved} | {p.name for p in own.values()}
        for name in sorted(documented - takes):
            problems.append(f"the docstring documents {name!r}, which __init__ does not take")
    return problems
