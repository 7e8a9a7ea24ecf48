"""The ``skbnnet`` command.

``skbnnet tune`` runs a whole tuning job: it loads a dataset, holds out a
test set, searches the hyperparameters of a
:class:`~skbnnet.BatchNormMLPClassifier` pipeline (a
:class:`~skbnnet.BatchNormMLPRegressor` one for a continuous target) by
cross-validation on the rest, and reports the best candidates and the
held-out accuracy (R² and RMSE for regression). For example::

    skbnnet tune                       # digits, a 60 s budget
    skbnnet tune --time 120 --csv data.csv --target label --output results
    skbnnet tune --dataset diabetes    # regression
    skbnnet tune --search random --n-iter 30
"""

import argparse
import importlib.util
import json
import math
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from ._compat import ProgressBar
from .classifier import BatchNormMLPClassifier
from .model_selection import (
    BudgetWarning,
    CoarseToFineSearchCV,
    default_search_space,
    tuning_search,
)
from .model_selection._space import TUNING_MAX_ITER, TUNING_N_RUNGS
from .regressor import BatchNormMLPRegressor

_DATASETS = {
    "digits": datasets.load_digits,
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
    "diabetes": datasets.load_diabetes,
}

# Without a time budget, CoarseToFineSearchCV's own rounds and candidates;
# a random search gets the same total.
_SEARCH_DEFAULTS = CoarseToFineSearchCV(None, {}).get_params()
_N_ITER, _N_ROUNDS = _SEARCH_DEFAULTS["n_iter"], _SEARCH_DEFAULTS["n_rounds"]

# Seconds of the default coarse-to-fine search, refit included.
_TIME = 60.0


def _int_at_least(minimum):
    """Argparse type: an integer >= `minimum`."""

    def parse(text):
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    # argparse names the type in its "invalid integer value" message.
    parse.__name__ = "integer"
    return parse


def _n_jobs(text):
    """Argparse type: joblib's n_jobs, an integer other than 0."""
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must not be 0: give a number of jobs, or -1 for all cores"
        )
    return value


_n_jobs.__name__ = "integer"


