"""``lightkit serve``: a real LitServe server answers raw rows exactly as ``lightkit predict`` does.

Runs are trained once per module (tiny: two epochs), predicted with ``lightkit predict``, and then
served two ways: ``python -m lightkit serve`` in a real process (wine, churn), and in-process with
LitServe's ``wrap_litserve_start`` behind a uvicorn thread (diabetes, the tagging plugin). Both are
asked over real HTTP with the standard library's client. Every wait is a bounded loop, and every
process started here is stopped in a ``finally``.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import CONFIGS, REPO

pytest.importorskip("litserve", reason="lightkit serve needs the serve extra")

TAGGING_SRC = REPO / "plugins" / "lightkit-tagging" / "src"
VISION_SRC = REPO / "plugins" / "lightkit-vision" / "src"
TINY = (
    "--trainer.max_epochs",
    "2",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
)
HEALTH_POLLS = 600  # x 0.5 s: a worker imports torch and Lightning before it loads the model
WINE_FEATURES = 13


# -- trained runs, once per module -----------------------------------------------------------------
@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _lightkit(*args: str) -> None:
    from lightkit.cli import main

    assert main(list(args)) == 0, args


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with trained runs and their `lightkit predict` outputs: wine, churn, diabetes, tags."""
    root = tmp_path_factory.mktemp("serve")
    shutil.copytree(CONFIGS, root / "configs")
    sys.path.insert(0, str(TAGGING_SRC))
    try:
        with _cwd(root):
            for name, config in (("wine", "wine_mlp.yaml"), ("diabetes", "diabetes_mlp.yaml")):
                _lightkit("fit", "--config", f"configs/{config}", *TINY, "--run.name", name)
                _lightkit("predict", "--ckpt_path", f"runs/{name}")
            _lightkit("fit", "--config", "configs/churn_csv.yaml", *TINY, "--run.name", "churn")
            _lightkit("predict", "--ckpt_path", "runs/churn", "--data.path", "configs/data/churn_new.csv")
            _lightkit(
                "fit",
                "--model", "lightkit_tagging.model.TaggingMLP",
                "--model.threshold", "0.4",
                "--data", "lightkit_tagging.data.TagTableDataModule",
                "--data.synthetic_rows", "200",
                *TINY,
                "--run.name", "tags",
            )  # fmt: skip
            _lightkit("predict", "--ckpt_path", "runs/tags")
    finally:
        sys.path.remove(str(TAGGING_SRC))
    return root


def read_predictions(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def wine_rows(runs: Path) -> list[dict[str, Any]]:
    """The rows `lightkit predict` predicted for wine (its test split), as a user would send them."""
    from lightkit import load_run

    with _cwd(runs):
        datamodule = load_run("runs/wine").datamodule
        frame = datamodule.read_predict_frame()
    return frame.drop(columns=["target"]).to_dict(orient="records")


def churn_rows(runs: Path) -> list[dict[str, Any]]:
    with (runs / "configs" / "data" / "churn_new.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    numeric = ("tenure_months", "monthly_spend", "support_tickets")
    return [{k: (float(v) if k in numeric else v) for k, v in row.items()} for row in rows]


def without(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != key}


def assert_same_predictions(served: list[dict[str, Any]], expected: list[dict[str, str]], skip: str) -> None:
    """Same labels, probabilities or values within 1e-6, column by column, row by row."""
    assert len(served) == len(expected)
    for got, want in zip(served, expected, strict=True):
        assert set(got) == set(want) - {skip}, (got, want)
        for column, value in want.items():
            if column == skip:
                continue
            if column in ("prediction", "customer_id"):
                assert str(got[column]) == value
            else:
                assert abs(float(got[column]) - float(value)) <= 1e-6, (column, got[column], value)


# -- HTTP ------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(
    url: str, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """``(status, JSON)`` of a GET (no body) or a POST."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent = {"Content-Type": "application/json"} if data is not None else {}
    request = urllib.request.Request(url, data=data, headers=sent | (headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, text = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text.decode()


def wait_healthy(base: str, process: subprocess.Popen | None = None) -> None:
    for _ in range(HEALTH_POLLS):
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{base}/health was not 200 after {HEALTH_POLLS} polls")


def oversized(base: str, size: int) -> int:
    """Announce a body of ``size`` bytes and read the answer before sending it, as a careful client does."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.putrequest("POST", "/predict")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def serve_process(
    runs: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """``python -m lightkit serve ARGS`` on a free port; yields the base URL, the process, its log prefix."""
    port = free_port()
    log = runs / f"serve-{port}"
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "lightkit", "serve", *args, "--port", str(port), "--log_level", "warning"],
            cwd=runs,
            stdout=out,
            stderr=err,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # its own process group, as a terminal gives it: Ctrl-C reaches them all
            # Ctrl-C as a terminal delivers it: a test run started in the background of a
            # non-interactive shell (`pytest &`) inherits SIGINT ignored, and so would the server
            preexec_fn=_default_sigint,
        )
    try:
        yield f"http://127.0.0.1:{port}", process, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)


