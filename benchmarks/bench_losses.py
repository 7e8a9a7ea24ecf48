"""The regressor's losses against gradient boosting with the same loss.

Each ``BatchNormMLPRegressor(loss=...)`` default is compared with
``HistGradientBoostingRegressor`` of the same loss (scikit-learn's
``GradientBoostingRegressor`` for "huber", which HGB does not have), in a
``StandardScaler`` pipeline on a 25% test split, seeds 0, 1 and 2 for the
split and the estimators. Each pair is scored on the test set by the loss
it minimises (lower is better): the mean squared error, the mean absolute
error, the mean pinball loss of the 0.9 quantile, the mean Poisson deviance;
Huber is scored by the absolute error to the noise-free signal of data with
5% gross outliers, which is what it is for.

The data are generated so that each loss has something to find:

- "skewed": Friedman #1 with exponential noise (mean, median and 0.9
  quantile differ), for the squared, absolute and quantile losses;
- "outliers": Friedman #1 with small Gaussian noise and 5% of the targets
  shifted by +50, for Huber;
- "counts": Poisson counts of a log-linear rate of 5 features, for Poisson;
- ``load_diabetes`` for the squared and absolute errors.

Usage::

    python benchmarks/bench_losses.py            # about 2 minutes
    python benchmarks/run.py --only losses
"""

import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from _common import emit, markdown_table  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    mean_absolute_error,
    mean_pinball_loss,
    mean_poisson_deviance,
    mean_squared_error,
)
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skbnnet import BatchNormMLPRegressor  # noqa: E402

QUANTILE = 0.9

#: loss -> (skbnnet's parameters, the boosting peer, the test metric).
LOSSES = {
    "squared_error": (
        dict(loss="squared_error"),
        lambda seed: HistGradientBoostingRegressor(random_state=seed),
        mean_squared_error,
    ),
    "absolute_error": (
        dict(loss="absolute_error"),
        lambda seed: HistGradientBoostingRegressor(
            loss="absolute_error", random_state=seed
        ),
        mean_absolute_error,
    ),
    "quantile": (
        dict(loss="quantile", quantile=QUANTILE),
        lambda seed: HistGradientBoostingRegressor(
            loss="quantile", quantile=QUANTILE, random_state=seed
        ),
        lambda y, p: mean_pinball_loss(y, p, alpha=QUANTILE),
    ),
    "huber": (
        dict(loss="huber"),
        lambda seed: GradientBoostingRegressor(loss="huber", random_state=seed),
        None,  # scored against the signal, see load()
    ),
    "poisson": (
        dict(loss="poisson"),
        lambda seed: HistGradientBoostingRegressor(loss="poisson", random_state=seed),
        mean_poisson_deviance,
    ),
}

#: The datasets each loss is measured on.
CASES = [
    ("squared_error", "skewed"),
    ("squared_error", "diabetes"),
    ("absolute_error", "skewed"),
    ("absolute_error", "diabetes"),
    ("quantile", "skewed"),
    ("huber", "outliers"),
    ("poisson", "counts"),
]


def load(name, n_samples=2000):
    """``(X, y, signal)``: features, targets, and the noise-free signal
    (None where it is unknown)."""
    rng = np.random.RandomState(0)
    if name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
        return X, y, None
    if name == "counts":
        X = rng.uniform(-1, 1, size=(n_samples, 5))
        rate = np.exp(X @ np.array([1.0, -0.8, 0.5, 0.0, 0.3]))
        return X, rng.poisson(rate).astype(float), rate
    X, signal = datasets.make_friedman1(n_samples=n_samples, noise=0, random_state=0)
    if name == "skewed":
        return X, signal + 3 * rng.exponential(1.0, size=n_samples), signal
    y = signal + 0.5 * rng.standard_normal(n_samples)
    y[rng.rand(n_samples) < 0.05] += 50.0
    return X, y, signal


def scores(loss, name, seeds, n_samples=2000):
    """``{contender: [test metric per seed]}`` of one loss on one dataset."""
    params, peer, metric = LOSSES[loss]
    X, y, signal = load(name, n_samples)
    rows = np.arange(len(y))
    result = {"skbnnet": [], "boosting": []}
    for seed in seeds:
        train, test = train_test_split(rows, test_size=0.25, random_state=seed)
        for contender, model in [
            ("skbnnet", BatchNormMLPRegressor(random_state=seed, **params)),
            ("boosting", peer(seed)),
        ]:
            pipeline = make_pipeline(StandardScaler(), model)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                pipeline.fit(X[train], y[train])
            predicted = pipeline.predict(X[test])
            if metric is None:
                value = mean_absolute_error(signal[test], predicted)
            else:
                value = metric(y[test], predicted)
            result[contender].append(float(value))
    return result


def run(data=None, quick=False):
    """Section of ``benchmarks/run.py``: one row per (loss, dataset)."""
    seeds = [0] if quick else [0, 1, 2]
    cases = CASES[:1] + CASES[-1:] if quick else CASES
    n_samples = 300 if quick else 2000
    emit(
        "### Losses: BatchNormMLPRegressor against gradient boosting with the "
        "same loss (test loss, lower is better; mean of seeds)\n"
    )
    table = []
    for loss, name in cases:
        result = scores(loss, name, seeds, n_samples)
        ours, theirs = np.mean(result["skbnnet"]), np.mean(result["boosting"])
        table.append(
            dict(
                loss=loss,
                dataset=name,
                skbnnet=ours,
                boosting=theirs,
                ratio=ours / theirs,
                per_seed=result,
            )
        )
    emit(
        markdown_table(
            ["loss", "dataset", "skbnnet", "boosting", "skbnnet / boosting"],
            [
                [r["loss"], r["dataset"], f"{r['skbnnet']:.4g}", f"{r['boosting']:.4g}"]
                + [f"{r['ratio']:.3f}"]
                for r in table
            ],
        )
    )
    emit()
    return {"seeds": seeds, "rows": table}


if __name__ == "__main__":
    run()