def _seconds(text):
    """Argparse type: a number of seconds >= 0."""
    value = float(text)
    if not value >= 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _fraction(text):
    """Argparse type: a float in the open interval (0, 1)."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value}")
    return value


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skbnnet",
        description="Tune a batch-normalised MLP classifier or regressor.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    tune = commands.add_parser(
        "tune",
        help="search hyperparameters by cross-validation and test the best model",
        description=(
            "Hold out a test set (stratified for classification), search the "
            "hyperparameters of a scaler + BatchNormMLPClassifier (or "
            "BatchNormMLPRegressor) pipeline by cross-validation on the rest, "
            "then report the best candidates and the test score."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    data = tune.add_argument_group("data")
    source = data.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        choices=list(_DATASETS),
        default="digits",
        help="a dataset bundled with scikit-learn",
    )
    source.add_argument("--csv", metavar="PATH", help="a CSV file with a header row")
    data.add_argument(
        "--target",
        metavar="COLUMN",
        help="column of the CSV file holding the class labels or the target",
    )
    data.add_argument(
        "--task",
        choices=["auto", "classification", "regression"],
        default="auto",
        help=(
            "auto: regression for a target of floats, classification for "
            "integers, strings or booleans"
        ),
    )
    data.add_argument(
        "--test-size",
        type=_fraction,
        default=0.25,
        help="fraction of the samples held out for testing",
    )
    search = tune.add_argument_group("search")
    search.add_argument(
        "--search",
        choices=["coarse-to-fine", "random", "grid"],
        default="coarse-to-fine",
        help="search strategy",
    )
    search.add_argument(
        "--time",
        type=_seconds,
        default=_TIME,
        metavar="SECONDS",
        help=(
            "time budget of the coarse-to-fine search, refit included: it "
            "plans its rounds to end within it; 0 searches --n-iter "
            "candidates in each of --n-rounds rounds instead"
        ),
    )
    search.add_argument(
        "--n-iter",
        type=_int_at_least(1),
        help=(
            f"candidates per round for coarse-to-fine with --time 0 (default "
            f"{_N_ITER}), in all for random (default {_N_ITER * _N_ROUNDS}); "
            "ignored by grid"
        ),
    )
    search.add_argument(
        "--n-rounds",
        type=_int_at_least(1),
        help=(
            f"rounds of coarse-to-fine search (default {_N_ROUNDS}); with a "
            f"time budget, the rungs of its successive halving of epochs "
            f"(default {TUNING_N_RUNGS})"
        ),
    )
    search.add_argument(
        "--cv", type=_int_at_least(2), default=3, help="cross-validation folds"
    )
    search.add_argument(
        "--random-state",
        type=int,
        default=0,
        help="seed of the test split, the sampling and the network",
    )
    run = tune.add_argument_group("execution and output")
    run.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=-1,
        help="parallel jobs; -1 uses all cores (or all dask workers)",
    )
    run.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the fits on this dask.distributed scheduler, e.g. tcp://host:8786",
    )
    run.add_argument(
        "--output",
        metavar="DIR",
        help="write cv_results.csv, best_params.json and model.joblib here",
    )
    run.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (drawn with scikit-learn >= 1.9 and rich installed)",
    )
    return parser


def _load_csv(path, target):
    """Read features and labels from a CSV file, rejecting what cannot be fit."""
    if target is None:
        raise ValueError("--csv needs --target COLUMN")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame()
    if frame.empty:
        raise ValueError(f"{path} holds no data")
    if target not in frame.columns:
        raise ValueError(
            f"{path} has no column {target!r}; its columns are "
            f"{', '.join(map(str, frame.columns))}"
        )
    missing = frame.columns[frame.isna().any()]
    if len(missing):
        raise ValueError(
            f"{path} has missing values in column(s) "
            f"{', '.join(map(str, missing))}; fill or drop them first"
        )
    y = frame.pop(target)
    if frame.shape[1] == 0:
        raise ValueError(f"{path} has no feature column besides {target!r}")
    return frame, y


def _to_float32(X):
    """Cast to float32: the network trains about 1.6 times faster."""
    return X.astype(np.float32)


def _preprocessor(X):
    """Scale numeric columns and one-hot encode the others."""
    # Lists of names, not pandas Index objects: scikit-learn < 1.7 cannot
    # read the dtype of pandas 3's string Index (TypeError in fit).
    categorical = list(X.select_dtypes(exclude="number").columns)
    if not categorical:
        return StandardScaler()
    numeric = [column for column in X.columns if column not in categorical]
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )


def _make_search(args, pipeline, X, y):
    space = default_search_space(X, y, estimator=pipeline, cv=args.cv)
    common = {
        "cv": args.cv,
        "n_jobs": args.n_jobs,
        "verbose": 1,
        # The classifier fits any candidate on valid data, so a failing fit
        # means bad input: report its error rather than a table of NaN.
        "error_score": "raise",
    }
    if args.search == "grid":
        # The learning rate matters most, and its best value depends on the
        # batch size: grid those two, the rest at the classifier's defaults.
        grid = {
            name: space[name].grid(n).tolist()
            for name, n in [("clf__learning_rate_init", 4), ("clf__batch_size", 3)]
        }
        return GridSearchCV(pipeline, grid, **common)
    if args.search == "random":
        return RandomizedSearchCV(
            pipeline,
            space,
            n_iter=args.n_iter or _N_ITER * _N_ROUNDS,
            random_state=args.random_state,
            **common,
        )
    if args.time:
        return tuning_search(
            pipeline,
            X,
            y,
            max_time=args.time,
            n_rounds=args.n_rounds or TUNING_N_RUNGS,
            random_state=args.random_state,
            **common,
        )
    return CoarseToFineSearchCV(
        pipeline,
        space,
        n_iter=args.n_iter or _N_ITER,
        n_rounds=args.n_rounds or _N_ROUNDS,
        random_state=args.random_state,
        **common,
    )


@contextmanager
def _dask_backend(address):
    """Run joblib's parallel calls on the dask scheduler at `address`."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ImportError(
            "--scheduler needs dask.distributed; install it with "
            "pip install 'skbnnet[distributed]'"
        ) from None
    with Client(address), joblib.parallel_backend("dask"):
        yield