def stop_cleanly(process: subprocess.Popen, ctrl_c: bool = False) -> None:
    """SIGTERM (or Ctrl-C: SIGINT to the process group) ends the server with 0 (or 143), and none of
    its processes outlives it."""
    import psutil

    children = psutil.Process(process.pid).children(recursive=True)
    assert children, "LitServe runs its HTTP server and inference worker in child processes"
    if ctrl_c:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM)
    # a bound against a hang, not a speed check: LitServe gives each HTTP server 30 s to finish
    # its requests before it kills it, and a loaded CI machine stretches that
    try:
        code = process.wait(timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not stop within 300 s of {'Ctrl-C' if ctrl_c else 'SIGTERM'}")
    assert code in (0, 143, -signal.SIGTERM)
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], alive


@contextlib.contextmanager
def serve_in_process(runs: Path, *args: str) -> Iterator[str]:
    """The server `lightkit serve ARGS` would build, run in this process with LitServe's test helper."""
    import uvicorn
    from litserve.utils import wrap_litserve_start

    from lightkit.cli.serve import _parser
    from lightkit.serving.server import ServeOptions, build_server

    parsed = vars(_parser().parse_args(list(args)))
    with _cwd(runs):
        built = build_server(ServeOptions(**parsed))
    with wrap_litserve_start(built.server) as server:
        config = uvicorn.Config(server.app, host="127.0.0.1", port=free_port(), log_level="warning")
        http_server = uvicorn.Server(config)
        thread = threading.Thread(target=http_server.run, daemon=True)
        thread.start()
        try:
            base = f"http://127.0.0.1:{config.port}"
            wait_healthy(base)
            yield base
        finally:
            http_server.should_exit = True
            thread.join(timeout=60)


# -- a real server process -------------------------------------------------------------------------
def test_wine_server_process_predicts_as_lightkit_predict_and_stops_on_sigterm(runs: Path):
    rows = wine_rows(runs)
    expected = read_predictions(runs / "runs" / "wine" / "predictions.csv")
    with serve_process(runs, "--ckpt_path", "runs/wine") as (base, process, log):
        wait_healthy(base, process)
        banner = Path(f"{log}.out").read_text()
        assert f"{base}/predict" in banner and "TabularMLP" in banner and "curl -s" in banner
        curl_body = json.loads(banner.split(" -d '", 1)[1].split("'\n", 1)[0])
        assert call(f"{base}/predict", curl_body)[0] == 200  # the printed curl line works as printed

        status, body = call(f"{base}/predict", {"rows": rows})
        assert status == 200, body
        assert_same_predictions(body["predictions"], expected, skip="row")
        status, one = call(f"{base}/predict", rows[0])  # one row as a bare object
        assert status == 200
        assert_same_predictions(one["predictions"], expected[:1], skip="row")

        bad = [dict(rows[0]), {k: v for k, v in rows[1].items() if k != "hue"}]
        bad[0]["alcohol"] = "strong"
        status, error = call(f"{base}/predict", {"rows": bad})
        assert status == 422
        problems = {(p["row"], p["field"], p["type"]) for p in error["detail"]}
        assert problems == {(0, "alcohol", "float_parsing"), (1, "hue", "missing")}
        assert "alcohol" in error["error"] and "row 0" in error["error"]
        status, again = call(f"{base}/predict", {"rows": rows[:2]})  # a bad request changed nothing
        assert status == 200
        assert_same_predictions(again["predictions"], expected[:2], skip="row")

        status, info = call(f"{base}/info")
        assert status == 200 and info["model"]["model"] == "TabularMLP" and info["model"]["run"] == "wine"
        assert len(info["model"]["features"]) == WINE_FEATURES and "proline" in info["model"]["features"]
        assert info["model"]["labels"] == ["class_0", "class_1", "class_2"]
        assert info["model"]["versions"]["torch"] and info["model"]["versions"]["litserve"]
        status, spec = call(f"{base}/openapi.json")
        row_schema = spec["components"]["schemas"]["Row"]
        assert set(row_schema["properties"]) == set(rows[0]) and row_schema["additionalProperties"] is False
        assert set(spec["components"]["schemas"]["Prediction"]["properties"]) == set(expected[0]) - {"row"}
        stop_cleanly(process)
    assert "lightkit serve: stopped" in Path(f"{log}.err").read_text()


