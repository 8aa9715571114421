"""The conformance kit: checks that a plugin works under ``lightkit`` the way users will run it.

One call in a plugin's tests::

    from lightkit.testing import check_plugin

    def test_my_model_conforms():
        check_plugin("MyNet", data="MyData")

It checks that the entry point loads and is the right kind of class, that every ``__init__``
argument is typed and documented, that ``fit``, ``validate`` and ``predict`` run with
``fast_dev_run``, that ``--print_config`` round-trips, that a checkpoint predicts what the model in
memory predicts, and that the plugin module imports within a time budget. A failure raises
:class:`ConformanceError` (an ``AssertionError``) whose message says what to fix.

Importing this package imports neither torch nor Lightning; running the checks does.
"""

from __future__ import annotations

from lightkit.testing.import_time import DEFAULT_IMPORT_BUDGET_S
from lightkit.testing.kit import CHECKS, check_plugin
from lightkit.testing.report import CheckResult, ConformanceError, ConformanceReport

__all__ = [
    "CHECKS",
    "DEFAULT_IMPORT_BUDGET_S",
    "CheckResult",
    "ConformanceError",
    "ConformanceReport",
    "check_plugin",
]
