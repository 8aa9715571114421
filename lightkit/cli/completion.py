"""``lightkit completion bash|zsh``: shell completion that knows the registered short names.

The printed script asks ``lightkit completion __complete CWORD WORDS...`` for candidates on every
<TAB>. That call reads entry-point metadata only: it imports neither torch nor any plugin, so it
answers in about the time Python takes to start. The flags of ``--model.<TAB>``, ``--data.<TAB>``
and ``--trainer.<TAB>`` come from the help cache (:mod:`lightkit.cli.help_cache`), which the
first ``--help`` or ``--model.help X`` fills; when it has no entry yet, completion builds one in
the background and offers the common options meanwhile.
"""

from __future__ import annotations

import sys

from lightkit import registry
from lightkit.errors import UsageError

__all__ = ["complete", "main", "script"]

#: printed instead of candidates when the shell should complete file names
FILES = "__files__"

#: Lightning's own callbacks, which jsonargparse resolves by class name without an entry point.
#: A test keeps this list a subset of ``lightning.pytorch.callbacks.__all__``.
LIGHTNING_CALLBACKS: tuple[str, ...] = (
    "BackboneFinetuning",
    "BatchSizeFinder",
    "DeviceStatsMonitor",
    "EarlyStopping",
    "GradientAccumulationScheduler",
    "LearningRateFinder",
    "LearningRateMonitor",
    "ModelCheckpoint",
    "ModelSummary",
    "OnExceptionCheckpoint",
    "RichModelSummary",
    "RichProgressBar",
    "StochasticWeightAveraging",
    "TQDMProgressBar",
    "ThroughputMonitor",
    "Timer",
)

#: options of fit/validate/test/predict offered on ``--<TAB>``: the common ones, not all of them
TRAIN_OPTIONS: tuple[str, ...] = (
    "--config",
    "--print_config",
    "--seed_everything",
    "--model",
    "--model.help",
    "--data",
    "--data.help",
    "--trainer.callbacks+=",
    "--trainer.callbacks.help",
    "--trainer.max_epochs",
    "--trainer.fast_dev_run",
    "--trainer.accelerator",
    "--trainer.devices",
    "--trainer.precision",
    "--trainer.logger",
    "--trainer.log_every_n_steps",
    "--trainer.gradient_clip_val",
    "--optimizer",
    "--lr_scheduler",
    "--ckpt_path",
    "--run.name",
    "--trainer.default_root_dir",
    "--run.output",
    "--help",
)

_PLUGIN_ACTIONS: dict[str, tuple[str, ...]] = {
    "list": ("--kind", "--json", "--names", "--help"),
    "show": ("--kind", "--help"),
    "check": ("--json", "--help"),
}


def _names(kind: str) -> list[str]:
    return list(dict.fromkeys(p.name for p in registry.list_plugins(kind)))


def _values(flag: str) -> list[str]:
    """Candidate values of an option, or ``[FILES]`` for a path."""
    flag = flag.rstrip("+")
    if flag in ("--model", "--model.help"):
        return _names("models")
    if flag in ("--data", "--data.help"):
        return _names("datamodules")
    if flag in ("--trainer.callbacks", "--trainer.callbacks.help"):
        return sorted(set(_names("callbacks")) | set(LIGHTNING_CALLBACKS))
    if flag in ("--config", "-c", "--trainer.default_root_dir", "--run.output"):
        return [FILES]
    if flag == "--ckpt_path":
        return ["best", "last", FILES]
    if flag == "--trainer.accelerator":
        return ["auto", "cpu", "gpu", "cuda", "mps"]
    if flag in ("--trainer.fast_dev_run", "--trainer.logger", "--print_config"):
        return ["true", "false"]
    if flag == "--kind":
        return list(registry.KINDS)
    return []


