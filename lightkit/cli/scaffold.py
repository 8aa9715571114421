"""``lightkit new-plugin NAME [--dir PATH]``: create a pip-installable plugin package.

The package gets a model, a data module and a callback, registered as entry points, with tests
that run lightkit's conformance kit, and a README. Files are rendered from
``lightkit/templates/plugin`` with :class:`string.Template`; a path part ``__module__`` becomes
the package's import name. This module imports only the standard library.
"""

from __future__ import annotations

import argparse
import importlib.util
import keyword
import re
import string
from dataclasses import dataclass
from pathlib import Path

from lightkit.cli.command_parser import CommandParser
from lightkit.errors import UsageError

__all__ = ["PluginNames", "create_plugin", "main", "plugin_names"]

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "plugin"

#: PEP 508 project names: letters, digits, ``-``, ``_`` and ``.``, starting and ending alphanumeric
_PROJECT_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class PluginNames:
    """Every name the scaffold derives from the distribution name.

    Attributes:
        name: The distribution name, as given (``lightkit-weather``).
        module: The import name (``lightkit_weather``).
        prefix: The class-name prefix (``Weather``).
    """

    name: str
    module: str
    prefix: str

    @property
    def classes(self) -> dict[str, tuple[str, str]]:
        """Entry-point group -> (class name, ``module:Class`` target)."""
        return {
            "lightkit.models": (f"{self.prefix}Model", f"{self.module}.model:{self.prefix}Model"),
            "lightkit.datamodules": (
                f"{self.prefix}DataModule",
                f"{self.module}.data:{self.prefix}DataModule",
            ),
            "lightkit.callbacks": (
                f"{self.prefix}Callback",
                f"{self.module}.callbacks:{self.prefix}Callback",
            ),
        }


def plugin_names(name: str) -> PluginNames:
    """Check a distribution name and derive the import name and class prefix from it.

    Raises:
        UsageError: The name is not a valid project name, does not give a valid Python module
            name, or would shadow a module that is already importable.
    """
    if not _PROJECT_NAME.match(name):
        raise UsageError(
            f"invalid plugin name {name!r} (from NAME)",
            "use letters, digits, '-', '_' or '.', starting and ending with a letter or digit, "
            "e.g. `lightkit new-plugin lightkit-weather`.",
        )
    module = re.sub(r"[-.]+", "_", name).lower()
    if not module.isidentifier() or keyword.iskeyword(module):
        why = "a Python keyword" if keyword.iskeyword(module) else "not a Python module name"
        raise UsageError(
            f"plugin name {name!r} gives the import name {module!r}, which is {why}",
            "start the name with a letter and make it a word of its own, "
            "e.g. `lightkit new-plugin my-plugin`.",
        )
    if importlib.util.find_spec(module) is not None:
        raise UsageError(
            f"plugin name {name!r}: a module named {module!r} is already importable here",
            "choose another name, so that the new package does not shadow it (or clash with it).",
        )
    stem = module.removeprefix("lightkit_")
    prefix = "".join(part[:1].upper() + part[1:] for part in stem.split("_") if part)
    if not prefix:
        raise UsageError(
            f"plugin name {name!r} gives no class-name prefix", "e.g. `lightkit new-plugin lightkit-weather`."
        )
    return PluginNames(name=name, module=module, prefix=prefix)


def _lightkit_requirement() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        parts = version("lightkit").split(".")
    except PackageNotFoundError:
        return "lightkit"
    return f"lightkit>={parts[0]}.{parts[1] if len(parts) > 1 else 0}"


def create_plugin(name: str, parent: str | Path = ".") -> tuple[PluginNames, Path, list[Path]]:
    """Write the plugin package ``parent/name``; returns its names, its directory and the files written.

    Raises:
        UsageError: The name is invalid, or the target exists.
    """
    names = plugin_names(name)
    parent = Path(parent)
    if parent.exists() and not parent.is_dir():
        raise UsageError(
            f"--dir {str(parent)!r} is a file, not a directory",
            "give the directory to create the package in.",
        )
    target = parent / name
    if target.exists():
        raise UsageError(
            f"{str(target)!r} already exists; new-plugin never overwrites files",
            "choose another NAME or --dir, or remove that directory first.",
        )
    values = {
        "name": names.name,
        "module": names.module,
        "prefix": names.prefix,
        "lightkit_requirement": _lightkit_requirement(),
    }
    written: list[Path] = []
    for template in sorted(p for p in TEMPLATE_DIR.rglob("*.tmpl") if p.is_file()):
        relative = template.relative_to(TEMPLATE_DIR).with_suffix("")
        out = target / Path(*(names.module if part == "__module__" else part for part in relative.parts))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(string.Template(template.read_text()).substitute(values))
        written.append(out)
    return names, target, written


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="lightkit new-plugin",
        description="Create a pip-installable plugin package: a model, a data module and a callback "
        "registered as entry points, tests that run the conformance kit (lightkit.testing), and a README.",
        epilog="example: lightkit new-plugin lightkit-weather --dir plugins",
    )
    parser.add_argument(
        "name", metavar="NAME", help="Distribution name, e.g. lightkit-weather; also the directory name."
    )
    parser.add_argument(
        "--dir",
        default=".",
        metavar="PATH",
        help="Directory to create the package in (default: the current one).",
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``lightkit new-plugin ARGV``; returns the exit code."""
    args = _parser().parse_args(argv)
    names, target, _ = create_plugin(args.name, args.dir)
    nouns = {
        "lightkit.models": "model",
        "lightkit.datamodules": "data module",
        "lightkit.callbacks": "callback",
    }
    rows = [(nouns[group], cls, ep) for group, (cls, ep) in names.classes.items()]
    width = max(len(cls) for _, cls, _ in rows)
    model, data = rows[0][1], rows[1][1]
    print(f"created plugin package {args.name} in {target}")
    for noun, cls, ep in rows:
        print(f"  {noun:<12} {cls:<{width}}  {ep}")
    print(
        "\nnext:\n"
        f"  pip install -e {target}\n"
        f"  python -m pytest {target}            # the conformance kit and a training run\n"
        f"  lightkit fit --model {model} --data {data} --trainer.max_epochs 5"
    )
    return 0
