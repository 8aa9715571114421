"""Experiment tracking (``--tracking mlflow``): runs read back from a real MLflow store, no mocks.

Every test trains wine for a few epochs in-process and then reads what MLflow holds with
``mlflow.tracking.MlflowClient``, the same store a user opens with
``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from conftest import CONFIGS

from lightkit.tracking.params import TRUNCATED, flatten_config

mlflow = pytest.importorskip(
    "mlflow", reason="the tracking extra (pip install 'lightkit[tracking]') is not installed"
)
from mlflow.tracking import MlflowClient  # noqa: E402

WINE = ("--config", str(CONFIGS / "wine_mlp.yaml"), "--trainer.enable_model_summary", "false")
BIN = Path(sys.executable).parent


def fit(lightkit, *args: str):
    result = lightkit("fit", *WINE, *args)
    assert result.code == 0, result.err[-3000:]
    return result


def client_for(root: Path) -> MlflowClient:
    """The embedded default store of the runs under ``root``."""
    db = root / "mlflow.db"
    assert db.is_file(), f"no MLflow store at {db}"
    return MlflowClient(f"sqlite:///{db}")


def runs_named(client: MlflowClient, name: str) -> list:
    return [
        r
        for e in client.search_experiments()
        for r in client.search_runs([e.experiment_id])
        if r.info.run_name == name
    ]


def history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def csv_series(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every metric of ``metrics.csv`` as sorted (step, value) pairs."""
    series: dict[str, list[tuple[int, float]]] = {}
    with (run_dir / "metrics.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            for key, value in row.items():
                if key != "step" and value not in (None, ""):
                    series.setdefault(key, []).append((int(row["step"]), float(value)))
    return {k: sorted(v) for k, v in series.items()}


def assert_same_series(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    assert [s for s, _ in a] == [s for s, _ in b]
    assert all(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9) for (_, x), (_, y) in zip(a, b, strict=True))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def git_repo(path: Path) -> str:
    """Make ``path`` a git repository with one commit; returns the commit."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}  # fmt: skip
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env)
    return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


# -- one tracked run ----------------------------------------------------------------------------------
def test_a_tracked_fit_is_one_mlflow_run_with_config_metrics_artifacts_and_tags(lightkit, workdir: Path):
    commit = git_repo(workdir)
    fit(lightkit, "--trainer.max_epochs", "3", "--run.name", "wine", "--tracking", "mlflow")
    run_dir = workdir / "runs" / "wine"
    client = client_for(workdir / "runs")
    (run,) = runs_named(client, "wine")
    assert run.info.status == "FINISHED"
    record = json.loads((run_dir / "tracking.json").read_text())
    assert record["run_id"] == run.info.run_id and record["backend"] == "mlflow"
    assert record["tracking_uri"] == f"sqlite:///{(workdir / 'runs' / 'mlflow.db').resolve()}"

    # params: exactly the flattened config.yaml, every key, each once, and no short duplicates
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    expected = flatten_config(config)
    assert run.data.params == expected
    assert run.data.params["model.init_args.lr"] == "0.003"
    assert run.data.params["model.init_args.hidden_sizes"] == "[64, 32]"
    assert run.data.params["trainer.max_epochs"] == "3"
    assert "lr" not in run.data.params and "hidden_sizes" not in run.data.params

    # metrics: val_loss and val_acc at every epoch; every metric at the steps of metrics.csv
    table = csv_series(run_dir)
    for key in ("val_loss", "val_acc"):
        assert len(history(client, run.info.run_id, key)) == 3
    assert set(table) == set(run.data.metrics)
    for key, points in table.items():
        assert_same_series(history(client, run.info.run_id, key), points)

    # artifacts on local disk under the runs root, never in ./mlruns
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert names == {"config.yaml", "versions.json"}
    assert run.info.artifact_uri.startswith((workdir / "runs" / "mlartifacts").resolve().as_uri())
    local = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="config.yaml",
                                                     tracking_uri=record["tracking_uri"]))  # fmt: skip
    assert local.read_text() == (run_dir / "config.yaml").read_text()
    assert not (workdir / "mlruns").exists()

    tags = run.data.tags
    assert tags["lightkit.model"] == "TabularMLP"
    assert tags["lightkit.data"] == "SklearnDataModule"
    assert tags["lightkit.version"] == version("lightkit")
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["lightkit.git_commit"].removesuffix("+dirty") == commit


def test_resume_adds_epochs_to_the_same_mlflow_run(lightkit, workdir: Path):
    fit(lightkit, "--trainer.max_epochs", "3", "--run.name", "wine", "--tracking", "mlflow")
    client = client_for(workdir / "runs")
    (first,) = runs_named(client, "wine")
    resumed = lightkit("fit", "--ckpt_path", "last", "--run.name", "wine", "--trainer.max_epochs", "5")
    assert resumed.code == 0, resumed.err[-3000:]
    assert "trainer.max_epochs" in resumed.err  # MLflow keeps a parameter's first value; the note says so
    (run,) = runs_named(client, "wine")
    assert run.info.run_id == first.info.run_id
    assert run.info.status == "FINISHED"
    run_dir = workdir / "runs" / "wine"
    points = history(client, run.info.run_id, "val_loss")
    assert len(points) == 5
    assert_same_series(points, csv_series(run_dir)["val_loss"])
    assert len(history(client, run.info.run_id, "val_acc")) == 5
    artifact = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path="config.yaml",
            tracking_uri=f"sqlite:///{workdir / 'runs' / 'mlflow.db'}",
        )
    )
    assert yaml.safe_load(artifact.read_text())["trainer"]["max_epochs"] == 5


def test_log_model_uploads_the_best_checkpoint(lightkit, workdir: Path):
    fit(lightkit, "--trainer.max_epochs", "2", "--run.name", "m", "--tracking", "mlflow",
        "--tracking.log_model", "true")  # fmt: skip
    client = client_for(workdir / "runs")
    (run,) = runs_named(client, "m")
    assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")] == [
        "checkpoints/best.ckpt"
    ]
    local = Path(client.download_artifacts(run.info.run_id, "checkpoints/best.ckpt", str(workdir)))
    assert local.read_bytes() == (workdir / "runs" / "m" / "checkpoints" / "best.ckpt").read_bytes()


def test_tracking_uri_flag_and_environment_variable(lightkit, workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'env' / 'store.db'}")
    fit(lightkit, "--trainer.max_epochs", "1", "--run.name", "a", "--tracking", "mlflow")
    fit(lightkit, "--trainer.max_epochs", "1", "--run.name", "b", "--tracking", "mlflow",
        "--tracking.uri", "sqlite:///flag/store.db", "--tracking.experiment", "other")  # fmt: skip
    assert not (workdir / "runs" / "mlflow.db").exists()
    by_env = MlflowClient(f"sqlite:///{workdir / 'env' / 'store.db'}")
    by_flag = MlflowClient(f"sqlite:///{workdir / 'flag' / 'store.db'}")
    assert [r.info.run_name for r in runs_named(by_env, "a")] == ["a"] and not runs_named(by_env, "b")
    (b,) = runs_named(by_flag, "b")
    assert by_flag.get_experiment(b.info.experiment_id).name == "other"
    assert b.info.artifact_uri.startswith((workdir / "flag" / "mlartifacts").as_uri())


# -- child runs ------------------------------------------------------------------------------------------
def test_cross_validation_folds_are_child_runs_of_one_parent(lightkit, workdir: Path):
    fit(lightkit, "--trainer.max_epochs", "2", "--cv.folds", "3", "--run.name", "cv", "--tracking", "mlflow")
    client = client_for(workdir / "runs")
    (parent,) = runs_named(client, "cv")
    assert parent.info.status == "FINISHED"
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(r.info.run_name for r in children) == ["fold-1", "fold-2", "fold-3"]
    assert all(r.info.status == "FINISHED" for r in children)
    summary = json.loads((workdir / "runs" / "cv" / "cv.json").read_text())
    assert math.isclose(parent.data.metrics["val_loss_mean"], summary["mean"]["val_loss"], rel_tol=1e-9)
    for child in children:
        record = json.loads((workdir / "runs" / "cv" / child.info.run_name / "tracking.json").read_text())
        assert record["run_id"] == child.info.run_id and record["parent_run_id"] == parent.info.run_id


def test_sweep_trials_are_child_runs_of_the_study(lightkit, workdir: Path):
    result = lightkit(
        "sweep", "--config", str(CONFIGS / "breast_cancer_mlp.yaml"),
        "--sweep", str(CONFIGS / "sweep_breast_cancer.yaml"), "--n_trials", "3", "--dir", "sw", "--no_plots",
        "--trainer.max_epochs", "2", "--tracking", "mlflow",
    )  # fmt: skip
    assert result.code == 0, result.err[-3000:] + result.out[-2000:]
    client = client_for(workdir / "sw" / "runs")
    (parent,) = runs_named(client, "breast_cancer")
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert sorted(r.info.run_name for r in children) == ["trial-0000", "trial-0001", "trial-0002"]
    assert json.loads((workdir / "sw" / "tracking.json").read_text())["run_id"] == parent.info.run_id
    lrs = {r.data.params["model.init_args.lr"] for r in children}
    assert len(lrs) == 3  # each child holds its own trial's sampled values


# -- lightkit runs ------------------------------------------------------------------------------------------
def test_runs_list_shows_the_tracking_uri_and_mlflow_run_id(lightkit, workdir: Path):
    fit(lightkit, "--trainer.max_epochs", "1", "--run.name", "tracked", "--tracking", "mlflow")
    fit(lightkit, "--trainer.max_epochs", "1", "--run.name", "plain")
    run_id = json.loads((workdir / "runs" / "tracked" / "tracking.json").read_text())["run_id"]
    listed = lightkit("runs", "list", "--json")
    assert listed.code == 0
    info = {i["name"]: i for i in json.loads(listed.out)}
    assert info["tracked"]["tracking"] == "mlflow" and info["tracked"]["tracking_run_id"] == run_id
    assert info["tracked"]["tracking_uri"] == f"sqlite:///{(workdir / 'runs' / 'mlflow.db').resolve()}"
    assert info["plain"]["tracking"] is None and info["plain"]["tracking_run_id"] is None
    table = lightkit("runs", "list")
    line = next(ln for ln in table.out.splitlines() if ln.startswith("tracked "))
    assert "mlflow sqlite:///runs/mlflow.db" in line and run_id in line
    shown = lightkit("runs", "show", "tracked")
    assert shown.code == 0 and run_id in shown.out


def test_help_and_runs_list_import_neither_torch_nor_mlflow(lightkit, workdir: Path):
    fit(lightkit, "--trainer.max_epochs", "1", "--run.name", "tracked", "--tracking", "mlflow")
    probe = (
        "import sys\nfrom lightkit.cli import main\ncode = main(sys.argv[1:])\n"
        "roots = ('torch', 'lightning', 'mlflow', 'wandb')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\nsys.exit(code)\n"
    )
    for args in (["--help"], ["runs", "list"], ["runs", "show", "tracked"]):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, cwd=workdir
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == "HEAVY=", args
    proc = subprocess.run(
        [sys.executable, "-c", probe, "fit", "--help"], capture_output=True, text=True, cwd=workdir
    )
    assert proc.returncode == 0 and "--tracking" in proc.stdout
    assert "mlflow" not in proc.stderr.strip().splitlines()[-1].split("=", 1)[1].split(",")


# -- the real MLflow UI and TensorBoard --------------------------------------------------------------------
def _stop(proc: subprocess.Popen) -> None:
    """End the server and everything it started (its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            continue


def _poll(url: str, proc: subprocess.Popen, until=lambda body: True, attempts: int = 600) -> bytes:
    """GET ``url`` until it answers with a body ``until`` accepts: a bounded number of tries, each
    with a bounded request, while the server is alive."""
    body = b""
    for _ in range(attempts):
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read()
        except OSError:
            body = b""
        else:
            if until(body):
                return body
        time.sleep(0.5)
    raise AssertionError(f"{url}: no expected answer after {attempts} tries; last: {body[:300]!r}")


def test_mlflow_ui_lists_the_run_over_its_rest_api(lightkit, workdir: Path):
    fit(lightkit, "--trainer.max_epochs", "2", "--run.name", "wine", "--tracking", "mlflow")
    record = json.loads((workdir / "runs" / "wine" / "tracking.json").read_text())
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "ui", "--backend-store-uri", "sqlite:///runs/mlflow.db",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _poll(f"{base}/health", proc)
        request = urllib.request.Request(
            f"{base}/api/2.0/mlflow/runs/search",
            data=json.dumps({"experiment_ids": [record["experiment_id"]], "max_results": 10}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            found = json.loads(response.read())["runs"]
        assert [r["info"]["run_name"] for r in found] == ["wine"]
        assert found[0]["info"]["run_id"] == record["run_id"]
        params = {p["key"]: p["value"] for p in found[0]["data"]["params"]}
        assert params["model.init_args.lr"] == "0.003"
        listed = _poll(f"{base}/api/2.0/mlflow/artifacts/list?run_id={record['run_id']}", proc)
        assert {f["path"] for f in json.loads(listed)["files"]} == {"config.yaml", "versions.json"}
    finally:
        _stop(proc)


def test_tensorboard_logdir_runs_works_as_the_docs_say(lightkit, workdir: Path):
    """`tensorboard --logdir runs/` (docs/runs-and-checkpoints.md) sees every run's scalars."""
    fit(lightkit, "--trainer.max_epochs", "2", "--run.name", "wine")
    port = free_port()
    proc = subprocess.Popen(
        [str(BIN / "tensorboard"), "--logdir", "runs/", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        # TensorBoard scans the log directory in the background: ask until the run shows up
        runs = json.loads(_poll(f"{base}/data/runs", proc, until=lambda b: json.loads(b)))
        assert runs == ["wine/tensorboard"]
        tags = json.loads(_poll(f"{base}/data/plugin/scalars/tags", proc, until=lambda b: b"val_loss" in b))
        assert {"val_loss", "val_acc", "train_loss_epoch"} <= set(tags["wine/tensorboard"])
    finally:
        _stop(proc)


# -- errors --------------------------------------------------------------------------------------------------
def test_without_mlflow_the_error_says_what_to_install(
    lightkit, workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` meets when it is not installed
    result = lightkit("fit", *WINE, "--trainer.max_epochs", "1", "--tracking", "mlflow")
    assert result.code == 2
    assert "error: --tracking mlflow needs mlflow, which is not installed" in result.err
    assert "hint: pip install 'lightkit[tracking]'" in result.err
    assert not (workdir / "runs" / "mlflow.db").exists()


@pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("wandb") is not None, reason="wandb is installed here"
)
def test_wandb_without_wandb_says_what_to_install(lightkit, workdir: Path):
    result = lightkit("fit", *WINE, "--trainer.max_epochs", "1", "--tracking", "wandb")
    assert result.code == 2
    assert "error: --tracking wandb needs wandb, which is not installed" in result.err
    assert "hint: pip install 'wandb'" in result.err


def test_wandb_offline_logs_the_run_into_its_directory(
    lightkit, workdir: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("wandb", reason="wandb is optional and not installed here")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    fit(lightkit, "--trainer.max_epochs", "2", "--run.name", "w", "--tracking", "wandb")
    run_dir = workdir / "runs" / "w"
    record = json.loads((run_dir / "tracking.json").read_text())
    assert record["backend"] == "wandb" and record["run_id"]
    assert record["tracking_uri"].startswith("offline:")
    offline = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    config = yaml.safe_load((offline[0] / "files" / "config.yaml").read_text())
    assert config["model.init_args.lr"]["value"] == "0.003"


@pytest.mark.parametrize(
    ("flags", "message", "hint"),
    [
        (["--tracking", "mlfow"], "unknown tracker 'mlfow'; did you mean 'mlflow'?", None),
        (["--tracking", "mlflow", "--trainer.logger", "false"],
         "--tracking mlflow logs through the trainer's loggers, but --trainer.logger is false", "drop"),
        (["--tracking", "mlflow", "--tracking.uri", "file:./mlruns"],
         "MLflow 'file:./mlruns' (from --tracking.uri) is a file store", "sqlite:///"),
    ],
)  # fmt: skip
def test_bad_tracking_input_is_a_short_error(lightkit, workdir: Path, flags, message, hint):
    result = lightkit("fit", *WINE, "--trainer.max_epochs", "1", *flags)
    assert result.code == 2
    assert message in result.err
    if hint:
        assert hint in result.err.split("hint:", 1)[1]
    assert "Traceback" not in result.err


def test_a_server_that_is_down_stops_the_fit_with_one_message(lightkit, workdir: Path):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = lightkit("fit", *WINE, "--trainer.max_epochs", "1", "--tracking", "mlflow", "--tracking.uri", uri)
    assert result.code == 1
    assert f"error: cannot log to MLflow at {uri}: " in result.err
    assert "hint: check --tracking.uri (or MLFLOW_TRACKING_URI) and that the server is up." in result.err
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # the fail-fast setting is put back


def test_tracking_is_also_selected_by_class_name_and_from_a_config_file(lightkit, workdir: Path):
    (workdir / "track.yaml").write_text(
        "tracking:\n  class_path: MLflow\n  init_args:\n    experiment: from-yaml\n"
    )
    fit(lightkit, "--trainer.max_epochs", "1", "--run.name", "y", "--config", "track.yaml")
    client = client_for(workdir / "runs")
    (run,) = runs_named(client, "y")
    assert client.get_experiment(run.info.experiment_id).name == "from-yaml"


# -- loggers side by side (the core's coexistence of user loggers with the run directory's) ----------------
def test_a_users_csv_logger_adds_to_the_run_directory_loggers(lightkit, workdir: Path):
    fit(lightkit, "--trainer.max_epochs", "2", "--run.name", "mine",
        "--trainer.logger", "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir", "own_logs")  # fmt: skip
    assert (workdir / "runs" / "mine" / "metrics.csv").is_file()
    assert list((workdir / "own_logs").rglob("metrics.csv"))
    shown = lightkit("runs", "show", "mine")
    assert shown.code == 0 and "val_loss" in shown.out
    plotted = lightkit("runs", "plot", "mine", "--metric", "val_loss")
    assert plotted.code == 0 and (workdir / "runs" / "mine" / "plot-val_loss.png").is_file()


def test_logger_false_leaves_no_metrics_and_runs_show_says_so(lightkit, workdir: Path):
    fit(lightkit, "--trainer.max_epochs", "1", "--run.name", "quiet", "--trainer.logger", "false")
    assert not (workdir / "runs" / "quiet" / "metrics.csv").exists()
    shown = lightkit("runs", "show", "quiet")
    assert shown.code == 0
    assert "no metrics: the run has no metrics.csv (trained with trainer.logger: false)" in shown.out


# -- parameters ----------------------------------------------------------------------------------------
def test_config_flattening_dots_numbers_truncates_and_never_repeats_a_key():
    config = {
        "model": {"init_args": {"lr": 0.1, "sizes": [4, 2], "flag": True, "none": None}},
        "trainer": {"callbacks": [{"class_path": "EarlyStopping", "init_args": {"patience": 3}}]},
        "long": "x" * 50,
        "a.b": 1,
        "a": {"b": 2},
        "odd key!": "v",
        "k" * 300: 1,
        "k" * 299 + "j": 2,
        "empty": {},
    }
    params = flatten_config(config, value_limit=40, key_limit=250)
    assert params["model.init_args.lr"] == "0.1"
    assert params["model.init_args.sizes"] == "[4, 2]"
    assert params["model.init_args.flag"] == "true" and params["model.init_args.none"] == "null"
    assert params["trainer.callbacks.0.class_path"] == "EarlyStopping"
    assert params["trainer.callbacks.0.init_args.patience"] == "3"
    assert len(params["long"]) == 40 and params["long"].endswith(TRUNCATED)
    assert params["a.b"] == "1"  # the first of two keys that read alike wins
    assert params["odd key_"] == "v"
    long_keys = [k for k in params if k.startswith("kkk")]
    assert len(long_keys) == 2 and all(len(k) <= 250 for k in long_keys)
    assert params["empty"] == "{}"
