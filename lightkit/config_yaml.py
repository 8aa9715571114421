"""The one YAML loader for configs: safe tags only, bounded alias expansion, no duplicate keys.

``yaml.safe_load`` runs no code, but it accepts two things a config must not hold:

* **an alias bomb**: nine levels of ten aliases each (``b: &b [*a, *a, ...]``) is a few hundred
  bytes of YAML and 10^9 values once expanded. PyYAML shares the aliased objects, so loading is
  quick; whatever walks the result afterwards (jsonargparse's copies, a dump) runs out of memory.
  The loader counts the nodes of the expanded document and refuses more than
  :data:`MAX_NODES`, or nesting deeper than :data:`MAX_DEPTH`, before anything is built;
* **a duplicate key** in one mapping (``max_epochs: 2`` ... ``max_epochs: 1``): the last one
  silently wins. The loader refuses it, naming the key and both lines.

Every error is a :class:`~lightkit.errors.ConfigError` naming the file and the line.
:func:`load_yaml` is what lightkit reads configs with; :func:`install` registers the same checks
in front of jsonargparse's own YAML loader through its public ``set_loader``, so a config file
read by the parser passes them too.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from lightkit.errors import ConfigError

__all__ = [
    "CONFIG_SECTIONS",
    "MAX_DEPTH",
    "MAX_NODES",
    "check_config_files",
    "check_yaml",
    "install",
    "load_yaml",
]

_COMPONENTS = ("model", "data", "optimizer", "lr_scheduler")
#: keys of a lightkit config that hold keys, or (``.class_path``) a class name; jsonargparse takes
#: ``trainer: 5`` or ``run: 5`` and the trainer then fails with a bare ``TypeError``
CONFIG_SECTIONS = (
    "trainer",
    "run",
    *(f"{c}.{p}" for c in _COMPONENTS for p in ("init_args", "class_path")),
)
#: the most nodes (keys, values, list items) a config may hold with every alias expanded
MAX_NODES = 100_000
#: the deepest a config may nest, aliases expanded
MAX_DEPTH = 64

_MERGE = "tag:yaml.org,2002:merge"
_HINT_SIZE = (
    "an alias (*name) repeats its anchor (&name) each time it is used; a config this large is "
    "almost certainly a mistake or an attack. Write the values out, or split the file."
)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader, with depth, size and duplicate-key checks while composing.

    The pure-Python composer is used on purpose: its recursion is bounded here, where libyaml's
    is not.
    """

    def __init__(self, text: str, source: str) -> None:
        super().__init__(text)
        self.source = source
        self._depth = 0

    def _where(self, node_or_mark: Any) -> str:
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        return f"{self.source}, line {mark.line + 1}" if mark is not None else self.source

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Refuse nesting deeper than :data:`MAX_DEPTH` while reading, before the stack grows."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ConfigError(
                    f"{self._where(self.peek_event().start_mark)} nests more than {MAX_DEPTH} levels deep",
                    "a config nests a few levels (trainer: / model: init_args: ...); flatten the value.",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:
        """A mapping, refused when one key appears twice in it."""
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], ScalarNode] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode) or key.tag == _MERGE:
                continue  # merged keys (<<: *base) may be overridden: that is what merging is for
            first = seen.setdefault((key.tag, key.value), key)
            if first is not key:
                lines = (first.start_mark.line + 1, key.start_mark.line + 1)
                where = f"line {lines[0]} and line {lines[1]}"
                if lines[0] == lines[1]:
                    where = f"twice on line {lines[0]}"
                raise ConfigError(
                    f"duplicate key {key.value!r} in {self.source}: {where}",
                    "a key may appear once in a mapping (YAML would keep the last one silently); "
                    "delete one of them.",
                )
        return node

    def compose_document(self) -> Node | None:
        """The document's node tree, refused when its expansion is too big or too deep."""
        node = super().compose_document()
        if node is not None:
            _Expansion(self).measure(node, 1)
        return node