def test_churn_server_batches_answers_every_bad_request_with_a_4xx_and_stops_on_ctrl_c(runs: Path):
    rows = churn_rows(runs)
    expected = read_predictions(runs / "runs" / "churn" / "predictions.csv")
    args = "--ckpt_path runs/churn --max_batch_size 8 --batch_timeout 0.05 --max_request_size 64KB"
    args += " --api_servers 2"
    with serve_process(runs, *args.split()) as (base, process, _):
        wait_healthy(base, process)
        status, body = call(f"{base}/predict", {"rows": rows})
        assert status == 200, body
        assert_same_predictions(body["predictions"], expected, skip="")  # ids echoed: customer_id too
        assert any("'enterprise'" in w for w in body["warnings"])  # unseen category, encoded as unknown

        good = dict(rows[1])
        bad_requests = {
            "missing feature": ({"rows": [without(good, "plan")]}, 422, "plan"),
            "misspelt feature": ({"rows": [without(good, "plan") | {"plann": "basic"}]}, 422, "plann"),
            "wrong type": ({"rows": [good, good | {"tenure_months": [1, 2]}]}, 422, "tenure_months"),
            "NaN": (None, 422, "monthly_spend"),
            "empty list": ({"rows": []}, 422, "rows"),
            "not JSON": (b"{rows: oops", 400, "JSON"),
            "not an object": ([good], 422, "object"),
        }
        nan_body = json.dumps(
            {"rows": [good | {"monthly_spend": float("nan")}]}
        ).encode()  # NaN: not JSON, but sent
        for what, (payload, code, named) in bad_requests.items():
            raw = nan_body if what == "NaN" else payload if isinstance(payload, bytes) else None
            status, error = call(f"{base}/predict", payload, raw=raw)
            assert status == code, (what, status, error)
            assert named in error["error"], (what, error)
            if code == 422 and what not in ("empty list", "not an object"):
                assert error["detail"][0]["field"] == named and error["detail"][0]["row"] in (0, 1), (
                    what,
                    error,
                )
            if what == "misspelt feature":
                assert error["error"] == "row 0: unknown field 'plann' (did you mean 'plan'?)", error
            status, answer = call(f"{base}/predict", good)  # and the server still serves
            assert status == 200 and answer["predictions"][0]["customer_id"] == good["customer_id"], what
        status, answer = call(f"{base}/predict", without(good, "customer_id"))
        assert status == 200 and "customer_id" not in answer["predictions"][0]  # no id sent, none returned
        status, error = call(
            f"{base}/predict",
            raw=b"customer_id=1",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 415 and "application/json" in error["error"]
        assert oversized(base, 200_000) == 413

        # concurrent one-row requests share batches; each gets its own rows, warnings and errors
        def ask(i: int) -> tuple[int, Any]:
            if i == 5:
                return call(f"{base}/predict", {**rows[0], "plan": 3.5})  # a number: category "3.5", unseen
            if i == 7:
                return call(f"{base}/predict", {**rows[0], "tenure_months": None})
            return call(f"{base}/predict", rows[i % len(rows)])

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(ask, range(24)))
        for i, (status, answer) in enumerate(answers):
            if i == 7:
                assert status == 422 and answer["detail"][0]["field"] == "tenure_months", answer
                continue
            assert status == 200, answer
            if i == 5:
                assert answer["warnings"] == [
                    "categories never seen in training are encoded as unknown (plan: '3.5')"
                ]
                continue
            row, want = rows[i % len(rows)], expected[i % len(rows)]
            assert answer["predictions"][0]["customer_id"] == row["customer_id"]
            assert answer["predictions"][0]["prediction"] == want["prediction"]
            assert abs(answer["predictions"][0]["prob_1"] - float(want["prob_1"])) <= 1e-6
            assert bool(answer["warnings"]) == (row["plan"] == "enterprise"), (row, answer["warnings"])
        stop_cleanly(process, ctrl_c=True)


