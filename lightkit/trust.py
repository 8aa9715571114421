"""What a config may import: jsonargparse's import-path policy, and lightkit's strict mode.

A ``class_path`` in a config (or on the command line, or in the config a checkpoint carries) is
a Python import path. Resolving it imports the module, which runs the module's top-level code,
and instantiating it runs the class's ``__init__``. A config is therefore code, and lightkit
treats it like code:

* **Always**, jsonargparse's own denylist is enforced (jsonargparse warns only, until its 5.0):
  ``os``, ``subprocess``, ``pickle``, ``importlib``, ``sys``, ``builtins.eval`` and the other
  paths that run commands, load code or change the policy itself cannot be named by a value.
* **Strict mode** (``LIGHTKIT_STRICT=1``) denies everything else too, except registered plugins
  (the modules their entry points name) and the ``torch``, ``lightning``, ``torchmetrics`` and
  ``lightkit`` namespaces; inside those, :data:`RISKY_IN_TRUSTED` stays denied (code loaders).
  Use it for configs and checkpoints you did not write.

The policy is checked before anything is imported (``jsonargparse.set_parsing_settings``,
``import_path_allowlist`` and ``import_path_denylist``). Paths that come from code, such as type
annotations and defaults, are never checked. This module imports only the standard library until
:func:`apply_import_policy` is called.
"""

from __future__ import annotations

import os

__all__ = [
    "RISKY_IN_TRUSTED",
    "STRICT_ENV",
    "TRUSTED_NAMESPACES",
    "allowed_in_strict_mode",
    "apply_import_policy",
    "strict_mode",
]

#: the environment variable that turns strict mode on
STRICT_ENV = "LIGHTKIT_STRICT"

#: namespaces a config may always import from in strict mode (besides registered plugins)
TRUSTED_NAMESPACES: tuple[str, ...] = ("torch", "lightning", "torchmetrics", "lightkit")

#: paths inside the trusted namespaces that load, compile or fetch code; denied in strict mode
RISKY_IN_TRUSTED: tuple[str, ...] = (
    "torch.hub",
    "torch.load",
    "torch.serialization",
    "torch.package",
    "torch.utils.cpp_extension",
    "torch.ops",
    "torch.classes",
    "torch.jit.load",
    "torch.distributed.rpc",
    "lightning.fabric.utilities.cloud_io",
)


def strict_mode() -> bool:
    """Whether ``LIGHTKIT_STRICT`` asks for strict mode (``1``, ``true`` or ``yes``)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def allowed_in_strict_mode() -> list[str]:
    """The trusted namespaces plus the module of every registered plugin; reads metadata only."""
    from lightkit import registry

    modules = sorted({plugin.module for plugin in registry.list_plugins()})
    return [*TRUSTED_NAMESPACES, *(m for m in modules if m.split(".")[0] not in TRUSTED_NAMESPACES)]


def _reset_policy() -> None:
    """Forget entries added by an earlier call, so that strict mode can also be turned off again."""
    try:
        from jsonargparse import _common

        defaults = _common.default_import_path_denylist
        _common.parsing_settings["import_path_verdicts"] = dict.fromkeys(defaults, False)
    except (ImportError, AttributeError, KeyError, TypeError):  # another jsonargparse: keep what is there
        pass


def apply_import_policy(strict: bool | None = None) -> bool:
    """Set jsonargparse's import-path policy for this process; returns whether strict mode is on.

    Args:
        strict: Strict mode on or off; by default :func:`strict_mode` decides.
    """
    from jsonargparse import set_parsing_settings

    strict = strict_mode() if strict is None else strict
    _reset_policy()
    if strict:
        set_parsing_settings(
            import_path_denylist=["*", *RISKY_IN_TRUSTED],
            import_path_allowlist=allowed_in_strict_mode(),
        )
    else:
        set_parsing_settings(import_path_denylist=[])  # enforce jsonargparse's default denylist
    return strict
