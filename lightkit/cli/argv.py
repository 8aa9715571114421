"""Command-line surgery done before jsonargparse parses: lightkit's own flag forms.

jsonargparse has no syntax to remove a list item or to ask where values came from; these
helpers take such flags out of the argument list and say what was asked.
"""

from __future__ import annotations

__all__ = ["config_values", "flag_value", "take_callback_removals", "take_print_config", "take_sources_flag"]


def flag_value(args: list[str], flag: str) -> str | None:
    """The last value given to ``flag`` on the command line (``--flag v`` or ``--flag=v``)."""
    value = None
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def config_values(args: list[str]) -> list[str]:
    """The values of every ``--config``/``-c`` on the command line, in order (paths or inline YAML).

    The one walker of ``--config`` values besides jsonargparse's: plugin selection
    (:mod:`lightkit.cli.shortnames`), error origins (:mod:`lightkit.cli.config_origin`) and
    ``--print_config=sources`` (:mod:`lightkit.cli.provenance`) all read configs through it.
    """
    values = []
    for i, arg in enumerate(args):
        if arg in ("--config", "-c") and i + 1 < len(args):
            values.append(args[i + 1])
        elif arg.startswith("--config="):
            values.append(arg.split("=", 1)[1])
    return values


def take_callback_removals(argv: list[str]) -> tuple[list[str], list[str]]:
    """Take out ``--trainer.callbacks-=NAME`` (remove a callback by name); jsonargparse has no such syntax."""
    out, names = [], []
    it = iter(argv)
    for arg in it:
        if arg.startswith("--trainer.callbacks-="):
            names.append(arg.split("=", 1)[1])
        elif arg == "--trainer.callbacks-":
            names.append(next(it, ""))
        else:
            out.append(arg)
    return out, names


def take_print_config(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """Take out ``--print_config[=flags]``; returns (argv, its flags or None)."""
    out, flags = [], None
    for arg in argv:
        if arg == "--print_config" or arg.startswith("--print_config="):
            flags = arg.partition("=")[2].split(",")
        else:
            out.append(arg)
    return out, flags


#: what ``--print_config=`` takes: jsonargparse's flags plus lightkit's ``sources``
PRINT_CONFIG_FLAGS = ("skip_default", "skip_unset", "sources")


def take_sources_flag(argv: list[str]) -> tuple[list[str], bool, bool]:
    """Remove ``sources`` from ``--print_config=...``; returns (argv, sources asked, skip_default).

    Raises:
        ConfigError: ``--print_config`` was given a flag it does not know.
    """
    from lightkit.errors import ConfigError
    from lightkit.registry import did_you_mean

    out, show, skip = [], False, False
    for arg in argv:
        flags = arg.split("=", 1)[1].split(",") if arg.startswith("--print_config=") else []
        unknown = [f for f in flags if f not in (*PRINT_CONFIG_FLAGS, "comments")]
        if unknown:
            hint = did_you_mean(unknown[0], list(PRINT_CONFIG_FLAGS))
            raise ConfigError(
                f"--print_config does not take {unknown[0]!r}",
                hint + f"it takes a comma-separated list of: {', '.join(PRINT_CONFIG_FLAGS)}.",
            )
        if "sources" in flags:
            show, skip = True, "skip_default" in flags
            continue
        out.append(arg)
    return out, show, skip
