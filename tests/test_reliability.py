"""Reliability: hostile learning rates, determinism, a worker killed during a
parallel search, memory use and the caller's arrays.

Covered elsewhere and not repeated here: Ctrl-C during fit, ``random_state=None``
drawing different models and pickle then ``partial_fit``
(``test_classifier.py``), bad input and the state after a failed fit
(``test_bad_input.py``), and
searches giving the same ``cv_results_`` with ``n_jobs=1``, ``n_jobs=2`` and on
a dask cluster (``test_sklearn_searches.py``:
``test_parallel_search_matches_sequential`` and
``test_dask_backend_matches_sequential``).

The killed-worker test sends an estimator class defined here to loky worker
processes, which import this module to unpickle it (pytest's ``pythonpath``,
or ``python -m pytest`` from the project root).
"""

import gc
import os
import pickle
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPClassifier, LogUniform

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X)[:600], y[:600]


def _finite_model(clf):
    """Every parameter and statistic of the fitted model is finite."""
    arrays = [*clf.coefs_, *clf.intercepts_, *clf.bn_gammas_, *clf.bn_betas_]
    arrays += [*clf.bn_means_, *clf.bn_vars_]
    return all(np.isfinite(a).all() for a in arrays)


# ---------------------------------------------------------------------------
# Divergence and hostile hyperparameters

