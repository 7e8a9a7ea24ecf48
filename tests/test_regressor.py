"""Tests of BatchNormMLPRegressor: target scaling, multi-output, the
regression head in training, and its place beside MLPRegressor."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPRegressor


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=600, noise=0.5, random_state=0)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize(
    "load, floor",
    [
        (lambda: load_diabetes(return_X_y=True), 0.2),
        (lambda: make_friedman1(n_samples=2000, noise=1.0, random_state=0), 0.93),
    ],
    ids=["diabetes", "friedman1"],
)
def test_default_beats_mlpregressor(load, floor):
    """With defaults, a StandardScaler pipeline and a 25% split, the
    regressor scores a higher test R² than MLPRegressor's defaults (which
    do not scale the target), and at least 0.93 on friedman1."""
    X, y = load()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0
    )
    scores = [
        make_pipeline(StandardScaler(), est).fit(X_train, y_train).score(X_test, y_test)
        for est in (BatchNormMLPRegressor(random_state=0), MLPRegressor(random_state=0))
    ]
    assert scores[0] > scores[1]
    assert scores[0] > floor


def test_target_scaling(friedman):
    """Targets are standardised internally and predictions mapped back: a
    target shifted and scaled by 1000 gives the same fit, up to the map."""
    X, y = friedman
    base = BatchNormMLPRegressor((32,), max_iter=20, random_state=0).fit(X, y)
    big = BatchNormMLPRegressor((32,), max_iter=20, random_state=0).fit(
        X, 1000 * y + 5000
    )
    assert_allclose(big.target_mean_, 1000 * base.target_mean_ + 5000, rtol=1e-6)
    assert_allclose(big.target_scale_, 1000 * base.target_scale_, rtol=1e-6)
    assert_allclose(big.predict(X), 1000 * base.predict(X) + 5000, rtol=1e-5)
    raw = BatchNormMLPRegressor((32,), max_iter=20, scale_target=False, random_state=0)
    raw.fit(X, y)
    assert_allclose(raw.target_mean_, 0)
    assert_allclose(raw.target_scale_, 1)


def test_multi_output(friedman):
    """Several targets train one output each; predict keeps their shape, and
    a single target predicts a 1-D array."""
    X, y = friedman
    Y = np.c_[y, -2 * y + 1]
    reg = BatchNormMLPRegressor(
        (32,), max_iter=50, learning_rate_init=0.01, random_state=0
    ).fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.out_activation_ == "identity"
    pred = reg.predict(X)
    assert pred.shape == (len(X), 2)
    assert reg.score(X, Y) > 0.8
    single = BatchNormMLPRegressor((32,), max_iter=5, random_state=0).fit(X, y)
    assert single.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="has 1 targets, but this"):
        reg.partial_fit(X, y)


def test_early_stopping_scores_r2(friedman):
    """Early stopping keeps the epoch of the best validation R², on a split
    or on X_val."""
    X, y = friedman
    reg = BatchNormMLPRegressor(
        (32,), early_stopping=True, max_iter=30, random_state=0
    ).fit(X[:500], y[:500], X_val=X[500:], y_val=y[500:])
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    assert reg.score(X[500:], y[500:]) == pytest.approx(
        reg.best_validation_score_, rel=1e-6
    )
    split = BatchNormMLPRegressor(
        (32,), early_stopping=True, max_iter=30, random_state=0
    ).fit(X, y)
    assert 0 < split.best_validation_score_ <= 1


def test_partial_fit_and_pickle(friedman):
    """partial_fit continues from the first call's scaling, also after a
    pickle round trip."""
    X, y = friedman
    reg = BatchNormMLPRegressor((32,), random_state=0)
    for _ in range(3):
        reg.partial_fit(X, y)
    first = reg.score(X, y)
    reg = pickle.loads(pickle.dumps(reg))
    for _ in range(10):
        reg.partial_fit(X, y)
    assert reg.score(X, y) > first
    assert reg.t_ == 13 * len(X)


def test_divergence_in_regression(friedman):
    """A rate that explodes the squared error is divergence here too."""
    X, y = friedman
    reg = BatchNormMLPRegressor(solver="sgd", learning_rate_init=1e3, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isfinite(reg.predict(X)).all()
