"""BatchNormMLPClassifier in scikit-learn's searches, sequential and parallel.

The searches run inside ``Pipeline(StandardScaler(), BatchNormMLPClassifier())``
on a small digits subset. Parallel runs (joblib's loky processes, a local dask
cluster) must reproduce the sequential ``cv_results_`` exactly.

Estimators and scorers defined here are sent to worker processes by
reference, so the workers must be able to import this module (pytest's
``pythonpath`` or ``python -m pytest`` from the project root).
"""

import os

import joblib
import numpy as np
import pytest
import sklearn
from numpy.testing import assert_array_equal
from scipy.stats import uniform
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingRandomSearchCV,
    ParameterGrid,
    RandomizedSearchCV,
    StratifiedKFold,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info

from skbnnet import (
    BatchNormMLPClassifier,
    CoarseToFineSearchCV,
    LogUniform,
    LogUniformInt,
    OneMinusLogUniform,
)

X, y = load_digits(return_X_y=True)
X, y = X[:450], y[:450]
CV = StratifiedKFold(n_splits=3)

PARAM_GRID = {
    "clf__learning_rate_init": LogUniform(1e-3, 1e-1).grid(3),
    "clf__batch_size": LogUniformInt(32, 128).grid(3),
}

PARAM_DISTRIBUTIONS = {
    "clf__solver": ["sgd", "adam"],
    "clf__learning_rate_init": LogUniform(1e-4, 1e-1),
    "clf__alpha": LogUniform(1e-6, 1e-2),
    "clf__momentum": OneMinusLogUniform(0.8, 0.99),
    "clf__beta_1": OneMinusLogUniform(0.8, 0.99),
    "clf__hidden_layer_sizes": [(16,), (32,), (16, 16)],
    "clf__batch_size": LogUniformInt(16, 128),
    "clf__dropout": uniform(0, 0.5),
    "clf__batch_norm_momentum": OneMinusLogUniform(0.9, 0.999),
}

# Numeric parameters that a scorer reads back from each fitted classifier.
RECORDED_PARAMS = [
    "learning_rate_init",
    "alpha",
    "momentum",
    "beta_1",
    "batch_size",
    "dropout",
    "batch_norm_momentum",
]

# Environment variables through which joblib limits threads in its workers;
# a value set by the user is passed on instead of cpu_count() // n_jobs.
THREAD_LIMIT_VARS = [
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
]

TIMING_KEYS = {"mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"}


def _blas_threads():
    """Largest thread count of the BLAS libraries loaded in this process."""
    return max(
        info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"
    )


