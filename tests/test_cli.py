import json
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris

from skbnnet.cli import main

X_IRIS, Y_IRIS = load_iris(return_X_y=True, as_frame=True)
# A tiny, fast search on iris.
TINY = ["tune", "--dataset", "iris", "--cv", "2", "--n-jobs", "1"]


def _run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code, err, expected):
    assert code == 2
    assert err.startswith("skbnnet: error: ")
    assert err.count("\n") == 1
    assert expected in err
    assert "Traceback" not in err


def test_coarse_to_fine_reports_and_writes_outputs(capsys, tmp_path):
    """Without a budget: rounds of --n-iter candidates, a summary, saved results."""
    argv = TINY + ["--time", "0", "--n-iter", "2", "--n-rounds", "2", "--n-jobs", "2"]
    code, out, err = _run(capsys, argv + ["--output", str(tmp_path)])
    assert code == 0
    assert err == ""
    # One progress line per round from scikit-learn, one from the search.
    assert out.count("Fitting 2 folds for each of 2 candidates") == 2
    assert "round 1" in out
    for heading in ["Best parameters:", "CV accuracy:", "Test accuracy:", "Wall time:"]:
        assert heading in out
    assert "Top 4 candidates:" in out

    results = pd.read_csv(tmp_path / "cv_results.csv")
    assert len(results) == 4
    assert results["round"].tolist() == [0, 0, 1, 1]
    params = json.loads((tmp_path / "best_params.json").read_text())
    assert {"clf__learning_rate_init", "clf__hidden_layer_sizes"} <= set(params)
    model = joblib.load(tmp_path / "model.joblib")
    assert (
        model.get_params()["clf__learning_rate_init"]
        == params["clf__learning_rate_init"]
    )
    assert model.score(X_IRIS, Y_IRIS) > 0.6


@pytest.mark.parametrize(
    "search, extra, n_candidates",
    [("random", ["--n-iter", "3"], 3), ("grid", [], 12)],
)
def test_random_and_grid_search(capsys, tmp_path, search, extra, n_candidates):
    """Random and grid search print counts and save one row per candidate."""
    argv = TINY + ["--search", search, "--output", str(tmp_path)] + extra
    code, out, _ = _run(capsys, argv)
    assert code == 0
    assert f"each of {n_candidates} candidates" in out
    assert f"Evaluated {n_candidates} candidates." in out
    results = pd.read_csv(tmp_path / "cv_results.csv")
    assert len(results) == n_candidates
    assert "round" not in results
    json.loads((tmp_path / "best_params.json").read_text())
    assert joblib.load(tmp_path / "model.joblib").predict(X_IRIS).shape == (150,)


@pytest.mark.slow
def test_csv_with_categorical_column(capsys, tmp_path):
    """String columns are one-hot encoded, numeric ones scaled."""
    rng = np.random.RandomState(0)
    colour = rng.choice(["red", "green", "blue"], size=120)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=120),
            "colour": colour,
            "label": np.where(colour == "red", "warm", "cold"),
        }
    )
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    argv = ["tune", "--csv", str(path), "--target", "label", "--n-iter", "2"]
    argv += ["--n-rounds", "1", "--cv", "2", "--n-jobs", "1"]
    code, out, _ = _run(capsys, argv + ["--output", str(tmp_path)])
    assert code == 0
    assert "2 features, 2 classes" in out

    model = joblib.load(tmp_path / "model.joblib")
    assert isinstance(model.named_steps["preprocess"], ColumnTransformer)
    unseen = pd.DataFrame({"size": [0.0], "colour": ["purple"]})
    assert model.predict(unseen)[0] in {"warm", "cold"}


BAD_CSVS = {
    "continuous.csv": "a,y\n" + "".join(f"{i},{i * 0.37}\n" for i in range(20)),
    "counts.csv": "a,y\n" + "".join(f"{i},{i * 37}\n" for i in range(20)),
    "dates.csv": "a,y\n" + "".join(f"{i},2020-01-{i + 1:02d}\n" for i in range(20)),
    "empty.csv": "",
    "header.csv": "a,b,y\n",
    "nan.csv": "a,b,y\n1,,0\n2,3,1\n3,4,0\n4,5,1\n",
}


