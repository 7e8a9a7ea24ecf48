"""Behaviour of BatchNormMLPClassifier beyond scikit-learn's common checks."""

import copy
import pickle
import re
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPClassifier


def _small(**params):
    """A small, fast configuration."""
    defaults = dict(hidden_layer_sizes=(16, 8), max_iter=30, random_state=0)
    return BatchNormMLPClassifier(**{**defaults, **params})


def test_digits_accuracy():
    """The default estimator reaches >= 0.97 test accuracy on digits."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0
    )
    model = make_pipeline(StandardScaler(), BatchNormMLPClassifier(random_state=0))
    model.fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.97


@pytest.mark.parametrize(
    "dtype, expected",
    [(np.float32, np.float32), (np.float64, np.float64), (int, np.float64)],
)
def test_computes_in_input_dtype(iris, dtype, expected):
    """float32 input trains a float32 network; anything else float64."""
    X, y = iris
    X = (X * 10).astype(dtype)
    clf = _small(max_iter=3).fit(X, y)
    assert all(coef.dtype == expected for coef in clf.coefs_)
    assert clf.predict_proba(X).dtype == expected


def test_trailing_single_row_batch(iris):
    """A data set of k * batch_size + 1 rows trains without NaN."""
    X, y = iris
    X, y = X[::3][:41], y[::3][:41]
    clf = _small(batch_size=20).fit(X, y)
    assert np.isfinite(clf.loss_curve_).all()
    assert np.isfinite(clf.predict_proba(X)).all()


def test_partial_fit_single_row(iris):
    """partial_fit on one row: batch norm refuses it clearly (a single row
    normalises to zero, as PyTorch refuses too); without batch norm it
    trains and stays finite."""
    X, y = iris
    clf = _small()
    with pytest.raises(ValueError, match="at least 2 rows per mini-batch"):
        clf.partial_fit(X[:1], y[:1], classes=np.unique(y))
    assert not hasattr(clf, "classes_")
    clf.partial_fit(X[:2], y[:2], classes=np.unique(y))
    with pytest.raises(ValueError, match="at least 2 rows per mini-batch"):
        clf.partial_fit(X[2:3], y[2:3])
    assert np.isfinite(clf.predict_proba(X)).all()
    plain = _small(batch_norm=False)
    plain.partial_fit(X[:1], y[:1], classes=np.unique(y))
    plain.partial_fit(X[1:2], y[1:2])
    assert np.isfinite(plain.predict_proba(X)).all()


def test_warm_start_continues(iris):
    """warm_start resumes from the fitted weights instead of starting over."""
    X, y = iris
    clf = _small(max_iter=5, warm_start=True).fit(X, y)
    first_curve = list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.loss_curve_[:5] == first_curve
    assert len(clf.loss_curve_) == 10
    fresh = _small(max_iter=5).fit(X, y)
    assert clf.loss_curve_[5] < fresh.loss_curve_[0]


def test_fit_without_warm_start_restarts(iris):
    """Without warm_start, fit twice gives the same model (idempotent)."""
    X, y = iris
    clf = _small(max_iter=5)
    proba = clf.fit(X, y).predict_proba(X)
    assert_array_equal(clf.fit(X, y).predict_proba(X), proba)
    assert len(clf.loss_curve_) == 5


def test_partial_fit_continues_after_fit(iris):
    """partial_fit right after fit runs one more epoch without `classes`."""
    X, y = iris
    clf = _small(max_iter=5).fit(X, y)
    before = clf.coefs_[0].copy()
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1
    assert len(clf.loss_curve_) == 6
    assert not np.array_equal(before, clf.coefs_[0])


def test_partial_fit_equals_epochs(iris):
    """k partial_fit calls equal a k-epoch fit (no shuffling, same data)."""
    X, y = iris
    params = dict(shuffle=False, max_iter=4, tol=0.0, n_iter_no_change=100)
    fitted = _small(**params).fit(X, y)
    incremental = _small(**params)
    for _ in range(4):
        incremental.partial_fit(X, y, classes=np.unique(y))
    assert_allclose(incremental.predict_proba(X), fitted.predict_proba(X))
    assert_allclose(incremental.loss_curve_, fitted.loss_curve_)


@pytest.mark.parametrize("roundtrip", [pickle.loads, copy.deepcopy])
def test_roundtrip_then_partial_fit(iris, roundtrip):
    """After pickle or deepcopy, predictions match and partial_fit really
    updates the parameters that predict uses."""
    X, y = iris
    clf = _small().fit(X, y)
    restored = (
        roundtrip(pickle.dumps(clf)) if roundtrip is pickle.loads else roundtrip(clf)
    )
    assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    restored.partial_fit(X, y)
    assert not np.array_equal(restored.coefs_[0], clf.coefs_[0])
    assert not np.array_equal(restored.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    assert_allclose(restored.predict_proba(X), clf.predict_proba(X))


@pytest.mark.parametrize("input_scaling", ["smooth_clip", None])
@pytest.mark.parametrize("sparse_format", ["csr", "csc"])
@pytest.mark.parametrize("shuffle", [True, False])
def test_sparse_and_dense_give_the_same_model(sparse_format, shuffle, input_scaling):
    """Sparse input trains the same model as its dense equivalent: the
    input scaling does not centre sparse data, and needs not where every
    feature's median is 0 (most entries zero, as here)."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    X *= np.random.RandomState(0).uniform(size=X.shape) < 0.3
    X_sparse = sp.csr_matrix(X).asformat(sparse_format)
    params = dict(shuffle=shuffle, max_iter=10, input_scaling=input_scaling)
    dense = _small(**params).fit(X, y)
    sparse = _small(**params).fit(X_sparse, y)
    if input_scaling is not None:
        assert_array_equal(sparse.input_center_, 0.0)
        assert_array_equal(sparse.input_scale_, dense.input_scale_)
    assert_allclose(sparse.predict_proba(X_sparse), dense.predict_proba(X), rtol=1e-6)
    for a, b in zip(sparse.coefs_, dense.coefs_):
        assert_allclose(a, b, rtol=1e-6, atol=1e-10)