class _ThreadRecordingMLP(BatchNormMLPClassifier):
    """BatchNormMLPClassifier recording the BLAS threads its fit ran with."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight=sample_weight)
        self.blas_threads_ = _blas_threads()
        return self


def _fitted_blas_threads(estimator, X, y):
    return estimator[-1].blas_threads_


def _fitted_param(name):
    """Scorer returning a parameter of the fitted classifier."""

    def scorer(estimator, X, y):
        return estimator[-1].get_params()[name]

    return scorer


def _fitted_hidden_units(estimator, X, y):
    """Total width of the hidden layers of the fitted network."""
    return sum(coef.shape[1] for coef in estimator[-1].coefs_[:-1])


def _fitted_hidden_layers(estimator, X, y):
    return len(estimator[-1].coefs_) - 1


def _accuracy_after_full_budget(estimator, X, y):
    """Accuracy, after checking the classifier ran all max_iter epochs."""
    clf = estimator[-1]
    assert clf.n_iter_ == clf.max_iter, (clf.n_iter_, clf.max_iter)
    return clf.score(X, y)


def _pipeline(clf=None, **params):
    if clf is None:
        clf = BatchNormMLPClassifier(
            hidden_layer_sizes=(32,),
            batch_size=64,
            learning_rate_init=0.01,
            max_iter=20,
            random_state=0,
        )
    return Pipeline([("scaler", StandardScaler()), ("clf", clf.set_params(**params))])


def _make_search(kind, n_jobs=1):
    """An unfitted search of the given kind, seeded."""
    if kind == "grid":
        return GridSearchCV(
            _pipeline(), PARAM_GRID, cv=CV, n_jobs=n_jobs, error_score="raise"
        )
    if kind == "random":
        scoring = {
            "accuracy": "accuracy",
            "hidden_units": _fitted_hidden_units,
            "hidden_layers": _fitted_hidden_layers,
        }
        scoring.update({name: _fitted_param(name) for name in RECORDED_PARAMS})
        return RandomizedSearchCV(
            _pipeline(),
            PARAM_DISTRIBUTIONS,
            n_iter=6,
            scoring=scoring,
            refit="accuracy",
            cv=CV,
            n_jobs=n_jobs,
            random_state=0,
            error_score="raise",
        )
    if kind == "halving":
        # No early stop on a loss plateau: each fit runs exactly max_iter epochs.
        return HalvingRandomSearchCV(
            _pipeline(n_iter_no_change=np.inf),
            {
                "clf__learning_rate_init": LogUniform(1e-3, 1e-1),
                "clf__alpha": LogUniform(1e-6, 1e-2),
            },
            n_candidates=4,
            resource="clf__max_iter",
            min_resources=5,
            max_resources=20,
            factor=2,
            scoring=_accuracy_after_full_budget,
            cv=CV,
            n_jobs=n_jobs,
            random_state=0,
            error_score="raise",
        )
    if kind == "coarse_to_fine":
        return CoarseToFineSearchCV(
            _pipeline(),
            {
                "clf__learning_rate_init": LogUniform(1e-3, 1e-1),
                "clf__alpha": LogUniform(1e-6, 1e-2),
                "clf__batch_norm_momentum": OneMinusLogUniform(0.9, 0.999),
            },
            n_iter=3,
            n_rounds=2,
            top_k=2,
            cv=CV,
            n_jobs=n_jobs,
            random_state=0,
            error_score="raise",
        )
    raise ValueError(kind)


def _assert_same_results(search, reference):
    """Same candidates, scores, ranks and best parameters, bit for bit."""
    assert search.cv_results_.keys() == reference.cv_results_.keys()
    assert search.cv_results_["params"] == reference.cv_results_["params"]
    for key, values in reference.cv_results_.items():
        if key not in TIMING_KEYS and key != "params":
            assert_array_equal(search.cv_results_[key], values, err_msg=key)
    assert search.best_index_ == reference.best_index_
    assert search.best_params_ == reference.best_params_


def _split_scores(cv_results, metric):
    n_splits = CV.get_n_splits()
    return np.array([cv_results[f"split{k}_test_{metric}"] for k in range(n_splits)])


@pytest.fixture(scope="module")
def sequential_search():
    """Searches fitted with n_jobs=1, by kind, each computed once per module."""
    fitted = {}

    def get(kind):
        if kind not in fitted:
            fitted[kind] = _make_search(kind).fit(X, y)
        return fitted[kind]

    return get


def test_grid_search_over_log_uniform_grid(sequential_search):
    """GridSearchCV takes LogUniform/LogUniformInt grids and fits every point."""
    search = sequential_search("grid")
    results = search.cv_results_

    assert results["params"] == list(ParameterGrid(PARAM_GRID))
    for name, grid in PARAM_GRID.items():
        assert_array_equal(np.unique(results[f"param_{name}"]), grid)
    assert_array_equal(PARAM_GRID["clf__batch_size"], [32, 64, 128])
    assert np.isfinite(_split_scores(results, "score")).all()
    assert search.best_score_ == results["mean_test_score"].max()
    assert search.best_score_ > 0.8
    best = search.best_estimator_[-1]
    assert best.learning_rate_init == search.best_params_["clf__learning_rate_init"]
    assert best.batch_size == search.best_params_["clf__batch_size"]


def test_randomized_search_samples_reach_fitted_estimators(sequential_search):
    """Sampled values are in the support, set on each fit, and scores finite."""
    search = sequential_search("random")
    results = search.cv_results_
    params = results["params"]

    for name, dist in PARAM_DISTRIBUTIONS.items():
        values = [p[name] for p in params]
        if isinstance(dist, list):
            assert set(values) <= set(dist)
        else:
            low, high = dist.support()
            assert all(low <= value <= high for value in values), name
            assert len(set(values)) > 1, name
    assert all(isinstance(p["clf__batch_size"], int) for p in params)

    # Read back from the classifiers fitted on every split.
    for name in RECORDED_PARAMS:
        sampled = [p[f"clf__{name}"] for p in params]
        for fold_values in _split_scores(results, name):
            assert_array_equal(fold_values, sampled, err_msg=name)
    sizes = [p["clf__hidden_layer_sizes"] for p in params]
    for fold_values in _split_scores(results, "hidden_units"):
        assert_array_equal(fold_values, [sum(s) for s in sizes])
    for fold_values in _split_scores(results, "hidden_layers"):
        assert_array_equal(fold_values, [len(s) for s in sizes])

    assert np.isfinite(_split_scores(results, "accuracy")).all()
    best = search.best_estimator_[-1]
    assert {
        f"clf__{name}": best.get_params()[name] for name in RECORDED_PARAMS
    }.items() <= search.best_params_.items()


def test_halving_search_on_max_iter_resource(sequential_search):
    """HalvingRandomSearchCV budgets epochs: each fit runs its resource's max_iter."""
    search = sequential_search("halving")
    results = search.cv_results_

    assert search.n_resources_ == [5, 10, 20]
    assert search.n_candidates_ == [4, 2, 1]
    # The scorer also checked n_iter_ == max_iter on every fitted split.
    assert_array_equal(results["param_clf__max_iter"], results["n_resources"])
    assert np.isfinite(_split_scores(results, "score")).all()
    best = search.best_estimator_[-1]
    assert search.best_params_["clf__max_iter"] == search.n_resources_[-1]
    assert best.max_iter == best.n_iter_ == search.n_resources_[-1]
    assert len(best.loss_curve_) == search.n_resources_[-1]


