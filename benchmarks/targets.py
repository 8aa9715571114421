"""Issue #5's targets, turned into table rows: medians (wall and CPU time), what they are compared
with, the ratios, the target and whether it is met.

The targets are judged on wall time, as issue #5 states them. CPU time (user + system of the
process) is shown beside it because the benchmark machine is shared: when other work competes for
the cores, wall time stretches and CPU time stays close to what the wall time would be on an idle
machine. A target that is met on CPU time but not on wall time says so in its row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Row", "evaluate"]


@dataclass
class Row:
    """One line of the results table."""

    group: str
    case: str
    value: float | None
    unit: str
    cpu: float | None = None
    reference: str = ""
    ratio: float | None = None
    cpu_ratio: float | None = None
    target: str = ""
    met: bool | None = None
    met_cpu: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _get(summary: dict[str, Any], key: str, metric: str) -> float | None:
    case = summary.get(key)
    if not isinstance(case, dict) or "median" not in case:
        return None
    value = case["median"].get(metric)
    return float(value) if value is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _at_most(limit: float):  # noqa: ANN202
    return lambda r: r is not None and r <= limit


def _row(
    group: str,
    case: str,
    summary: dict[str, Any],
    key: str,
    metric: str,
    cpu_metric: str | None,
    ref_key: str | None = None,
    reference: str = "",
    target: str = "",
    check: Any = None,
    invert: bool = False,
    note: str = "",
) -> Row:
    """A row for ``key``'s ``metric`` (and its CPU twin), compared with ``ref_key``'s.

    ``invert`` makes the ratio reference / value (a speed-up) instead of value / reference.
    """
    value, cpu = _get(summary, key, metric), _get(summary, key, cpu_metric) if cpu_metric else None
    ratio = cpu_ratio = None
    if ref_key is not None:
        ref, ref_cpu = (
            _get(summary, ref_key, metric),
            _get(summary, ref_key, cpu_metric) if cpu_metric else None,
        )
        ratio = _ratio(ref, value) if invert else _ratio(value, ref)
        cpu_ratio = (_ratio(ref_cpu, cpu) if invert else _ratio(cpu, ref_cpu)) if cpu_metric else None
    met = check(ratio) if check is not None else None
    met_cpu = check(cpu_ratio) if check is not None and cpu_metric else None
    return Row(group, case, value, "s", cpu, reference, ratio, cpu_ratio, target, met, met_cpu, note)


def _startup(summary: dict[str, Any], facts: dict[str, Any]) -> list[Row]:
    if "startup.python" not in summary:  # the group was not run
        return []
    rows = [
        _row("start-up", "python -c pass (floor)", summary, "startup.python", "wall_s", "cpu_s"),
        _row(
            "start-up",
            "import jsonargparse, rich, importlib.metadata (floor)",
            summary,
            "startup.deps_floor",
            "wall_s",
            "cpu_s",
        ),
    ]
    for key, name in (
        ("startup.lightkit_help", "lightkit --help"),
        ("startup.plugins_list", "lightkit plugins list"),
    ):
        if key not in summary:
            rows.append(
                Row("start-up", name, None, "s", target="<= 0.3 s, no torch", note="command not available")
            )
            continue
        torch = facts.get("imports_torch", {}).get(key)
        row = _row(
            "start-up",
            name,
            summary,
            key,
            "wall_s",
            "cpu_s",
            "startup.deps_floor",
            "deps floor",
            "<= 0.3 s, no torch",
        )
        row.met = row.value is not None and row.value <= 0.3 and torch is False
        row.met_cpu = row.cpu is not None and row.cpu <= 0.3 and torch is False
        row.note = {True: "imports torch", False: "torch not imported"}.get(torch, "")
        rows.append(row)
    if _get(summary, "startup.import_lightning", "wall_s") is None:
        return rows
    rows.append(
        _row(
            "start-up",
            'python -c "import lightning.pytorch"',
            summary,
            "startup.import_lightning",
            "wall_s",
            "cpu_s",
        )
    )
    for key, plain_key, name in (
        ("startup.fit_help", "startup.plain_fit_help", "lightkit fit --help"),
        ("startup.print_config", "startup.plain_print_config", "lightkit fit --model --data --print_config"),
    ):
        rows.append(
            _row(
                "start-up",
                name,
                summary,
                key,
                "wall_s",
                "cpu_s",
                "startup.import_lightning",
                "import lightning.pytorch",
                "<= 1.15x",
                _at_most(1.15),
            )
        )
        plain = "plain LightningCLI: " + name.removeprefix("lightkit ")
        rows.append(
            _row(
                "start-up",
                plain,
                summary,
                plain_key,
                "wall_s",
                "cpu_s",
                "startup.import_lightning",
                "import lightning.pytorch",
            )
        )
        rows.append(
            _row(
                "start-up",
                f"{name} vs plain LightningCLI",
                summary,
                key,
                "wall_s",
                "cpu_s",
                plain_key,
                "plain LightningCLI",
            )
        )
    return rows


def _discovery(summary: dict[str, Any], counts: tuple[int, ...]) -> list[Row]:
    rows: list[Row] = []
    for command, name in (
        ("plugins_list", "lightkit plugins list"),
        ("print_config", "lightkit fit --print_config"),
    ):
        base = f"discovery.{command}.{counts[0]}"
        if _get(summary, base, "wall_s") is None:
            continue
        for count in counts:
            key = f"discovery.{command}.{count}"
            if count == counts[0]:
                rows.append(
                    _row("discovery", f"{name}, {count} extra plugins", summary, key, "wall_s", "cpu_s")
                )
                continue
            last = count == counts[-1]
            rows.append(
                _row(
                    "discovery",
                    f"{name}, {count} extra plugins",
                    summary,
                    key,
                    "wall_s",
                    "cpu_s",
                    base,
                    f"{counts[0]} extra plugins",
                    "< 1.10x" if last else "",
                    (lambda r: r is not None and r < 1.10) if last else None,
                )
            )
    return rows


_NAMES = {
    "hand_loop": "hand-written PyTorch loop",
    "plain_lightning": "plain Lightning (TensorDataset + DataLoader)",
    "lightkit": "lightkit",
    "what_if_lean_step": "what-if: lightkit fit, TabularMLP with a lean step (benchmarks/lean_step_mlp.py)",
}


def _throughput(summary: dict[str, Any], group: str, samples: int) -> list[Row]:
    metric, cpu_metric = f"{group}_s", f"{group}_cpu_s"
    rows: list[Row] = []
    for who in ("hand_loop", "plain_lightning", "lightkit", "what_if_lean_step"):
        key = f"{group}.{who}"
        value = _get(summary, key, metric)
        if value is None:
            continue
        wall, rss = _get(summary, key, "wall_s"), _get(summary, key, "peak_rss_mb")
        note = f"{samples / value:,.0f} samples/s; whole process {wall:.1f} s, peak RSS {rss:.0f} MB"
        before = _get(summary, key, "peak_rss_before_fit_mb")
        if before is not None:
            note += f" ({before:.0f} MB before the first step)"
        name = f"{_NAMES[who] if who != 'lightkit' else f'lightkit {group}'}: {metric}"
        if who in ("hand_loop", "plain_lightning"):
            rows.append(_row(group, name, summary, key, metric, cpu_metric, note=note))
            continue
        if _get(summary, f"{group}.plain_lightning", metric) is not None:
            rows.append(
                _row(
                    group,
                    f"{name}, speed-up over plain Lightning",
                    summary,
                    key,
                    metric,
                    cpu_metric,
                    f"{group}.plain_lightning",
                    "plain Lightning time / this",
                    ">= 2x",
                    lambda r: r is not None and r >= 2,
                    invert=True,
                    note=note,
                )
            )
            note = ""
        rows.append(
            _row(
                group,
                f"{name} vs hand loop",
                summary,
                key,
                metric,
                cpu_metric,
                f"{group}.hand_loop",
                "this / hand loop",
                "<= 1.5x",
                _at_most(1.5),
                note=note,
            )
        )
        if group == "fit":
            row = _row(
                group,
                f"{_NAMES[who] if who != 'lightkit' else 'lightkit fit'}: peak RSS of the process",
                summary,
                key,
                "peak_rss_mb",
                None,
                "fit.hand_loop",
                "this / hand loop",
                "<= 1.5x",
                _at_most(1.5),
            )
            row.unit = "MB"
            rows.append(row)
    return rows


_VARIANTS = (
    ("hand", "hand-written step (floor)"),
    ("lightning", "Lightning step, nothing logged"),
    ("lightning_dataloader", "Lightning step, DataLoader(TensorDataset) instead of TensorBatchLoader"),
    ("log_loss", "+ self.log(train_loss) every step"),
    ("metrics_epoch", "+ acc/F1/AUROC updated every step, logged per epoch"),
    ("metrics_step", "+ metrics logged with log_dict every step instead (Lightning docs' pattern)"),
    ("lean", "lean: loss logged at the logging interval, metrics per epoch, no argument checks"),
)


def _overhead(summary: dict[str, Any], batch_sizes: tuple[int, ...]) -> list[Row]:
    rows = []
    for batch_size in batch_sizes:
        case = f"overhead.steps.{batch_size}"
        for key, name in _VARIANTS:
            if _get(summary, case, f"{key}_ms") is None:
                continue
            row = _row(f"step, batch {batch_size}", name, summary, case, f"{key}_ms", f"{key}_cpu_ms")
            if key != "hand":
                row.reference = "hand step"
                row.ratio = _ratio(row.value, _get(summary, case, "hand_ms"))
                row.cpu_ratio = _ratio(row.cpu, _get(summary, case, "hand_cpu_ms"))
            row.value = row.value / 1000 if row.value is not None else None
            row.cpu = row.cpu / 1000 if row.cpu is not None else None
            rows.append(row)
    return rows


def evaluate(
    summary: dict[str, Any],
    facts: dict[str, Any],
    counts: tuple[int, ...],
    train_samples: int,
    predict_samples: int,
    batch_sizes: tuple[int, ...] = (),
) -> list[Row]:
    """Every row of the table, from the per-case summaries of a run.

    Args:
        summary: Case key -> ``{"median": {...}}`` or ``{"error": ...}``.
        facts: Checks made beside the timings (``imports_torch``: case key -> bool).
        counts: The plugin counts of the discovery cases.
        train_samples: Training samples in one fit (rows x epochs), for samples/s.
        predict_samples: Rows predicted.
        batch_sizes: Batch sizes of the per-step breakdown.
    """
    rows = _startup(summary, facts) + _discovery(summary, counts)
    rows += _throughput(summary, "fit", train_samples) + _throughput(summary, "predict", predict_samples)
    return rows + _overhead(summary, batch_sizes)
