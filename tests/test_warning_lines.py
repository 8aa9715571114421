"""lightkit's own warnings print one line, ``warning: <message>``; everyone else's are left alone."""

from __future__ import annotations

import warnings
from pathlib import Path

from conftest import CONFIGS, run_subprocess

import lightkit


def test_a_warning_from_a_lightkit_module_is_one_clean_line():
    from lightkit.warning_lines import install

    install()
    inside = str(Path(lightkit.__file__).parent / "components" / "tabular_data.py")
    text = warnings.formatwarning("categories never seen (plan: 'gold')", UserWarning, inside, 247, "rank_zero_warn(...)")
    assert text == "warning: categories never seen (plan: 'gold')\n"
    other = warnings.formatwarning("deprecated", DeprecationWarning, "/site/other/mod.py", 3, "x = 1")
    assert other.startswith("/site/other/mod.py:3: DeprecationWarning: deprecated")


def test_recorded_warnings_are_still_recorded():
    """``pytest.warns`` and ``catch_warnings(record=True)`` see lightkit's warnings as before."""
    from lightkit.warning_lines import install

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        install()
        warnings.warn_explicit("seen", UserWarning, str(Path(lightkit.__file__)), 1)
    assert [str(w.message) for w in caught] == ["seen"]


def test_predict_with_an_unseen_category_warns_in_one_line_naming_column_and_values(workdir: Path):
    fit = run_subprocess("fit", "--config", str(CONFIGS / "churn_csv.yaml"), "--trainer.max_epochs", "1",
                         "--run.name", "churn", "--data.path", str(CONFIGS / "data" / "churn.csv"),
                         "--trainer.enable_model_summary", "false", cwd=workdir)  # fmt: skip
    assert fit.code == 0, fit.err
    rows = (CONFIGS / "data" / "churn_new.csv").read_text().splitlines()
    rows[1] = rows[1].replace(",south,", ",atlantis,")
    (workdir / "new.csv").write_text("\n".join(rows) + "\n")
    predict = run_subprocess("predict", "--ckpt_path", "runs/churn", "--data.path", "new.csv", cwd=workdir)
    assert predict.code == 0, predict.err
    said = [line for line in predict.err.splitlines() if "never seen" in line]
    assert len(said) == 1 and said[0].startswith("warning: categories never seen in training"), predict.err
    assert "region: 'atlantis'" in said[0]
    assert "tabular_data.py" not in predict.err and "rank_zero_warn" not in predict.err