@pytest.mark.parametrize(
    "file, target, expected",
    [
        ("missing.csv", "y", "No such file or directory"),
        ("nan.csv", "colour", "has no column 'colour'"),
        ("empty.csv", "y", "empty.csv holds no data"),
        ("header.csv", "y", "header.csv holds no data"),
        ("nan.csv", "y", "missing values in column(s) b"),
        ("nan.csv", None, "--csv needs --target"),
        ("counts.csv", "y", "If it is a quantity rather than classes, use --task"),
    ],
)
def test_bad_input_gives_one_line_error(capsys, tmp_path, file, target, expected):
    """Unusable input exits with status 2 and one line naming the problem."""
    for name, text in BAD_CSVS.items():
        (tmp_path / name).write_text(text)
    argv = ["tune", "--csv", str(tmp_path / file), "--n-jobs", "1"]
    if target is not None:
        argv += ["--target", target]
    code, out, err = _run(capsys, argv)
    _assert_one_line_error(code, err, expected)


def test_target_without_csv(capsys):
    """--target is an error with a bundled dataset, not silently ignored."""
    code, _, err = _run(capsys, TINY + ["--target", "y"])
    _assert_one_line_error(code, err, "--target needs --csv")


@pytest.mark.slow
def test_dask_scheduler(capsys):
    """--scheduler runs the search on a dask.distributed cluster."""
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        argv = TINY + ["--time", "0", "--n-iter", "2", "--n-rounds", "1"]
        argv += ["--n-jobs", "-1"]
        code, out, _ = _run(capsys, argv + ["--scheduler", cluster.scheduler_address])
    assert code == 0
    assert "Test accuracy:" in out


def test_missing_dask_names_the_extra(capsys, monkeypatch):
    """--scheduler without dask.distributed says which extra to install."""
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    code, _, err = _run(capsys, TINY + ["--scheduler", "tcp://127.0.0.1:8786"])
    _assert_one_line_error(code, err, "pip install 'skbnnet[distributed]'")