@pytest.mark.parametrize("kind", ["grid", "random", "halving"])
def test_parallel_search_matches_sequential(kind, sequential_search):
    """n_jobs=2 gives exactly the n_jobs=1 cv_results_ and best_params_."""
    search = _make_search(kind, n_jobs=2).fit(X, y)
    _assert_same_results(search, sequential_search(kind))


def test_threaded_search_matches_sequential(sequential_search):
    """Fits in concurrent threads of one process give the sequential results.

    The compiled kernels release the GIL, so with joblib's threading backend
    two fits really run at once in one process.
    """
    with joblib.parallel_config(backend="threading"):
        search = _make_search("random", n_jobs=2).fit(X, y)
    _assert_same_results(search, sequential_search("random"))


@pytest.mark.skipif(
    tuple(int(part) for part in sklearn.__version__.split(".")[:2]) < (1, 7),
    reason="the searches' default scorer routes sample_weight to Pipeline.score "
    "from scikit-learn 1.7",
)
def test_search_routes_sample_weight():
    """With metadata routing, sample_weight reaches the classifier's fit and score."""
    rng = np.random.RandomState(0)
    sample_weight = rng.uniform(0.5, 2.0, size=len(y))
    sample_weight[rng.uniform(size=len(y)) < 0.3] = 0.0
    param_grid = {"clf__learning_rate_init": LogUniform(1e-3, 1e-1).grid(3)}

    with sklearn.config_context(enable_metadata_routing=True):
        # Only the classifier takes the weights, so any effect on the fitted
        # models is the classifier's.
        pipe = Pipeline(
            [
                ("scaler", StandardScaler().set_fit_request(sample_weight=False)),
                (
                    "clf",
                    BatchNormMLPClassifier(
                        hidden_layer_sizes=(32,), max_iter=20, random_state=0
                    )
                    .set_fit_request(sample_weight=True)
                    .set_score_request(sample_weight=True),
                ),
            ]
        )
        weighted = GridSearchCV(pipe, param_grid, cv=CV, error_score="raise")
        weighted.fit(X, y, sample_weight=sample_weight)
        unweighted = GridSearchCV(pipe, param_grid, cv=CV, error_score="raise")
        unweighted.fit(X, y)

        assert not np.array_equal(
            _split_scores(weighted.cv_results_, "score"),
            _split_scores(unweighted.cv_results_, "score"),
        )
        # Refit the first split by hand: the routed weights reproduce its score,
        # and a fit without them scores differently on the same weighted test.
        train, test = next(CV.split(X, y))
        fold_scores = weighted.cv_results_["split0_test_score"]
        for params, fold_score in zip(weighted.cv_results_["params"], fold_scores):
            model = clone(pipe).set_params(**params)
            model.fit(X[train], y[train], sample_weight=sample_weight[train])
            assert (
                model.score(X[test], y[test], sample_weight=sample_weight[test])
                == fold_score
            )
            model.fit(X[train], y[train])
            assert (
                model.score(X[test], y[test], sample_weight=sample_weight[test])
                != fold_score
            )


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_search_limits_blas_threads_per_worker(n_jobs):
    """Each fit's BLAS uses cpu_count // n_jobs threads: no oversubscription."""
    if any(var in os.environ for var in THREAD_LIMIT_VARS):
        pytest.skip("joblib passes a user-set thread limit on to its workers")
    search = GridSearchCV(
        _pipeline(_ThreadRecordingMLP(hidden_layer_sizes=(16,), max_iter=5)),
        {"clf__alpha": [1e-4, 1e-3]},
        scoring={"accuracy": "accuracy", "blas_threads": _fitted_blas_threads},
        refit=False,
        cv=CV,
        n_jobs=n_jobs,
        error_score="raise",
    ).fit(X, y)

    if n_jobs == 1:
        # Fits run in this process, with all of its threads.
        expected = _blas_threads()
    else:
        # joblib's loky workers start with the *_NUM_THREADS variables set to
        # cpu_count() // n_jobs.
        expected = max(joblib.cpu_count() // n_jobs, 1)
    assert_array_equal(_split_scores(search.cv_results_, "blas_threads"), expected)


@pytest.mark.slow
def test_dask_backend_matches_sequential(sequential_search):
    """Searches on a dask cluster reproduce the sequential results exactly."""
    distributed = pytest.importorskip("distributed")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    kinds = ["random", "coarse_to_fine"]
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            # The scheduler's HTTP server binds 8787 unless told otherwise,
            # which fails when another test's cluster holds it.
            dashboard_address=":0",
        ) as cluster,
        Client(cluster, timeout=60) as client,
    ):
        client.wait_for_workers(2, timeout=60)
        with (
            joblib.parallel_backend("dask"),
            distributed.get_task_stream(client) as tasks,
        ):
            searches = [_make_search(kind, n_jobs=-1).fit(X, y) for kind in kinds]
        worker_blas_threads = client.run(_blas_threads)

    # The fits ran on the cluster's two workers.
    assert {task["worker"] for task in tasks.data} == set(worker_blas_threads)
    for kind, search in zip(kinds, searches):
        _assert_same_results(search, sequential_search(kind))
    # dask's nanny starts each worker with OPENBLAS_NUM_THREADS=1 (and
    # OMP/MKL): one BLAS thread per worker thread.
    assert list(worker_blas_threads.values()) == [1, 1]
