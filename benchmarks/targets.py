"""Issue #5's targets, turned into table rows: a median, what it is compared with, the ratio,
the target and whether it is met."""

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
    reference: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
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


def _startup(summary: dict[str, Any], facts: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    wall = lambda key: _get(summary, key, "wall_s")  # noqa: E731
    python, deps = wall("startup.python"), wall("startup.deps_floor")
    rows.append(Row("start-up", "python -c pass (floor)", python, "s"))
    rows.append(Row("start-up", "import jsonargparse, rich, importlib.metadata (floor)", deps, "s"))
    for key, name in (("startup.lightkit_help", "lightkit --help"), ("startup.plugins_list", "lightkit plugins list")):
        value = wall(key)
        torch = facts.get("imports_torch", {}).get(key)
        if value is None and key not in summary:
            rows.append(Row("start-up", name, None, "s", target="<= 0.3 s, no torch", note="command not available"))
            continue
        met = value is not None and value <= 0.3 and torch is False
        note = {True: "imports torch", False: "torch not imported"}.get(torch, "")
        rows.append(Row("start-up", name, value, "s", "deps floor", _ratio(value, deps), "<= 0.3 s, no torch", met, note))
    lightning = wall("startup.import_lightning")
    if lightning is None:
        return rows
    rows.append(Row("start-up", 'python -c "import lightning.pytorch"', lightning, "s"))
    for key, plain_key, name in (
        ("startup.fit_help", "startup.plain_fit_help", "lightkit fit --help"),
        ("startup.print_config", "startup.plain_print_config", "lightkit fit --model --data --print_config"),
    ):
        value, plain = wall(key), wall(plain_key)
        ratio = _ratio(value, lightning)
        met = ratio is not None and ratio <= 1.15
        rows.append(Row("start-up", name, value, "s", "import lightning.pytorch", ratio, "<= 1.15x", met))
        plain_name = "plain LightningCLI: " + name.removeprefix("lightkit ")
        rows.append(Row("start-up", plain_name, plain, "s", "import lightning.pytorch", _ratio(plain, lightning)))
    return rows


def _discovery(summary: dict[str, Any], counts: tuple[int, ...]) -> list[Row]:
    rows: list[Row] = []
    for command, name in (("plugins_list", "lightkit plugins list"), ("print_config", "lightkit fit --print_config")):
        base = _get(summary, f"discovery.{command}.{counts[0]}", "wall_s")
        if base is None:
            continue
        for count in counts:
            value = _get(summary, f"discovery.{command}.{count}", "wall_s")
            ratio = _ratio(value, base)
            last = count == counts[-1] and count != counts[0]
            rows.append(
                Row(
                    "discovery",
                    f"{name}, {count} extra plugins",
                    value,
                    "s",
                    f"{counts[0]} extra plugins" if count != counts[0] else "",
                    ratio if count != counts[0] else None,
                    "< 1.10x" if last else "",
                    (ratio is not None and ratio < 1.10) if last else None,
                )
            )
    return rows


def _throughput(summary: dict[str, Any], group: str, metric: str, samples: int) -> list[Row]:
    names = {
        "hand_loop": "hand-written PyTorch loop",
        "plain_lightning": "plain Lightning (TensorDataset + DataLoader)",
        "lightkit": f"lightkit {group}",
        "what_if_epoch_metrics": "what-if: lightkit fit, metrics logged per epoch",
    }
    rows: list[Row] = []
    hand = _get(summary, f"{group}.hand_loop", metric)
    plain = _get(summary, f"{group}.plain_lightning", metric)
    for who in ("hand_loop", "plain_lightning", "lightkit", "what_if_epoch_metrics"):
        value = _get(summary, f"{group}.{who}", metric)
        if value is None:
            continue
        wall = _get(summary, f"{group}.{who}", "wall_s")
        rss = _get(summary, f"{group}.{who}", "peak_rss_mb")
        note = f"{samples / value:,.0f} samples/s; process {wall:.1f} s, peak RSS {rss:.0f} MB"
        if who in ("hand_loop", "plain_lightning"):
            rows.append(Row(group, f"{names[who]}: {metric}", value, "s", note=note))
            continue
        rows.append(
            Row(group, f"{names[who]}: {metric}", value, "s", "plain Lightning time / this", _ratio(plain, value), ">= 2x",
                (_ratio(plain, value) or 0) >= 2, note)
        )  # fmt: skip
        rows.append(
            Row(group, f"{names[who]}: {metric} vs hand loop", value, "s", "this / hand loop", _ratio(value, hand), "<= 1.5x",
                (_ratio(value, hand) or 99) <= 1.5)
        )  # fmt: skip
        if group == "fit":
            hand_rss = _get(summary, "fit.hand_loop", "peak_rss_mb")
            ratio = _ratio(rss, hand_rss)
            rows.append(
                Row(group, f"{names[who]}: peak RSS", rss, "MB", "this / hand loop", ratio, "<= 1.5x", (ratio or 99) <= 1.5)
            )
    return rows


def evaluate(summary: dict[str, Any], facts: dict[str, Any], counts: tuple[int, ...], train_samples: int, predict_samples: int) -> list[Row]:
    """Every row of the table, from the per-case summaries of a run.

    Args:
        summary: Case key -> ``{"median": {...}}`` or ``{"error": ...}``.
        facts: Checks made beside the timings (``imports_torch``: case key -> bool).
        counts: The plugin counts of the discovery cases.
        train_samples: Training samples in one fit (rows x epochs), for samples/s.
        predict_samples: Rows predicted.
    """
    rows = _startup(summary, facts) + _discovery(summary, counts)
    rows += _throughput(summary, "fit", "fit_s", train_samples)
    rows += _throughput(summary, "predict", "predict_s", predict_samples)
    return rows