def test_multilabel():
    """Indicator targets get logistic outputs strictly inside (0, 1)."""
    X, Y = make_multilabel_classification(n_samples=120, n_classes=4, random_state=0)
    clf = _small(hidden_layer_sizes=(32,), max_iter=200).fit(X, Y)
    assert clf.out_activation_ == "logistic"
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape
    assert ((proba > 0) & (proba < 1)).all()
    assert clf.predict(X).shape == Y.shape
    assert clf.score(X, Y) > 0.5


def test_binary_uses_two_softmax_outputs(iris):
    """Binary targets use a two-unit softmax head."""
    X, y = iris
    mask = y < 2
    clf = _small(max_iter=10).fit(X[mask], y[mask])
    assert clf.n_outputs_ == 2
    assert clf.out_activation_ == "softmax"
    assert clf.predict_proba(X[mask]).shape == (mask.sum(), 2)


def test_fitted_attributes(iris):
    """Fitted attributes have MLPClassifier's names and the BN state."""
    X, y = iris
    clf = _small(max_iter=7, tol=0.0).fit(X, y)
    assert clf.n_layers_ == 4
    assert [c.shape for c in clf.coefs_] == [(4, 16), (16, 8), (8, 3)]
    assert [i.shape for i in clf.intercepts_] == [(3,)]
    assert [g.shape for g in clf.bn_gammas_] == [(16,), (8,)]
    assert [b.shape for b in clf.bn_betas_] == [(16,), (8,)]
    assert all((v > 0).all() for v in clf.bn_vars_)
    assert len(clf.bn_means_) == 2
    assert clf.n_iter_ == 7 and len(clf.loss_curve_) == 7
    assert clf.t_ == 7 * X.shape[0]
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert clf.validation_scores_ is None

    no_bn = _small(batch_norm=False, max_iter=3).fit(X, y)
    assert [i.shape for i in no_bn.intercepts_] == [(16,), (8,), (3,)]
    assert no_bn.bn_gammas_ == [] and no_bn.bn_means_ == []


def test_early_stopping_restores_best_epoch(iris):
    """Early stopping ends with the parameters of the best validation epoch."""
    X, y = iris
    # A constant rate: a cosine schedule would differ with max_iter.
    params = dict(
        early_stopping=True, n_iter_no_change=3, max_iter=100, learning_rate="constant"
    )
    clf = _small(**params).fit(X, y)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    best_epoch = int(np.argmax(clf.validation_scores_)) + 1
    assert best_epoch < clf.n_iter_
    truncated = _small(**{**params, "max_iter": best_epoch})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        truncated.fit(X, y)
    assert_array_equal(clf.predict_proba(X), truncated.predict_proba(X))


def test_population_statistics_equal_a_full_pass(iris):
    """batch_norm_stats="population" stores the weighted statistics of every
    layer over the whole training set, computed layer by layer."""
    X, y = iris
    sample_weight = np.random.RandomState(0).uniform(0.5, 2, size=len(y))
    clf = _small(
        batch_norm_stats="population", batch_size=32, max_iter=5, input_scaling=None
    )
    clf.fit(X, y, sample_weight=sample_weight)
    w = sample_weight / sample_weight.sum()
    A = X
    for layer in range(2):
        Z = A @ clf.coefs_[layer]
        mean = w @ Z
        var = w @ (Z - mean) ** 2
        assert_allclose(clf.bn_means_[layer], mean, rtol=1e-10)
        assert_allclose(clf.bn_vars_[layer], var, rtol=1e-10)
        Z = (Z - mean) / np.sqrt(var + clf.batch_norm_epsilon)
        A = np.maximum(Z * clf.bn_gammas_[layer] + clf.bn_betas_[layer], 0)