def _join_equals(words: list[str], cword: int) -> tuple[list[str], str]:
    """Undo bash's split of ``--flag=value`` into ``--flag``, ``=``, ``value``.

    Returns the words before the current one and the current word, both as typed.
    """
    merged: list[str] = []
    glue = False
    for i, word in enumerate(words[: cword + 1]):
        if word == "=" and i > 0 and merged and merged[-1].startswith("-") and not merged[-1].endswith("="):
            merged[-1] += "="
            glue = True
        elif glue and i > 0:
            merged[-1] += word
            glue = False
        else:
            merged.append(word)
            glue = False
    if cword >= len(words):
        merged.append("")
    return merged[:-1], merged[-1] if merged else ""


#: options that take no value, so the word after them is not theirs
_NO_VALUE = frozenset({"--help", "-h", "--version", "--debug", "--json", "--names", "--print_config"})


def _takes_value(word: str) -> bool:
    return word.startswith("-") and "=" not in word and word not in _NO_VALUE


def complete(words: list[str], cword: int) -> list[str]:
    """Candidates for word ``cword`` of ``words`` (``words[0]`` is the program name).

    For ``--flag=partial`` the candidates are values of ``--flag``, without the ``--flag=`` part.
    """
    before, current = _join_equals(words, cword)
    if current.startswith("-") and "=" in current:
        flag, _, partial = current.partition("=")
        return [v for v in _values(flag) if v == FILES or v.startswith(partial)]
    previous = before[-1] if len(before) > 1 else ""
    if _takes_value(previous) and not current.startswith("-"):
        return [v for v in _values(previous) if v == FILES or v.startswith(current)]
    positional: list[str] = []
    for i, word in enumerate(before[1:], start=1):
        if not word.startswith("-") and not _takes_value(before[i - 1] if i > 1 else ""):
            positional.append(word)
    if not positional:
        if current.startswith("-"):
            return [o for o in ("--help", "--version", "--debug") if o.startswith(current)]
        from lightkit.cli import TRAIN_COMMANDS, _available

        return [c for c in [*TRAIN_COMMANDS, *_available()] if c.startswith(current)]
    candidates = _command_candidates(positional[0], positional[1:], current, before)
    return [c for c in candidates if c.startswith(current)]


#: ``--<group>.<TAB>``: the flags of a component or of the Trainer, from the help cache
_FLAG_GROUPS = ("--model.", "--data.", "--trainer.")


def _selected(before: list[str], flag: str) -> str | None:
    """The value last given to ``flag`` (``--model X`` or ``--model=X``) among the typed words."""
    value = None
    for i, word in enumerate(before):
        if word == flag and i + 1 < len(before):
            value = before[i + 1]
        elif word.startswith(flag + "="):
            value = word.partition("=")[2]
    return value or None


def _group_flags(command: str, group: str, before: list[str]) -> list[str]:
    """Flags of ``--model.``, ``--data.`` or ``--trainer.``, read from the help cache (no torch).

    ``--trainer.`` comes from the cached ``<command> --help``; ``--model.`` and ``--data.`` from
    the cached ``--model.help X`` of the component selected earlier on the line. A missing entry
    is built in the background (:func:`~lightkit.cli.help_cache.warm_in_background`) and the
    common options are offered meanwhile.
    """
    from lightkit.cli import help_cache

    if not help_cache.enabled():
        return []
    key = group.rstrip(".")
    if key == "--trainer":
        requests = [(c, "--help") for c in dict.fromkeys((command, "fit"))]
    else:
        selected = _selected(before, key)
        if selected is None:
            return [f"{key}.help"]
        requests = [
            request
            for c in dict.fromkeys((command, "fit"))
            for request in ((c, f"{key}.help", selected), (c, f"{key}.help={selected}"))
        ]
    try:
        content = help_cache.content_key()
    except OSError:
        return []
    for request in requests:
        flags = help_cache.cached_flags(request, content)
        if flags is not None:
            return [f for f in flags if f.startswith(group)]
    help_cache.warm_in_background(requests[0], content)
    return []


