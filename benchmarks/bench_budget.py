"""How close a budgeted search ends to its ``max_time``.

``tuning_search`` (the tuning recipe: ``default_search_space``, 60 epochs, 4
rungs, 3 folds) on digits in float32, for each budget, number of jobs and
number of BLAS threads given; one line of JSON per search with its wall
time, the ratio to ``max_time``, the refit's seconds, the number of
candidates and the ``BudgetWarning`` messages. The figures of
``benchmarks/TUNING_NOTES.md`` (section 10) come from::

    python benchmarks/bench_budget.py --budgets 1,5,10,20,60 --n-jobs 1,2 \\
        --blas-threads 1,2

Run it on a quiet machine: the planner measures as it goes, so load that
changes during a search shows as overruns.
"""

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skbnnet import BatchNormMLPClassifier
from skbnnet.model_selection import BudgetWarning, tuning_search


def _numbers(text, kind):
    return [kind(value) for value in text.split(",") if value]


def measure(budget, n_jobs, blas_threads, X, y):
    """One budgeted search: a dict of what it took."""
    model = make_pipeline(StandardScaler(), BatchNormMLPClassifier(random_state=0))
    search = tuning_search(model, X, y, max_time=budget, n_jobs=n_jobs, random_state=0)
    with (
        threadpool_limits(blas_threads, user_api="blas"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("always", BudgetWarning)
        start = time.perf_counter()
        search.fit(X, y)
        wall = time.perf_counter() - start
    return dict(
        blas_threads=blas_threads,
        n_jobs=n_jobs,
        budget=budget,
        wall=round(wall, 2),
        ratio=round(wall / budget, 3),
        refit=round(search.refit_time_, 2),
        n_candidates=len(search.cv_results_["params"]),
        warned=[str(w.message) for w in caught if w.category is BudgetWarning],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="5,10,20", help="seconds, e.g. 1,5,10")
    parser.add_argument("--n-jobs", default="1,2", help="e.g. 1,2")
    parser.add_argument("--blas-threads", default="1,2", help="e.g. 1,2")
    parser.add_argument(
        "--rows", type=int, default=None, help="use only the first rows of digits"
    )
    args = parser.parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X, y = X[: args.rows].astype(np.float32), y[: args.rows]
    for blas_threads in _numbers(args.blas_threads, int):
        for n_jobs in _numbers(args.n_jobs, int):
            for budget in _numbers(args.budgets, float):
                print(
                    json.dumps(measure(budget, n_jobs, blas_threads, X, y)), flush=True
                )


if __name__ == "__main__":
    main()