class _Expansion:
    """Nodes and depth of a composed document with every alias expanded, counted without expanding.

    An alias is the very node of its anchor, so the tree is a graph; each node's expanded size is
    computed once. A cycle (``&a [*a]``) is refused as infinitely large.
    """

    def __init__(self, loader: _BoundedLoader) -> None:
        self.loader = loader
        self.sizes: dict[int, int] = {}
        self.heights: dict[int, int] = {}
        self.open: set[int] = set()

    def measure(self, node: Node, depth: int) -> int:
        """The expanded size of ``node``, found at ``depth``; raises when a bound is passed."""
        key = id(node)
        reached = depth + self.heights.get(key, 1) - 1
        if key in self.sizes and reached <= MAX_DEPTH:
            return self.sizes[key]
        where = self.loader._where(node)
        if reached > MAX_DEPTH:
            raise ConfigError(
                f"{where}: with its aliases expanded, the config nests more than {MAX_DEPTH} levels deep",
                _HINT_SIZE,
            )
        if key in self.open:
            raise ConfigError(
                f"{where}: an alias refers to the value that contains it (infinite YAML)", _HINT_SIZE
            )
        self.open.add(key)
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        size, height = 1, 1
        for child in children:
            size += self.measure(child, depth + 1)
            height = max(height, 1 + self.heights[id(child)])
            if size > MAX_NODES:
                raise ConfigError(
                    f"{where}: with its aliases expanded, the config holds more than {MAX_NODES:,} values",
                    _HINT_SIZE,
                )
        self.open.discard(key)
        self.sizes[key], self.heights[key] = size, height
        return size


def _syntax_error(err: yaml.YAMLError, source: str, text: str = "") -> ConfigError:
    mark = getattr(err, "problem_mark", None)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    position = getattr(err, "position", None)  # a ReaderError (a control character) has only this
    if mark is None and isinstance(position, int) and text:
        where = f"{source}:{text[:position].count(chr(10)) + 1}"
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return ConfigError(f"YAML syntax error in {where}: {problem}", "fix the YAML; it must parse.")


def check_yaml(text: str, source: str = "the config") -> None:
    """Raise :class:`ConfigError` when ``text`` is too big or deep expanded, or repeats a key.

    A syntax error is left to the loader that reads ``text`` afterwards (it reports it the way
    its callers expect).
    """
    try:
        loader = _BoundedLoader(text, source)  # the reader refuses control characters already here
    except yaml.YAMLError:
        return
    try:
        while loader.check_node():
            loader.get_node()
    except yaml.YAMLError:
        return
    except RecursionError:  # the scanner's own limits, should a text get past the depth check
        raise ConfigError(f"{source} nests too deeply to read", _HINT_SIZE) from None
    finally:
        loader.dispose()


def load_yaml(text: str, source: str = "the config") -> Any:
    """Parse a config's YAML text safely, with the checks of this module.

    Args:
        text: The YAML.
        source: How messages name it: the file path, or ``the config stored in 'x.ckpt'``.

    Raises:
        ConfigError: A syntax error, a duplicate key, or an expansion too big or too deep; the
            message names ``source`` and the line.
    """
    try:
        loader = _BoundedLoader(text, source)  # the reader refuses control characters already here
    except yaml.YAMLError as err:
        raise _syntax_error(err, source, text) from None
    try:
        return loader.get_single_data()
    except yaml.YAMLError as err:
        raise _syntax_error(err, source, text) from None
    finally:
        loader.dispose()