def _command_candidates(
    command: str, positional: list[str], current: str, before: list[str] = ()
) -> list[str]:
    from lightkit.cli import TRAIN_COMMANDS

    if command in TRAIN_COMMANDS:
        if current and not current.startswith("-"):
            return []
        options = list(TRAIN_OPTIONS)
        group = next((g for g in _FLAG_GROUPS if current.startswith(g)), None)
        if group is not None:
            options += [f for f in _group_flags(command, group, list(before)) if f not in options]
        return options
    if command == "plugins":
        if not positional:
            return ["--help"] if current.startswith("-") else list(_PLUGIN_ACTIONS)
        action = positional[0]
        if current.startswith("-"):
            return list(_PLUGIN_ACTIONS.get(action, ()))
        if action == "show" and len(positional) == 1:
            return sorted({p.name for p in registry.list_plugins()})
        return []
    if command == "completion":
        return ["bash", "zsh"] if not positional and not current.startswith("-") else []
    return []


_BASH = r"""# lightkit completion for bash. Load it in ~/.bashrc with:
#   eval "$(lightkit completion bash)"
_lightkit_complete() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prefix="" line f
    local IFS=$'\n'
    local -a out
    out=($(lightkit completion __complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null))
    COMPREPLY=()
    [[ "$cur" == "=" ]] && cur=""
    if [[ "$cur" == -*=* ]]; then prefix="${cur%%=*}="; cur="${cur#*=}"; fi
    for line in "${out[@]}"; do
        if [[ "$line" == "__files__" ]]; then
            compopt -o filenames 2>/dev/null
            for f in $(compgen -f -- "$cur"); do COMPREPLY+=("$prefix$f"); done
        else
            COMPREPLY+=("$prefix$line")
        fi
    done
    if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *= ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _lightkit_complete lightkit
"""

_ZSH = r"""#compdef lightkit
# lightkit completion for zsh. Load it in ~/.zshrc, after compinit, with:
#   eval "$(lightkit completion zsh)"
# or save it as _lightkit in a directory on $fpath.
_lightkit() {
    local -a out values eq plain
    local line files=0
    out=("${(@f)$(lightkit completion __complete $((CURRENT - 1)) "${words[@]}" 2>/dev/null)}")
    if [[ "$PREFIX" == -*=* ]]; then compset -P '*='; fi
    for line in "${out[@]}"; do
        [[ -z "$line" ]] && continue
        if [[ "$line" == "__files__" ]]; then files=1; else values+=("$line"); fi
    done
    eq=(${(M)values:#*=})
    plain=(${values:#*=})
    (( ${#plain} )) && compadd -Q -- "${plain[@]}"
    (( ${#eq} )) && compadd -Q -S '' -- "${eq[@]}"
    (( files )) && _files
    return 0
}
if [[ "${funcstack[1]}" == "_lightkit" ]]; then
    _lightkit "$@"
else
    compdef _lightkit lightkit
fi
"""

_SCRIPTS = {"bash": _BASH, "zsh": _ZSH}


def script(shell: str) -> str:
    """The completion script for ``bash`` or ``zsh``."""
    return _SCRIPTS[shell]


_USAGE = """usage: lightkit completion {bash,zsh}

Print a completion script that completes commands, options and the registered short names of
--model, --data and --trainer.callbacks+=.

  bash:  add to ~/.bashrc    eval "$(lightkit completion bash)"
  zsh:   add to ~/.zshrc     eval "$(lightkit completion zsh)"    (after compinit)
"""


def main(argv: list[str]) -> int:
    """Run ``lightkit completion ARGV``; returns the exit code."""
    if argv[:1] == ["__complete"]:
        try:
            cword, words = int(argv[1]), argv[2:]
        except (IndexError, ValueError):
            return 1
        for candidate in complete(words, cword):
            print(candidate)
        return 0
    if any(a in ("-h", "--help") for a in argv):
        print(_USAGE, end="")
        return 0
    if not argv or argv[0] not in _SCRIPTS or len(argv) > 1:
        given = f"unknown shell {' '.join(argv)!r}" if argv else "no shell given"
        raise UsageError(
            f"{given} (from lightkit completion)",
            'give bash or zsh, e.g. in ~/.bashrc: eval "$(lightkit completion bash)".',
        )
    sys.stdout.write(script(argv[0]))
    return 0
