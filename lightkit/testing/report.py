"""The outcome of a conformance run: one line per check, and what to fix when one fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CheckResult", "ConformanceError", "ConformanceReport"]

Status = Literal["pass", "fail", "skip"]

_LABEL: dict[str, str] = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


@dataclass
class CheckResult:
    """The result of one check.

    Attributes:
        check: The check's name, e.g. ``init-args``.
        status: ``pass``, ``fail`` or ``skip``.
        summary: One line saying what was checked, or what went wrong.
        details: Further lines: each problem found, or captured output.
        fix: What the plugin author should change, for a failed check.
        seconds: How long the check took.
    """

    check: str
    status: Status
    summary: str
    details: list[str] = field(default_factory=list)
    fix: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the check passed or was skipped on purpose."""
        return self.status != "fail"

    def lines(self) -> list[str]:
        """The result as indented text lines."""
        timing = f" ({self.seconds:.1f} s)" if self.seconds >= 0.05 else ""
        out = [f"  {_LABEL[self.status]}  {self.check:<18} {self.summary}{timing}"]
        out += [f"        {line}" for line in self.details]
        if self.fix and self.status == "fail":
            out.append(f"        fix: {self.fix}")
        return out


@dataclass
class ConformanceReport:
    """Every check run for one plugin.

    Attributes:
        subject: Which plugin was checked, e.g. ``model 'MyNet' (my-pkg 0.1.0)``.
        results: One :class:`CheckResult` per check, in the order they ran.
    """

    subject: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether no check failed."""
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        """The failed checks."""
        return [r for r in self.results if r.status == "fail"]

    def result(self, check: str) -> CheckResult:
        """The result of the check named ``check``."""
        for r in self.results:
            if r.check == check:
                return r
        raise KeyError(f"no check named {check!r}; checks run: {[r.check for r in self.results]}")

    def __str__(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in ("pass", "fail", "skip")}
        tally = f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped"
        lines = [f"lightkit conformance kit: {self.subject}"]
        for r in self.results:
            lines += r.lines()
        lines.append(tally)
        return "\n".join(lines)


class ConformanceError(AssertionError):
    """A plugin failed the conformance kit; the message is the full report.

    It is an ``AssertionError``, so pytest reports it as a test failure with the report as message.

    Args:
        report: The report with at least one failed check.
    """

    def __init__(self, report: ConformanceReport) -> None:
        super().__init__(str(report))
        self.report = report


for _public in (CheckResult, ConformanceError, ConformanceReport):
    _public.__module__ = "lightkit.testing"