@pytest.mark.parametrize(
    "option",
    [
        ["--cv", "1"],
        ["--test-size", "1.5"],
        ["--time", "-1"],
        ["--time", "nan"],
        ["--n-jobs", "0"],
    ],
)
def test_invalid_option_exits_with_status_2(capsys, option):
    """argparse rejects out-of-range options itself, with status 2."""
    with pytest.raises(SystemExit) as exc_info:
        main(TINY + option)
    assert exc_info.value.code == 2
    assert "error: argument" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, status",
    [
        (["tune", "--dataset", "iris", "--search", "grid", "--cv", "2"], 0),
        (["tune", "--csv", "missing.csv", "--target", "y"], 2),
    ],
)
def test_python_m_skbnnet(tmp_path, argv, status):
    """``python -m skbnnet`` runs the command and exits with its status."""
    proc = subprocess.run(
        [sys.executable, "-m", "skbnnet", *argv, "--n-jobs", "1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == status
    assert "Traceback" not in proc.stderr
    assert ("Test accuracy:" in proc.stdout) == (status == 0)


def test_time_budget_plans_rounds_and_reports_it(capsys, tmp_path):
    """--time runs a budgeted search: rounds of growing epochs, all saved."""
    argv = TINY + ["--time", "6", "--output", str(tmp_path)]
    code, out, _ = _run(capsys, argv)
    assert code == 0
    assert "a 6 s budget (refit included)" in out
    assert "Test accuracy:" in out
    results = pd.read_csv(tmp_path / "cv_results.csv")
    # Four rungs below max_iter=60: round 0 trains for 60 / 27 epochs. How
    # many rounds fit depends on the machine's load (the budgeted search's
    # own tests check the planning with fits of known duration).
    assert (results.loc[results["round"] == 0, "n_resources"] == 2).all()
    rounds = results.groupby("round")["n_resources"].max()
    assert rounds.is_monotonic_increasing
    assert (results["param_clf__max_iter"] == results["n_resources"]).all()
    assert "epochs" in out


def test_output_directory_is_created_before_searching(capsys, tmp_path):
    """--output is created first, even when the search then cannot run."""
    directory = tmp_path / "new" / "results"
    argv = ["tune", "--csv", str(tmp_path / "missing.csv"), "--target", "y"]
    code, _, err = _run(capsys, argv + ["--output", str(directory)])
    _assert_one_line_error(code, err, "No such file or directory")
    assert directory.is_dir()


def test_unusable_output_fails_before_searching(capsys, tmp_path):
    """An --output that cannot be a directory fails at once, with one line."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    code, out, err = _run(capsys, TINY + ["--output", str(blocker / "results")])
    _assert_one_line_error(code, err, f"--output {blocker / 'results'}")
    assert "choose another with --output DIR" in err
    assert "Data:" not in out


def test_float_target_tunes_a_regressor(capsys, tmp_path):
    """A float target is regression: R2 and RMSE; --task forces the kind."""
    (tmp_path / "continuous.csv").write_text(BAD_CSVS["continuous.csv"])
    argv = ["tune", "--csv", str(tmp_path / "continuous.csv"), "--target", "y"]
    argv += ["--cv", "2", "--n-jobs", "1", "--time", "0", "--n-iter", "2"]
    argv += ["--n-rounds", "1", "--output", str(tmp_path / "out")]
    code, out, _ = _run(capsys, argv)
    assert code == 0
    assert "1 features, regression" in out
    for heading in ["CV R2:", "Test R2:", "Test RMSE:"]:
        assert heading in out
    model = joblib.load(tmp_path / "out" / "model.joblib")
    assert type(model.named_steps["clf"]).__name__ == "BatchNormMLPRegressor"
    params = json.loads((tmp_path / "out" / "best_params.json").read_text())
    assert "clf__label_smoothing" not in params

    code, _, err = _run(capsys, argv[:-2] + ["--task", "classification"])
    _assert_one_line_error(code, err, "Unknown label type")


def test_regression_target_must_be_numeric(capsys, tmp_path):
    """--task regression on a column of dates is refused with its dtype
    (pandas would have turned the dates into nanoseconds if parsed)."""
    (tmp_path / "dates.csv").write_text(BAD_CSVS["dates.csv"])
    argv = ["tune", "--csv", str(tmp_path / "dates.csv"), "--target", "y"]
    code, _, err = _run(capsys, argv + ["--task", "regression", "--n-jobs", "1"])
    _assert_one_line_error(code, err, "a regression target must be numeric")


def test_integer_target_as_regression(capsys, tmp_path):
    """An integer quantity tunes a regressor with --task regression (the
    hint of the error above)."""
    (tmp_path / "counts.csv").write_text(BAD_CSVS["counts.csv"])
    argv = ["tune", "--csv", str(tmp_path / "counts.csv"), "--target", "y"]
    argv += ["--cv", "2", "--n-jobs", "1", "--time", "0", "--n-iter", "2"]
    code, out, _ = _run(capsys, argv + ["--n-rounds", "1", "--task", "regression"])
    assert code == 0
    assert "1 features, regression" in out


@pytest.mark.slow
def test_progress_bar_draws_the_rounds(capsys, wide_console):
    """With scikit-learn's callbacks and rich, skbnnet tune draws a bar per
    round of the search; --no-progress turns it off."""
    from skbnnet._compat import ProgressBar

    if ProgressBar is None:
        pytest.skip("callbacks need scikit-learn >= 1.9")
    argv = TINY + ["--time", "0", "--n-rounds", "2", "--n-iter", "2"]
    code, out, err = _run(capsys, argv)
    assert code == 0
    assert "CoarseToFineSearchCV - round 0" in out + err
    code, out, err = _run(capsys, argv + ["--no-progress"])
    assert code == 0
    assert "CoarseToFineSearchCV - round 0" not in out + err


def test_budget_warnings_are_notes_of_the_summary(capsys):
    """What the budget warns of (here: a refit shorter than max_iter, as
    0.05 s affords only the first rung) is printed after the summary."""
    code, out, err = _run(capsys, TINY + ["--time", "0.05"])
    assert code == 0
    assert "Note: The refitted model was trained for 2 of clf__max_iter=60" in out
    assert "BudgetWarning" not in err