# Plain SGD without batch norm at 100 overflows within a few epochs (epoch 4
# with these settings; at 10 it does too, later), so the grid surely
# exercises the divergence path. Other configurations may go either way.
MUST_DIVERGE = {("sgd", 100.0, False)}


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("learning_rate_init", [1.0, 10.0, 100.0])
@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
def test_hostile_learning_rates(digits, solver, learning_rate_init, batch_norm):
    """Huge learning rates either train or stop at the first non-finite loss
    with the last finite epoch restored and a warning suggesting a lower
    rate; predictions are probabilities in every case."""
    X, y = digits
    max_iter = 30
    clf = BatchNormMLPClassifier(
        hidden_layer_sizes=(16,),
        solver=solver,
        learning_rate_init=learning_rate_init,
        batch_norm=batch_norm,
        batch_size=32,
        max_iter=max_iter,
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    assert [w.category for w in caught] in ([], [ConvergenceWarning])
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    assert_allclose(proba.sum(axis=1), 1)
    assert _finite_model(clf)
    assert np.isfinite(clf.loss_curve_).all()
    assert len(clf.loss_curve_) == clf.n_iter_

    diverged = bool(caught) and "diverged" in str(caught[0].message)
    if (solver, learning_rate_init, batch_norm) in MUST_DIVERGE:
        assert diverged
    if not diverged:
        return
    message = str(caught[0].message)
    assert f"diverged at epoch {clf.n_iter_ + 1}" in message
    assert "Try a lower learning_rate_init" in message
    assert clf.n_iter_ < max_iter
    if clf.n_iter_ == 0:
        return
    # The model is the one after the last complete epoch, unless the very
    # first batch of the next epoch diverged: those parameters produced the
    # non-finite loss, so the epoch before is restored instead.
    restored = []
    for n_epochs in (clf.n_iter_, clf.n_iter_ - 1):
        if n_epochs == 0:
            # The alternative is the initial parameters, which no fit gives.
            break
        truncated = clone(clf).set_params(max_iter=n_epochs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            truncated.fit(X, y)
        restored.append(truncated.predict_proba(X))
    matches = [np.array_equal(candidate, proba) for candidate in restored]
    assert any(matches) or (clf.n_iter_ == 1 and not matches[0])


def test_randomized_search_over_hostile_learning_rates(digits):
    """A random search over LogUniform(1e-4, 10) learning rates completes with
    finite scores everywhere: no failed fit, no non-finite score warning."""
    X, y = digits
    X, y = X[:300], y[:300]
    search = RandomizedSearchCV(
        BatchNormMLPClassifier(
            hidden_layer_sizes=(16,), batch_size=32, max_iter=20, random_state=0
        ),
        {
            "learning_rate_init": LogUniform(1e-4, 10),
            "solver": ["sgd", "adam", "rmsprop"],
            "batch_norm": [True, False],
        },
        n_iter=10,
        cv=3,
        random_state=0,
    )
    with warnings.catch_warnings():
        # FitFailedWarning and sklearn's non-finite score warning fail here.
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    results = search.cv_results_
    learning_rates = np.asarray(results["param_learning_rate_init"], dtype=float)
    assert (learning_rates > 1).any(), "the hostile region was not sampled"
    for split in range(3):
        assert np.isfinite(results[f"split{split}_test_score"]).all()
    assert np.isfinite(results["mean_test_score"]).all()
    assert np.isfinite(search.best_estimator_.predict_proba(X)).all()


# ---------------------------------------------------------------------------
# Determinism
#
# The same seed gives the same cv_results_ whatever n_jobs or joblib backend
# (loky, dask) a search runs on: tests/test_sklearn_searches.py checks that.

DETERMINISM_CONFIGS = [
    dict(),
    dict(dropout=0.3),
    dict(early_stopping=True, n_iter_no_change=3),
    dict(batch_norm_stats="population"),
    dict(solver="sgd", learning_rate="adaptive"),
    dict(solver="rmsprop", batch_norm=False, dropout=0.2),
    dict(batch_size=7, shuffle=False),
]


@pytest.mark.parametrize("params", DETERMINISM_CONFIGS, ids=str)
def test_same_seed_same_model(iris, params):
    """The same random_state gives bit-identical probabilities across
    repeated fits, refits of one instance and pickle round trips."""
    X, y = iris

    def make():
        return BatchNormMLPClassifier(
            hidden_layer_sizes=(16, 8), max_iter=20, random_state=0, **params
        )

    reference = make().fit(X, y)
    proba = reference.predict_proba(X)
    assert_array_equal(make().fit(X, y).predict_proba(X), proba)
    # Refitting the same instance starts over from the seed.
    assert_array_equal(reference.fit(X, y).predict_proba(X), proba)
    # A fitted model survives pickling bit for bit...
    restored = pickle.loads(pickle.dumps(reference))
    assert_array_equal(restored.predict_proba(X), proba)
    assert restored.loss_curve_ == reference.loss_curve_
    # ... and an unfitted one, pickled then fitted, gives the same model.
    unpickled = pickle.loads(pickle.dumps(make()))
    assert_array_equal(unpickled.fit(X, y).predict_proba(X), proba)
    assert_array_equal(clone(reference).fit(X, y).predict_proba(X), proba)


# ---------------------------------------------------------------------------
# Interruption: a worker process dies during a parallel search

_KILLING_ALPHA = 0.0666


class DiesWhenFitted(BatchNormMLPClassifier):
    """Kills its own process when fitted with ``alpha=_KILLING_ALPHA``, as a
    segfault or the kernel's out-of-memory killer would."""

    def fit(self, X, y, sample_weight=None):
        if self.alpha == _KILLING_ALPHA:
            os._exit(1)
        return super().fit(X, y, sample_weight=sample_weight)


def search_with_a_dying_worker():
    """Run a 2-process grid search in which one candidate kills its worker."""
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(
        DiesWhenFitted(hidden_layer_sizes=(4,), max_iter=3, random_state=0),
        {"alpha": [1e-4, _KILLING_ALPHA]},
        cv=2,
        n_jobs=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)


def test_killed_worker_raises_terminated_worker_error():
    """A worker killed during a parallel search surfaces joblib's clear
    TerminatedWorkerError in the caller, promptly: nothing hangs.

    The search runs in a subprocess (its own loky pool, and a hard timeout
    that a hang would hit); the candidate that kills its worker never runs
    in the subprocess's main process, only in the workers.
    """
    script = textwrap.dedent(
        """
        import pytest
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        from tests.test_reliability import search_with_a_dying_worker

        with pytest.raises(TerminatedWorkerError) as excinfo:
            search_with_a_dying_worker()
        print("raised:", excinfo.value, flush=True)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("raised: A worker process managed by the")
    assert "unexpectedly terminated" in result.stdout
    assert "EXIT(1)" in result.stdout


# ---------------------------------------------------------------------------
# Memory and the caller's arrays

# Growth of traced memory allowed between fit 2 and fit 10: NumPy's cache of
# small blocks and sklearn's caches fill up a little (a few KiB measured).
GROWTH_BOUND = 64 * 1024


@pytest.mark.parametrize(
    "params",
    [dict(), dict(early_stopping=True, dropout=0.2), dict(solver="sgd")],
    ids=str,
)
def test_repeated_fits_do_not_grow_memory(params):
    """Ten successive fits of one estimator hold no more memory than two.

    Fits 3 to 10 would leak 8 copies of anything a fit forgets to release;
    the bound, 64 KiB, is below 8 times both the parameter vector (2442
    float64, 19.5 KB) and X (500 x 64 float64, 256 KB), so a per-fit leak of
    either (or of the optimizer's state, which is larger) fails the test.
    """
    X, y = load_digits(return_X_y=True)
    X, y = X[:500] / 16, y[:500]
    clf = BatchNormMLPClassifier(
        hidden_layer_sizes=(32,), max_iter=5, random_state=0, **params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gc.collect()
        tracemalloc.start()
        try:
            for n_fits in range(1, 11):
                clf.fit(X, y)
                if n_fits == 2:
                    gc.collect()
                    after_two = tracemalloc.get_traced_memory()[0]
            gc.collect()
            after_ten = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
    params = [*clf.coefs_, *clf.intercepts_, *clf.bn_gammas_, *clf.bn_betas_]
    assert 8 * min(sum(p.nbytes for p in params), X.nbytes) > GROWTH_BOUND
    assert after_ten - after_two < GROWTH_BOUND


@pytest.mark.parametrize("input_scaling", [None, "smooth_clip"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_fit_does_not_copy_X(early_stopping, input_scaling):
    """fit on dense float32 C-ordered X does not copy X, apart from the one
    scaled copy of ``input_scaling`` (mapped once, not every epoch); early
    stopping copies only its validation rows (the training rows are used
    through indices).

    validate_data keeps float32 C-ordered input as is, mini-batches are
    gathered into one preallocated (batch_size, n_features) buffer, and
    population statistics are computed chunk by chunk. What fit may allocate
    besides is bounded by ``slack``: O(n_samples) vectors (labels, encoded
    targets, sample weights, a permutation per epoch), O(batch) buffers and
    O(n_params) optimizer state. X (20000 x 200 float32, 16 MB) is large and
    the network small, so slack (about 2.5 MB) is far below one copy of X.
    """
    n_samples, n_features, batch_size = 20_000, 200, 200
    rng = np.random.RandomState(0)
    X = rng.standard_normal((n_samples, n_features)).astype(np.float32)
    y = rng.randint(3, size=n_samples)
    clf = BatchNormMLPClassifier(
        hidden_layer_sizes=(8,),
        batch_size=batch_size,
        max_iter=2,
        early_stopping=early_stopping,
        batch_norm_stats="population",
        input_scaling=input_scaling,
        random_state=0,
    )
    n_params = n_features * 8 + 2 * 8 + 8 * 3 + 3
    slack = (
        12 * n_samples * 8  # label, target, weight and index vectors
        + 4 * batch_size * n_features * 4  # batch buffer and its workspace
        + 16 * n_params * 8  # parameters, gradient, optimizer state, copies
    )
    assert slack < 0.2 * X.nbytes
    allowed = slack + (clf.validation_fraction * X.nbytes if early_stopping else 0)
    if input_scaling is not None:
        allowed += X.nbytes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gc.collect()
        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            clf.fit(X, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert clf.coefs_[0].dtype == np.float32
    assert peak - baseline < allowed


READ_ONLY_CONFIGS = [
    dict(),
    dict(shuffle=False),
    dict(early_stopping=True),
    dict(batch_norm_stats="population"),
    dict(batch_norm=False, dropout=0.2),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", READ_ONLY_CONFIGS, ids=str)
@pytest.mark.parametrize("writeable", [False, True])
def test_caller_arrays_are_never_modified(iris, params, dtype, writeable):
    """fit, partial_fit and predict work on read-only X, y and sample_weight,
    and never modify the caller's arrays."""
    X, y = iris
    X = X.astype(dtype)
    sample_weight = np.random.RandomState(0).uniform(0.5, 2, size=len(y))
    arrays = [X, y, sample_weight]
    originals = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = writeable
    clf = BatchNormMLPClassifier(
        hidden_layer_sizes=(8,), max_iter=5, random_state=0, **params
    )
    clf.fit(X, y, sample_weight=sample_weight)
    clf.predict(X)
    clf.predict_proba(X)
    clf.predict_log_proba(X)
    clf.score(X, y, sample_weight=sample_weight)
    if not params.get("early_stopping"):
        clf.partial_fit(X, y, sample_weight=sample_weight)
        fresh = clone(clf).partial_fit(X, y, sample_weight, classes=np.unique(y))
        fresh.partial_fit(X, y, sample_weight=sample_weight)
    warm = clone(clf).set_params(warm_start=True)
    warm.fit(X, y, sample_weight=sample_weight).fit(X, y, sample_weight=sample_weight)
    for a, original in zip(arrays, originals):
        assert_array_equal(a, original)
        assert a.flags.writeable == writeable
