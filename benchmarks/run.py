"""Run lightkit's benchmark suite (issue #5) and write the table.

    python benchmarks/run.py            # every case; about 15-25 minutes on 2 busy cores
    python benchmarks/run.py --smoke    # tiny sizes, one sample each: checks that it all works
    python benchmarks/run.py --groups fit,predict --repeats 5

Cases of a group alternate (A B C A B C ...) so that drift in the machine's load cancels out;
the table shows medians. Results go to benchmarks/results.json and into the generated section of
docs/benchmarks.md, with the machine description; a --smoke run writes both into its --workdir
instead, and leaves every tracked file as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import CACHED_HELP, GROUPS, REPO, Settings, build_cases  # noqa: E402
from benchmarks.measure import medians, run_interleaved  # noqa: E402
from benchmarks.report import (  # noqa: E402
    code_state,
    console_table,
    machine,
    markdown_section,
    update_docs,
    write_results,
)
from benchmarks.targets import evaluate  # noqa: E402

_PROBE = """
import sys
sys.argv = ["lightkit", *{args!r}]  # as the console script has it (help text names the program)
from lightkit.cli import main
code = main({args!r})
print("TORCH-IMPORTED=" + str("torch" in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def imports_torch(args: list[str], env: dict[str, str], cwd: Path) -> bool | None:
    """Whether ``lightkit ARGS`` imports torch (run once, in-process in a fresh interpreter)."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(args=args)], env=env, cwd=cwd, capture_output=True, text=True
    )
    for line in proc.stderr.splitlines():
        if line.startswith("TORCH-IMPORTED="):
            return line.endswith("True")
    return None


def count_rows(path: Path) -> int:
    """Data rows of a CSV file (lines minus the header)."""
    with open(path, "rb") as handle:
        return sum(1 for _ in handle) - 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, one sample per case, fewer cases (see benchmarks/cases.py)",
    )
    parser.add_argument(
        "--groups",
        default=None,
        help=f"comma-separated subset of {','.join(GROUPS)} (default: all; --smoke: all but overhead)",
    )
    parser.add_argument("--repeats", type=int, default=None, help="samples per fit/predict case (default 3)")
    parser.add_argument(
        "--startup-repeats", type=int, default=None, help="samples per start-up/discovery case (default 7)"
    )
    parser.add_argument("--rows", type=int, default=None, help="rows of the table (default 200000)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default 3)")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch size (default 256)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch/OpenMP threads per process; 0 keeps torch's default"
    )
    parser.add_argument(
        "--scale-rows",
        default=None,
        help="comma-separated table sizes of the scale group; the largest of several reads Parquet "
        "(default 200000,2000000; add 10000000 where memory and time allow)",
    )
    parser.add_argument("--scale-epochs", type=int, default=1, help="training epochs of the scale cases")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: print the table of the --results file and rewrite the docs from it",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the cases of the groups not run from the existing --results file, so that the "
        "table and the docs show every group (for re-running one group of a full run)",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="tables, plugins, runs and logs (default: a temp dir)"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="results file (default: benchmarks/results.json; --smoke: results.json in --workdir)",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="page whose generated section is replaced (default: docs/benchmarks.md; "
        "--smoke: benchmarks.md in --workdir)",
    )
    parser.add_argument(
        "--accelerator-note", default="none: CPU only", help="how the accelerator is described in the docs"
    )
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace, workdir: Path) -> tuple[Settings, int, int]:
    smoke = args.smoke
    settings = Settings(
        workdir=workdir,
        rows=args.rows or (3000 if smoke else 200_000),
        epochs=args.epochs or (1 if smoke else 3),
        batch_size=args.batch_size or (64 if smoke else 256),
        plugin_counts=(0, 3) if smoke else (0, 20, 200),
        smoke=smoke,
        scale_epochs=args.scale_epochs,
    )
    if args.scale_rows:
        settings.scale_rows = tuple(int(r) for r in args.scale_rows.split(",") if r.strip())
    elif smoke:
        settings.scale_rows = (3000, 6000)
    repeats = args.repeats or (1 if smoke else 3)
    startup_repeats = args.startup_repeats or (1 if smoke else 7)
    return settings, repeats, startup_repeats


def report_only(args: argparse.Namespace) -> int:
    """The table and the docs section again, from a results file (after a change to the report)."""
    path = args.results or REPO / "benchmarks" / "results.json"
    payload = json.loads(path.read_text())
    s = payload["settings"]
    rows = evaluate(
        payload["cases"],
        payload["facts"],
        tuple(s["plugin_counts"]),
        (s["rows"] - int(round(s["rows"] * s["val_fraction"]))) * s["epochs"],
        s["rows"],
        tuple(s["overhead_batch_sizes"]),
        tuple(s.get("scale_rows", ())),
        s["val_fraction"],
        s.get("scale_epochs", 1),
        payload.get("accelerator", "none: CPU only"),
    )
    print(console_table(rows))
    payload["rows"] = [r.as_dict() for r in rows]
    write_results(path, payload)
    docs = args.docs or REPO / "docs" / "benchmarks.md"
    update_docs(docs, markdown_section(rows, payload))
    print(f"\nwrote {path} and {docs}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        return report_only(args)
    default = [g for g in GROUPS if g != "overhead"] if args.smoke else list(GROUPS)
    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else default
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        print(f"error: unknown group {unknown[0]!r}; groups are {', '.join(GROUPS)}", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.gettempdir()) / (
        "lightkit-bench-smoke" if args.smoke else "lightkit-bench"
    )
    workdir.mkdir(parents=True, exist_ok=True)
    # a smoke run checks that everything works: its numbers mean nothing, so nothing tracked is rewritten
    if args.results is None:
        args.results = workdir / "results.json" if args.smoke else REPO / "benchmarks" / "results.json"
    if args.docs is None:
        args.docs = workdir / "benchmarks.md" if args.smoke else REPO / "docs" / "benchmarks.md"
    settings, repeats, startup_repeats = settings_from(args, workdir)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # every case runs one copy of lightkit, taken now: edits to the checkout during the run (it is
    # shared) change neither the code measured nor the help cache's key
    snapshot = workdir / "code"
    shutil.rmtree(snapshot, ignore_errors=True)
    shutil.copytree(REPO / "lightkit", snapshot / "lightkit", ignore=shutil.ignore_patterns("__pycache__"))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(snapshot), str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )
    if args.threads > 0:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if args.batch_size and args.batch_size not in settings.overhead_batch_sizes:
        settings.overhead_batch_sizes = tuple(sorted({*settings.overhead_batch_sizes, args.batch_size}))
    info: dict[str, Any] = {
        "command": " ".join(["python benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "code": code_state(REPO),
        "accelerator": args.accelerator_note,
        "settings": {
            "rows": settings.rows,
            "epochs": settings.epochs,
            "batch_size": settings.batch_size,
            "val_fraction": settings.val_fraction,
            "plugin_counts": settings.plugin_counts,
            "overhead_batch_sizes": settings.overhead_batch_sizes,
            "scale_rows": settings.scale_rows,
            "scale_epochs": settings.scale_epochs,
            "repeats": f"{startup_repeats} (start-up, discovery) / {repeats} (fit, predict)",
            "threads": args.threads or "torch default",
            "groups": groups,
        },
    }
    started = time.perf_counter()
    summary: dict[str, Any] = {}
    facts: dict[str, Any] = {"imports_torch": {}, "prediction_rows": {}}
    for group in groups:
        cases = build_cases(group, settings)
        n = (
            startup_repeats
            if group in ("startup", "discovery")
            else 1
            if group in ("overhead", "scale")
            else repeats
        )
        print(f"{group}: {len(cases)} cases x {n} samples, interleaved", flush=True)
        results = run_interleaved(
            cases,
            n,
            workdir,
            env,
            workdir / "logs",
            warmup=group in ("startup", "discovery") and not args.smoke,
        )
        for case in cases:
            outcome = results[case.key]
            entry: dict[str, Any] = {"label": case.label, "command": case.argv, "env": case.env}
            if isinstance(outcome, str):
                entry["error"] = outcome
            else:
                entry["median"] = medians(outcome)
            summary[case.key] = entry
        if group == "startup":
            for key, cli_args in (
                ("startup.lightkit_help", ["--help"]),
                ("startup.plugins_list", ["plugins", "list"]),
            ):
                if key in summary:
                    facts["imports_torch"][key] = imports_torch(cli_args, env, workdir)
            cache_env = {**env, "LIGHTKIT_CACHE_DIR": str(settings.cache)}
            for key, _, cli_args in CACHED_HELP:  # the cache is warm: the samples filled it
                if (case_key := f"startup.cached_{key}") in summary:
                    facts["imports_torch"][case_key] = imports_torch(cli_args, cache_env, workdir)
        if group == "predict":
            for case in cases:
                output = Path(
                    case.argv[
                        case.argv.index("--run.output" if "--run.output" in case.argv else "--output") + 1
                    ]
                )
                facts["prediction_rows"][case.key] = count_rows(output) if output.exists() else None
    if args.merge and args.results.is_file():
        earlier = json.loads(args.results.read_text())
        kept = {k: v for k, v in earlier.get("cases", {}).items() if k.split(".")[0] not in groups}
        summary = {**kept, **summary}
        for name, values in earlier.get("facts", {}).items():
            facts[name] = {**{k: v for k, v in values.items() if k in kept}, **facts.get(name, {})}
        earlier_groups = {k.split(".")[0] for k in kept}
        info["merged"] = [
            *(
                {**m, "groups": sorted(set(m["groups"]) & earlier_groups)}
                for m in earlier.get("merged", [])
                if set(m["groups"]) & earlier_groups
            ),
            *(
                []
                if earlier.get("merged")
                else [
                    {
                        "date": earlier.get("machine", {}).get("date"),
                        "command": earlier.get("command"),
                        "groups": sorted(earlier_groups),
                    }
                ]
            ),
        ]
        if earlier.get("merged"):  # the earlier file's own invocation is one of those merged
            own = earlier_groups - {g for m in info["merged"] for g in m["groups"]}
            if own:
                info["merged"].append(
                    {
                        "date": earlier.get("machine", {}).get("date"),
                        "command": earlier.get("command"),
                        "groups": sorted(own),
                    }
                )
    info["elapsed_s"] = time.perf_counter() - started
    info["load_average_at_end"] = (
        [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    )
    rows = evaluate(
        summary,
        facts,
        settings.plugin_counts,
        settings.train_rows * settings.epochs,
        settings.rows,
        settings.overhead_batch_sizes,
        settings.scale_rows,
        settings.val_fraction,
        settings.scale_epochs,
        args.accelerator_note,
    )
    failures = {k: v["error"] for k, v in summary.items() if "error" in v}
    wrong_rows = {k: n for k, n in facts["prediction_rows"].items() if n != settings.rows}
    for key, n in wrong_rows.items():
        failures[key] = f"wrote {n} prediction rows, expected {settings.rows}"
    info["failures"] = failures
    print()
    print(console_table(rows))
    write_results(
        args.results, {**info, "cases": summary, "facts": facts, "rows": [r.as_dict() for r in rows]}
    )
    update_docs(args.docs, markdown_section(rows, info))
    print(f"\nwrote {args.results} and {args.docs}")
    if failures:
        for key, message in failures.items():
            print(f"FAILED {key}: {message}", file=sys.stderr)
        return 1
    if args.smoke:
        shutil.rmtree(workdir / "runs", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
