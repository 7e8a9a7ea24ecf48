"""Recipe ablation: variants of the default estimator on the tabular data.

Usage::

    python benchmarks/bench_recipes.py --datasets small-classification \\
        --seeds 0-9
    python benchmarks/bench_recipes.py --datasets diabetes,cps1985,concrete \\
        --variants '{"it60": {"max_iter": 60}}'
    python benchmarks/bench_recipes.py --quick      # synthetic data, seconds

Each variant is the default ``BatchNormMLPClassifier`` or
``BatchNormMLPRegressor`` with some parameters changed (``--variants``: a
JSON object of name to parameters; the built-in ``VARIANTS`` otherwise),
fitted beside ``MLPClassifier()`` / ``MLPRegressor()`` (scaled target) and
the unchanged default, on the data, splits and preprocessing of
``bench_tabular.py``. A variant ``{"_members": k}`` averages the
predictions of k defaults of different seeds (soft voting), to price an
ensemble before building one; ``{"_scaler": "smooth_clip"}`` scales the
numeric columns with ``SmoothClipScaler`` instead of ``StandardScaler``
(the estimators' own ``input_scaling`` does so by default), and
``"_base": "mlp"`` applies that to the MLP. Printed: the mean test accuracy (R²) per
dataset and variant, then each variant minus the default and minus the MLP,
paired by (dataset, seed), with its standard error, and the variant's worst
dataset against the MLP (the issue's "never more than 2 points below").
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import bench_tabular  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from sklearn.ensemble import VotingClassifier, VotingRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor  # noqa: E402
from skbnnet.preprocessing import SmoothClipScaler  # noqa: E402

#: The levers of issue 20's small-data item, one at a time.
VARIANTS = {
    "batch 32": {"batch_size": 32},
    "no batch norm": {"batch_norm": False},
    "population stats": {"batch_norm_stats": "population"},
    "weight decay 1": {"weight_decay": 1.0},
    "rate 0.003": {"learning_rate_init": 0.003},
    "60 epochs": {"max_iter": 60},
    "rate 0.003, 100 epochs": {"learning_rate_init": 0.003, "max_iter": 100},
    "early stopping": {"early_stopping": True},
    "beta_2 0.99": {"beta_2": 0.99},
    "5 members": {"_members": 5},
    "no input scaling": {"input_scaling": None},
    "MLP, smooth clip": {"_scaler": "smooth_clip", "_base": "mlp"},
}
#: The sets under 1,000 rows, where the default lost to MLPClassifier:
#: bench_tabular lists the sets by size, and these from german on.
SMALL_CLASSIFICATION = bench_tabular.CLASSIFICATION[
    bench_tabular.CLASSIFICATION.index("german") :
]
GROUPS = {**bench_tabular.GROUPS, "small-classification": SMALL_CLASSIFICATION}


def _estimator(name, params, task, seed):
    params = dict(params)
    params.pop("_scaler", None)
    if name in ("mlp", "default") or params.get("_base") == "mlp":
        return bench_tabular._model(params.get("_base", name), task, seed)
    classification = task == "classification"
    estimator = BatchNormMLPClassifier if classification else BatchNormMLPRegressor
    n_members = params.pop("_members", 0)
    if not n_members:
        return estimator(random_state=seed, **params)
    members = [
        (str(i), estimator(random_state=1000 * seed + i, **params))
        for i in range(n_members)
    ]
    if classification:
        return VotingClassifier(members, voting="soft")
    return VotingRegressor(members)


def _numeric_scaler(preprocessor, scaler):
    """Put `scaler` in place of the numeric columns' StandardScaler."""
    numeric = preprocessor.named_steps["columns"].transformers[0][1]
    numeric.steps[-1] = ("scaler", scaler)


def fit_one(dataset, seed, name, params):
    """One (dataset, seed, variant) fit: its test score and seconds."""
    warnings.simplefilter("ignore")
    task = bench_tabular.task_of(dataset)
    X, y = bench_tabular.load(dataset)
    X_train, X_test, y_train, y_test = bench_tabular.split(X, y, task, seed)
    preprocessor = bench_tabular.preprocessor(X_train)
    if params.get("_scaler") == "smooth_clip":
        _numeric_scaler(preprocessor, SmoothClipScaler())
    model = make_pipeline(preprocessor, _estimator(name, params, task, seed))
    start = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    score = bench_tabular.score(task, y_test, model.predict(X_test))
    return dict(dataset=dataset, seed=seed, variant=name, score=score, time=seconds)


def _mean_and_error(values):
    error = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0
    return statistics.fmean(values), error


def report(records, datasets, names):
    """Markdown tables: scores per dataset, then paired differences."""
    scores = {(r["dataset"], r["seed"], r["variant"]): r["score"] for r in records}
    seeds = sorted({r["seed"] for r in records})
    lines = ["| dataset | " + " | ".join(names) + " |"]
    lines.append("|---" * (len(names) + 1) + "|")
    means = {}
    for dataset in datasets:
        row = []
        for name in names:
            means[dataset, name] = statistics.fmean(
                scores[dataset, seed, name] for seed in seeds
            )
            row.append(f"{means[dataset, name]:.4f}")
        lines.append(f"| {dataset} | " + " | ".join(row) + " |")
    overall = [statistics.fmean(means[d, name] for d in datasets) for name in names]
    lines.append("| **mean** | " + " | ".join(f"{v:.4f}" for v in overall) + " |")
    lines += [
        "",
        "| variant | minus default (points) | minus MLP (points) | worst dataset "
        "minus MLP | mean s/fit |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        cells = []
        for peer in ("default", "mlp"):
            mean, error = _mean_and_error(
                [
                    100 * (scores[d, s, name] - scores[d, s, peer])
                    for d in datasets
                    for s in seeds
                ]
            )
            cells.append(f"{mean:+.2f} ± {error:.2f}")
        worst = min(datasets, key=lambda d: means[d, name] - means[d, "mlp"])
        gap = 100 * (means[worst, name] - means[worst, "mlp"])
        seconds = statistics.fmean(r["time"] for r in records if r["variant"] == name)
        lines.append(
            f"| {name} | {cells[0]} | {cells[1]} | {gap:+.2f} ({worst}) "
            f"| {seconds:.2f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="small-classification")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--variants", help="JSON: name -> parameters")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--output", help="JSON file of every fit")
    parser.add_argument("--quick", action="store_true", help="synthetic data")
    args = parser.parse_args(argv)
    variants = json.loads(args.variants) if args.variants else VARIANTS
    if args.quick:
        datasets, seeds = list(bench_tabular.SYNTHETIC), [0]
        variants = dict(list(variants.items())[:2])
    else:
        datasets = bench_tabular._names(
            args.datasets, bench_tabular.DATASETS + SMALL_CLASSIFICATION, GROUPS
        )
        seeds = bench_tabular._seeds(args.seeds)
    names = ["mlp", "default", *variants]
    jobs = [
        (dataset, seed, name, variants.get(name, {}))
        for dataset in datasets
        for seed in seeds
        for name in names
    ]
    records = Parallel(n_jobs=args.n_jobs)(delayed(fit_one)(*job) for job in jobs)
    if args.output:
        with open(args.output, "w") as file:
            json.dump(records, file, indent=1)
    for task in ("classification", "regression"):
        chosen = [d for d in datasets if bench_tabular.task_of(d) == task]
        if chosen:
            print(f"\n## {task} (seeds {args.seeds if not args.quick else 0})\n")
            print(report(records, chosen, names))


if __name__ == "__main__":
    main()