def _key_line(text: str, path: list[str]) -> int | None:
    """The line of the key at ``path`` in ``text`` (already checked), if it is there."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    line = None
    for part in path:
        if not isinstance(node, MappingNode):
            return None
        pair = next(((k, v) for k, v in node.value if isinstance(k, ScalarNode) and k.value == part), None)
        if pair is None:
            return None
        line, node = pair[0].start_mark.line + 1, pair[1]
    return line


def _at(holder: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    """Whether the config sets the dotted key, and its value (every part before it a mapping)."""
    *parents, last = dotted.split(".")
    for part in parents:
        holder = holder.get(part)
        if not isinstance(holder, dict):
            return False, None
    return last in holder, holder.get(last)


def _check_sections(text: str, source: str, sections: tuple[str, ...], nested_in: tuple[str, ...]) -> None:
    """Keys that hold keys (``trainer:``, ``model.init_args:``) are mappings; a class path is a name.

    Checked at the top level and under the sections ``nested_in`` (the subcommands).
    """
    data = load_yaml(text, source)
    if not isinstance(data, dict):
        return
    places = [([], data)] + [([s], data[s]) for s in nested_in if isinstance(data.get(s), dict)]
    for prefix, holder in places:
        for key in sections:
            present, value = _at(holder, key)
            name = key.endswith(".class_path")
            if not present or value is None or isinstance(value, str if name else dict):
                continue
            line = _key_line(text, [*prefix, *key.split(".")])
            where = f"(from {source}{f', line {line}' if line else ''})"
            shown = ".".join([*prefix, key])
            if name:
                raise ConfigError(
                    f"{shown}: {value!r} is not a class name {where}",
                    f"{key} names a class: a registered short name or a full import path.",
                )
            raise ConfigError(
                f"{shown}: {value!r} is not a mapping of keys to values {where}",
                f"{key} holds keys, one per line under `{key.rsplit('.', 1)[-1]}:`"
                + (" (for example max_epochs: 10)." if key == "trainer" else "."),
            )


def check_config_files(
    values: list[str], sections: tuple[str, ...] = (), nested_in: tuple[str, ...] = ()
) -> None:
    """Check every ``--config`` value (a path, or inline YAML) before jsonargparse reads it.

    jsonargparse hands its loader the text without the file name; here each file is checked
    with its name, so a message says which file and line. A file that cannot be found is left
    to the caller, which names the flag.

    Args:
        values: The ``--config`` values.
        sections: Keys whose values must be mappings (``trainer``): jsonargparse accepts
            ``trainer: 5`` and the trainer then fails with a bare ``TypeError``.
        nested_in: Sections (subcommand names) under which ``sections`` may also appear.

    Raises:
        ConfigError: A file that cannot be read as UTF-8 text, fails :func:`check_yaml`, or has
            a scalar where ``sections`` want a mapping.
    """
    from pathlib import Path

    for value in values:
        inline = "\n" in value or value.lstrip().startswith("{")
        if inline:
            check_yaml(value, "the inline --config")
            _check_sections(value, "the inline --config", sections, nested_in)
            continue
        path = Path(value)
        if not path.exists():
            continue
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ConfigError(
                f"cannot read config file {value!r} (from --config): {(err.strerror or str(err)).lower()}",
                "pass a readable YAML file with --config.",
            ) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data[: err.start].count(b"\n") + 1
            raise ConfigError(
                f"config file {value!r} (from --config) is not UTF-8 text "
                f"(byte 0x{data[err.start]:02x} on line {line})",
                "save the file as UTF-8.",
            ) from None
        check_yaml(text, value)
        if sections:
            _check_sections(text, value, sections, nested_in)


def install() -> None:
    """Put :func:`check_yaml` in front of jsonargparse's YAML loader (``set_loader``); idempotent.

    jsonargparse keeps its own loader and its own reading of values (``1e-3`` is a float there),
    so parsing is unchanged for every config that passes the checks.
    """
    from jsonargparse import get_loader, set_loader

    current = get_loader("yaml")
    if getattr(current, "_lightkit", False):
        return

    def checked_yaml_load(value: str) -> Any:
        if isinstance(value, str) and any(c in value for c in "&\n{["):
            check_yaml(value, "a value on the command line")
        return current(value)

    checked_yaml_load._lightkit = True  # type: ignore[attr-defined]
    checked_yaml_load.__wrapped__ = current  # type: ignore[attr-defined]
    set_loader("yaml", checked_yaml_load, (yaml.YAMLError,))