def test_requests_in_flight_are_answered_when_ctrl_c_stops_the_server(runs: Path):
    row = wine_rows(runs)[0]
    # a batch waits up to 3 s to fill: the requests are still in flight when Ctrl-C comes
    args = ("--ckpt_path", "runs/wine", "--max_batch_size", "16", "--batch_timeout", "3")
    with serve_process(runs, *args) as (base, process, _):
        wait_healthy(base, process)
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = [pool.submit(call, f"{base}/predict", row) for _ in range(2)]
            time.sleep(1.5)
            assert not any(a.done() for a in answers)
            stop_cleanly(process, ctrl_c=True)
            for answer in answers:
                status, body = answer.result(timeout=120)
                assert status == 200 and len(body["predictions"]) == 1, body


# -- in-process servers ----------------------------------------------------------------------------
def test_regression_in_original_units_behind_an_api_key(runs: Path):
    from lightkit import load_run

    with _cwd(runs):
        frame = load_run("runs/diabetes").datamodule.read_predict_frame()
    rows = frame.drop(columns=["target"]).to_dict(orient="records")
    expected = read_predictions(runs / "runs" / "diabetes" / "predictions.csv")
    with serve_in_process(runs, "--ckpt_path", "runs/diabetes", "--api_key", "s3cret") as base:
        assert call(f"{base}/predict", {"rows": rows})[0] == 401
        assert call(f"{base}/predict", {"rows": rows}, headers={"X-API-Key": "wrong"})[0] == 401
        status, body = call(f"{base}/predict", {"rows": rows}, headers={"X-API-Key": "s3cret"})
        assert status == 200, body
        assert_same_predictions(body["predictions"], expected, skip="row")
        assert (
            25 < sum(p["target"] for p in body["predictions"]) / len(rows) < 350
        )  # disease progression units
        assert call(f"{base}/info", headers={"X-API-Key": "s3cret"})[1]["model"]["task"] == "regression"


def test_tagging_plugin_is_served_through_the_hook_with_tags_by_name(runs: Path, monkeypatch):
    monkeypatch.syspath_prepend(str(TAGGING_SRC))
    from lightkit import load_run

    with _cwd(runs):
        datamodule = load_run("runs/tags").datamodule
        frame = datamodule._labelled().iloc[datamodule._rows()["test"]]  # the rows predict predicted
    rows = frame[datamodule.serving_schema()["fields"].keys()].to_dict(orient="records")
    expected = read_predictions(runs / "runs" / "tags" / "predictions.csv")
    with serve_in_process(runs, "--ckpt_path", "runs/tags", "--max_batch_size", "4") as base:
        status, body = call(f"{base}/predict", {"rows": rows})
        assert status == 200, body
        tags = [f"tag_{i}" for i in range(5)]
        assert set(body["predictions"][0]) == {*tags, *(f"prob_{t}" for t in tags)}
        for got, want in zip(body["predictions"], expected, strict=True):
            for tag in tags:
                assert got[tag] == int(want[tag])  # thresholded at the model's 0.4, as predict does
                assert abs(got[f"prob_{tag}"] - float(want[f"prob_{tag}"])) <= 1e-6
        assert call(f"{base}/info")[1]["model"]["labels"] == tags


# -- the fold ensemble, the hook, start-up errors --------------------------------------------------
def test_a_cross_validation_directory_serves_the_fold_ensemble(runs: Path):
    from lightkit.serving import ServedModel, resolve_targets

    with _cwd(runs):
        _lightkit(
            "fit", "--config", "configs/wine_mlp.yaml", "--cv.folds", "2", *TINY, "--run.name", "wine-cv"
        )
        _lightkit("predict", "--ckpt_path", "runs/wine-cv")
        checkpoints, ensemble = resolve_targets("runs/wine-cv")
        served = ServedModel.load(checkpoints, ensemble)
    assert ensemble and len(checkpoints) == 2
    outcome = served.predict([wine_rows(runs)])[0]
    columns = outcome.columns
    got = [{k: columns[k][i] for k in columns} for i in range(len(columns["prediction"]))]
    assert_same_predictions(got, read_predictions(runs / "runs" / "wine-cv" / "predictions.csv"), skip="row")
    assert served.info()["ensemble"] == 2 and served.info()["run"] == "wine-cv"