def _top_candidates(cv_results, n=5):
    """The `n` best candidates as a table, parameters without the step prefix."""
    results = pd.DataFrame(cv_results).sort_values("rank_test_score").head(n)
    table = pd.DataFrame(
        {
            "rank": results["rank_test_score"],
            "mean score": results["mean_test_score"].round(4),
            "std": results["std_test_score"].round(4),
        }
    )
    if "round" in results:
        table["round"] = results["round"]
    if "n_resources" in results:
        table["epochs"] = results["n_resources"]
    for column in results.columns[results.columns.str.startswith("param_")]:
        if column == "param_clf__max_iter" and "epochs" in table:
            continue
        table[column.removeprefix("param_clf__")] = results[column].map(
            lambda value: f"{value:.3g}" if isinstance(value, float) else value
        )
    return table


def _prepare_output(directory):
    """Create `directory` and check that files can be written in it.

    Done before searching, so that a bad ``--output`` does not throw away
    the search's work.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise OSError(
            f"--output {directory}: cannot create or write to this directory "
            f"({reason}); choose another with --output DIR"
        ) from None
    return directory


def _save(search, directory):
    """Write the search results and the refitted model to `directory`."""
    directory = Path(directory)
    pd.DataFrame(search.cv_results_).to_csv(directory / "cv_results.csv", index=False)
    params = json.dumps(search.best_params_, indent=2)
    (directory / "best_params.json").write_text(params + "\n")
    joblib.dump(search.best_estimator_, directory / "model.joblib")
    print(f"\nWrote cv_results.csv, best_params.json and model.joblib to {directory}")


def _load_data(args):
    if args.csv is not None:
        return _load_csv(args.csv, args.target)
    if args.target is not None:
        raise ValueError("--target needs --csv PATH")
    return _DATASETS[args.dataset](return_X_y=True, as_frame=True)


def _task(args, y):
    """'classification' or 'regression', as asked or from the target."""
    if args.task != "auto":
        return args.task
    if pd.api.types.is_float_dtype(y) or type_of_target(y).startswith("continuous"):
        return "regression"
    return "classification"


def _check_stratifiable(y, guessed):
    """Every class needs 2 rows for a stratified test split; an integer
    quantity taken for classes has many classes of one row."""
    counts = y.value_counts()
    single = counts.index[counts < 2]
    if len(single):
        hint = (
            " If it is a quantity rather than classes, use --task regression."
            if guessed
            else ""
        )
        raise ValueError(
            f"the target {y.name!r} has {len(single)} of its {len(counts)} "
            "classes with a single row, and a stratified test split needs 2 "
            f"per class.{hint}"
        )


def _print_summary(search, test_scores, wall_time):
    results = search.cv_results_
    rounds = getattr(search, "n_rounds_", None)
    rounds = f" in {rounds} rounds" if rounds is not None else ""
    print(f"\nEvaluated {len(results['params'])} candidates{rounds}.\nBest parameters:")
    for name, value in search.best_params_.items():
        print(f"  {name.removeprefix('clf__')}: {value}")
    best_std = results["std_test_score"][search.best_index_]
    name = "accuracy" if "Test accuracy" in test_scores else "R2"
    print(f"CV {name + ':':<11}{search.best_score_:.4f} +/- {best_std:.4f}")
    for label, value in test_scores.items():
        print(f"{label + ':':<15}{value:.4f}")
    print(f"Wall time:     {wall_time:.1f} s")
    top = _top_candidates(results)
    print(f"\nTop {len(top)} candidates:\n{top.to_string(index=False)}")


def _add_progress_bar(search, args):
    """A bar per round, filled fit by fit (scikit-learn >= 1.9 and rich).

    Not with --scheduler: remote dask workers cannot reach it. Depth 0 draws
    the search and its rounds, not a bar per pipeline fit.
    """
    if (
        args.no_progress
        or ProgressBar is None
        or args.scheduler
        or importlib.util.find_spec("rich") is None
    ):
        return
    search.set_callbacks(ProgressBar(max_propagation_depth=0))


def _tune(args):
    start = time.perf_counter()
    if args.output is not None:
        _prepare_output(args.output)
    X, y = _load_data(args)
    task = _task(args, y)
    if task == "classification":
        check_classification_targets(y)
        _check_stratifiable(y, args.task == "auto")
        estimator = BatchNormMLPClassifier
        stratify = y
    else:
        if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
            raise ValueError(
                f"a regression target must be numeric, but {y.name!r} is of "
                f"dtype {y.dtype}"
            )
        y = y.astype(float)
        estimator = BatchNormMLPRegressor
        stratify = None
    X_train, X_test, y_train, y_test = train_test_split(
        X,
        y,
        test_size=args.test_size,
        stratify=stratify,
        random_state=args.random_state,
    )
    clf = estimator(max_iter=TUNING_MAX_ITER, random_state=args.random_state)
    pipeline = Pipeline(
        [
            ("preprocess", _preprocessor(X)),
            ("float32", FunctionTransformer(_to_float32)),
            ("clf", clf),
        ]
    )
    search = _make_search(args, pipeline, X_train, y_train)
    _add_progress_bar(search, args)
    target = f"{y.nunique()} classes" if task == "classification" else "regression"
    print(
        f"Data: {args.csv or args.dataset}, {len(X_train)} training and "
        f"{len(X_test)} test samples, {X.shape[1]} features, {target}"
    )
    budget = ""
    if args.search == "coarse-to-fine" and args.time:
        budget = f", a {args.time:g} s budget (refit included)"
    print(
        f"Search: {args.search}, {args.cv}-fold cross-validation{budget}",
        flush=True,
    )

    backend = nullcontext() if args.scheduler is None else _dask_backend(args.scheduler)
    # The summary reports every candidate's score; a warning per fit that
    # stopped at max_iter or diverged would bury the progress lines. What
    # the budget warns of goes in the summary.
    with backend, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("always", BudgetWarning)
        search.fit(X_train, y_train)
    notes = []
    for warning in caught:
        if issubclass(warning.category, BudgetWarning):
            notes.append(str(warning.message))
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    predicted = search.predict(X_test)
    if task == "classification":
        test_scores = {"Test accuracy": accuracy_score(y_test, predicted)}
    else:
        test_scores = {
            "Test R2": r2_score(y_test, predicted),
            "Test RMSE": mean_squared_error(y_test, predicted) ** 0.5,
        }
    _print_summary(search, test_scores, time.perf_counter() - start)
    for note in notes:
        print(f"Note: {note}")
    if args.output is not None:
        _save(search, args.output)


def main(argv=None):
    """Run the ``skbnnet`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Command-line arguments, without the program name; None reads
        ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success, 2 when the input cannot be used; the error is then
        printed as one line on stderr. Invalid options exit with status 2
        through :mod:`argparse`.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        _tune(args)
    # Unreadable files, an unreachable scheduler or a missing dask, and
    # invalid data (pandas' EmptyDataError and ParserError are ValueErrors).
    except (OSError, ImportError, ValueError) as exc:
        message = " ".join(str(exc).split())
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        return 2
    return 0