def test_population_statistics_survive_a_small_partial_fit():
    """One last partial_fit on 4 rows of one class hardly moves a digits
    model with population statistics (it took accuracy from 0.97 to 0.78
    when the statistics were recomputed from those 4 rows alone)."""
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    clf = BatchNormMLPClassifier(
        batch_norm_stats="population", max_iter=30, random_state=0
    ).fit(X_train, y_train)
    before = clf.score(X_test, y_test)
    rows = np.flatnonzero(y_train == 3)[:4]
    clf.partial_fit(X_train[rows], y_train[rows])
    assert before > 0.95
    assert clf.score(X_test, y_test) > before - 0.02


def test_verbose_prints_one_line_per_epoch(iris, capsys):
    """verbose=1 prints a line per epoch; verbose=0 prints nothing."""
    X, y = iris
    _small(max_iter=4, tol=0.0).fit(X, y)
    assert capsys.readouterr().out == ""
    _small(max_iter=4, tol=0.0, verbose=1, early_stopping=True).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert re.match(
        r"Epoch 1, loss = \d+\.\d+, validation score = \d\.\d+, time = \d+\.\d+s",
        lines[0],
    )


def test_at_most_one_convergence_warning(iris):
    """Hitting max_iter raises exactly one ConvergenceWarning at a constant
    rate (that a cosine schedule raises none is in test_training.py)."""
    X, y = iris
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _small(max_iter=3, learning_rate="constant").fit(X, y)
    assert [w.category for w in caught] == [ConvergenceWarning]


def test_warm_start_cannot_change_architecture(iris):
    """Changing the layers between warm-started fits is a clear error."""
    X, y = iris
    clf = _small(warm_start=True, max_iter=2).fit(X, y)
    clf.set_params(hidden_layer_sizes=(5,))
    with pytest.raises(ValueError, match="cannot change between calls"):
        clf.fit(X, y)
    assert clf.coefs_[0].shape == (4, 16)


def test_random_state_none_differs(iris):
    """random_state=None really draws different models."""
    X, y = iris
    a = _small(random_state=None, max_iter=2).fit(X, y).predict_proba(X)
    b = _small(random_state=None, max_iter=2).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd", learning_rate="adaptive"),
        # invscaling decays with every sample seen: it needs a large start.
        dict(
            solver="sgd",
            learning_rate="invscaling",
            learning_rate_init=0.5,
            nesterovs_momentum=False,
        ),
        dict(solver="rmsprop", learning_rate="invscaling"),
        dict(activation="tanh", dropout=0.3),
        # Logistic units without batch norm learn slowly.
        dict(activation="logistic", batch_norm=False, max_iter=200),
        dict(activation="identity", batch_norm_stats="population"),
    ],
    ids=str,
)
def test_configurations_learn(iris, params):
    """Every solver, schedule and layer option learns iris."""
    X, y = iris
    clf = _small(**{"learning_rate_init": 0.01, "max_iter": 100, **params}).fit(X, y)
    assert clf.score(X, y) > 0.85


def test_interrupt_keeps_a_usable_model(tmp_path):
    """Ctrl-C during fit stops after a mini-batch, warns, and the model
    predicts (a real SIGINT sent to a real process)."""
    script = tmp_path / "fit.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, warnings
            import numpy as np
            from sklearn.datasets import load_digits
            from skbnnet import BatchNormMLPClassifier

            X, y = load_digits(return_X_y=True)
            clf = BatchNormMLPClassifier(
                hidden_layer_sizes=(256, 256), batch_size=8, max_iter=10_000,
                tol=0.0, random_state=0,
            )
            print("fitting", flush=True)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clf.fit(X, y)
            assert any("interrupted" in str(w.message) for w in caught), caught
            assert np.isfinite(clf.predict_proba(X)).all()
            print("predicted", clf.n_iter_, flush=True)
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "fitting"
        # Let it get into the training loop.
        time.sleep(2.0)
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    assert out.startswith("predicted")


def test_predict_fast_path_matches_full_validation(iris):
    """Plain float arrays skip validate_data yet predict and fail the same."""
    X, y = iris
    clf = _small(max_iter=5).fit(X, y)
    assert_array_equal(clf.predict_proba(X), clf.predict_proba(X.tolist()))
    assert_array_equal(clf.predict_proba(X[:1]), clf.predict_proba(X[:1].tolist()))
    for bad in (np.inf, np.nan):
        X_bad = X.copy()
        X_bad[3, 1] = bad
        with pytest.raises(ValueError, match="Input X contains"):
            clf.predict_proba(X_bad)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.predict_proba(X[:, :3])
    # Finite values whose sum overflows take the full path and still predict.
    huge = np.full((40_000, 4), 1e304)
    assert np.isfinite(clf.predict_proba(huge)).all()


def test_verbose_2_splits_epoch_time(iris, capsys):
    """verbose=2 adds the forward/backward/update split of each epoch."""
    X, y = iris
    _small(max_iter=3, tol=0.0, verbose=2).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    split = re.search(
        r"forward (\d+\.\d+)s, backward (\d+\.\d+)s, update (\d+\.\d+)s",
        lines[0],
    )
    assert split is not None
    seconds = [float(value) for value in split.groups()]
    total = float(re.search(r"time = (\d+\.\d+)s", lines[0]).group(1))
    assert sum(seconds) <= total + 0.01