def test_a_data_module_without_the_hook_fails_at_start_up_naming_it(runs: Path, lightkit, monkeypatch):
    monkeypatch.syspath_prepend(str(VISION_SRC))
    fit = lightkit(
        "fit",
        "--model", "lightkit_vision.cnn.SmallCNN",
        "--data", "lightkit_vision.digits.DigitsDataModule",
        "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1",
        "--trainer.enable_progress_bar", "false", "--run.name", "digits",
    )  # fmt: skip
    assert fit.code == 0, fit.err
    result = lightkit("serve", "--ckpt_path", "runs/digits", "--port", str(free_port()))
    assert result.code == 2
    assert (
        "error: data module DigitsDataModule cannot be served: it has no serving_schema and no rows_to_batch"
        in result.err
    )
    assert "docs/serving.md" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--ckpt_path", "nowhere.ckpt"),
            "error: checkpoint 'nowhere.ckpt' (from --ckpt_path) does not exist",
        ),
        (("--ckpt_path", "best", "--host", "example.com"), "error: --host 'example.com' cannot be served"),
        (("--ckpt_path", "best", "--port", "80"), "error: --port must be between 1024 and 65535, got 80"),
        (
            ("--ckpt_path", "best", "--max_batch_size", "0"),
            "error: --max_batch_size must be at least 1, got 0",
        ),
        (
            ("--ckpt_path", "best", "--max_request_size", "lots"),
            "error: argument --max_request_size",
        ),
        (
            (
                "--port",
                "9000",
            ),
            "error: the following arguments are required: --ckpt_path (lightkit serve)",
        ),
    ],
)
def test_bad_flags_fail_before_anything_is_loaded(lightkit, args, message):
    result = lightkit("serve", *args)
    assert result.code == (1 if "checkpoint" in message else 2)
    assert result.err.splitlines()[0].startswith(message), result.err


def test_a_port_in_use_is_named(lightkit):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = lightkit("serve", "--ckpt_path", "best", "--port", str(port))
    assert result.code == 2
    assert result.err.startswith(f"error: cannot listen on 127.0.0.1 port {port} (from --port)")


def test_without_litserve_the_error_says_what_to_install(lightkit, monkeypatch):
    import lightkit.cli.serve as serve_cli

    monkeypatch.setattr(serve_cli, "find_spec", lambda name: None)
    result = lightkit("serve", "--ckpt_path", "best")
    assert result.code == 2
    assert "pip install 'lightkit[serve]'" in result.err


def test_serve_help_documents_every_flag_without_importing_torch():
    probe = (
        "import sys\nfrom lightkit.cli import main\ncode = main(['serve', '--help'])\n"
        "heavy = [m for m in ('torch', 'litserve', 'lightning', 'pydantic') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\nsys.exit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "HEAVY="
    flags = "--ckpt_path --host --port --api_key --max_request_size --max_batch_size --batch_timeout"
    for flag in (*flags.split(), "--workers_per_device", "--accelerator", "--devices", "--timeout"):
        assert flag in proc.stdout, flag


def test_an_accelerator_that_is_not_there_is_refused_before_loading(lightkit):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    result = lightkit("serve", "--ckpt_path", "nowhere.ckpt", "--accelerator", "cuda")
    assert result.code == 2
    assert result.err.startswith("error: --accelerator cuda, but torch finds no CUDA GPU")


def test_best_and_last_are_found_under_the_root_directory_of_runs(runs: Path):
    from lightkit.cli.serve import _parser
    from lightkit.serving import resolve_targets

    args = _parser().parse_args(
        ["--ckpt_path", "last", "--run.name", "churn", "--trainer.default_root_dir", "elsewhere"]
    )
    assert (args.run_root, args.run_name) == ("elsewhere", "churn")
    checkpoints, ensemble = resolve_targets("last", runs / "runs", "churn")
    assert checkpoints == [(runs / "runs" / "churn" / "checkpoints" / "last.ckpt").resolve()] and not ensemble
    assert resolve_targets("best", runs / "runs", "wine")[0][0].name == "best.ckpt"
