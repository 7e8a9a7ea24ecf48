"""SmoothClipScaler, and the estimators' input_scaling that applies it."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor
from skbnnet._scaling import smooth_clip
from skbnnet.preprocessing import SmoothClipScaler


@parametrize_with_checks([SmoothClipScaler(), SmoothClipScaler(clip=1.0)])
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


def _heavy_tailed(seed=0):
    rng = np.random.RandomState(seed)
    return np.c_[rng.standard_normal(200), rng.lognormal(0, 2, 200)]


def _robust(X):
    """RobustScaler's map with NumPy's averaged inverted-CDF quantiles."""
    low, median, high = np.quantile(
        X, [0.25, 0.5, 0.75], axis=0, method="averaged_inverted_cdf"
    )
    return (X - median) / (high - low)


def test_robust_scaling_then_the_smooth_clip():
    """The output is robust scaling mapped through x / sqrt(1 + (x/c)^2)."""
    X = _heavy_tailed()
    robust = _robust(X)
    for clip in (1.0, 3.0):
        assert_allclose(
            SmoothClipScaler(clip=clip).fit_transform(X),
            robust / np.sqrt(1 + (robust / clip) ** 2),
            rtol=1e-12,
        )


def test_integer_weights_count_as_repeated_rows():
    """On rows where interpolated quantiles would differ, weight k is k
    copies; weight 0 drops the row."""
    X = _heavy_tailed()[:21]
    weights = np.random.RandomState(1).randint(0, 4, size=X.shape[0])
    weighted = SmoothClipScaler().fit(X, sample_weight=weights)
    repeated = SmoothClipScaler().fit(np.repeat(X, weights, axis=0))
    assert_array_equal(weighted.center_, repeated.center_)
    assert_array_equal(weighted.scale_, repeated.scale_)
    unweighted = SmoothClipScaler().fit(X)
    assert not np.array_equal(weighted.scale_, unweighted.scale_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_outliers_of_any_size_land_inside_the_clip(dtype):
    """Values up to the dtype's largest stay finite and inside (-clip, clip],
    the farthest at the bound, with no overflow warning; the bulk of the
    data is nearly unchanged."""
    big = np.finfo(dtype).max
    X = np.r_[_heavy_tailed(), [[big, -big], [-big, big]]].astype(dtype)
    scaler = SmoothClipScaler().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Xt = scaler.transform(X)
    assert Xt.dtype == dtype
    assert np.isfinite(Xt).all() and (np.abs(Xt) <= 3).all()
    assert_allclose(np.abs(Xt[-2:]), 3)
    robust = _robust(X.astype(np.float64))
    small = np.abs(robust) < 0.3
    assert_allclose(Xt[small], robust[small], rtol=0.01)


def test_degenerate_columns_and_missing_values():
    """A zero interquartile range falls back to half the range, a constant
    column is only centred, NaN is ignored in fit and kept in transform, and
    a column of NaN only passes through."""
    X = np.c_[
        [0.0, 0.0, 0.0, 0.0, 0.0, 4.0],
        np.full(6, 7.0),
        [1.0, np.nan, 2.0, 3.0, np.nan, 5.0],
        np.full(6, np.nan),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = SmoothClipScaler().fit(X)
        Xt = scaler.transform(X)
    assert_array_equal(scaler.scale_[:2], [2.0, 1.0])
    assert_array_equal(scaler.center_[:2], [0.0, 7.0])
    present = SmoothClipScaler().fit(X[~np.isnan(X[:, 2])][:, [2]])
    assert scaler.center_[2] == present.center_[0]
    assert scaler.scale_[2] == present.scale_[0]
    assert_array_equal(np.isnan(Xt), np.isnan(X))
    assert_array_equal(Xt[:, 1], 0.0)


def test_inverse_transform_round_trips_and_refuses_the_bound():
    X = _heavy_tailed()
    scaler = SmoothClipScaler().fit(X)
    assert_allclose(scaler.inverse_transform(scaler.transform(X)), X, rtol=1e-9)
    with pytest.raises(ValueError, match=r"inside \(-clip, clip\)"):
        scaler.inverse_transform([[3.0, 0.0]])


@pytest.mark.parametrize("quantile_range", [(75.0, 25.0), (-1.0, 50.0), (0.0, 101.0)])
def test_invalid_quantile_range(quantile_range):
    """A clear error, and no statistics left behind."""
    scaler = SmoothClipScaler(quantile_range=quantile_range)
    with pytest.raises(ValueError, match="Invalid quantile range"):
        scaler.fit([[1.0], [2.0]])
    assert not hasattr(scaler, "center_")


# The estimators' input_scaling ----------------------------------------------

ESTIMATORS = [BatchNormMLPClassifier, BatchNormMLPRegressor]


def _task_data(Estimator, seed=0):
    X = _heavy_tailed(seed)
    y = X[:, 0] + np.log(X[:, 1])
    if Estimator is BatchNormMLPClassifier:
        y = (y > 0).astype(int)
    return X, y


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_input_scaling_is_the_scaler_before_the_network(Estimator):
    """input_scaling="smooth_clip" trains and predicts as SmoothClipScaler
    (fitted with the same sample weights) in front of input_scaling=None."""
    X, y = _task_data(Estimator)
    weights = np.random.RandomState(2).uniform(0.5, 2, size=y.size)
    params = dict(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inside = Estimator(**params).fit(X, y, sample_weight=weights)
        scaler = SmoothClipScaler().fit(X, sample_weight=weights)
        outside = Estimator(input_scaling=None, **params).fit(
            scaler.transform(X), y, sample_weight=weights
        )
    assert_array_equal(inside.input_center_, scaler.center_)
    assert_array_equal(inside.input_scale_, scaler.scale_)
    X_test = _heavy_tailed(seed=1)
    assert_allclose(
        inside.predict(X_test), outside.predict(scaler.transform(X_test)), rtol=1e-12
    )
    assert outside.input_center_ is None and outside.input_scale_ is None


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_statistics_come_from_the_first_call(Estimator):
    """partial_fit and warm starts keep the first call's statistics (the
    network learned on them); switching input_scaling between calls is
    refused like any change of architecture."""
    X, y = _task_data(Estimator)
    first, later = slice(0, 100), slice(100, None)
    kwargs = {"classes": [0, 1]} if Estimator is BatchNormMLPClassifier else {}
    est = Estimator(hidden_layer_sizes=(8,), random_state=0)
    est.partial_fit(X[first], y[first], **kwargs)
    center, scale = est.input_center_.copy(), est.input_scale_.copy()
    est.partial_fit(X[later], y[later])
    assert_array_equal(est.input_center_, center)
    assert_array_equal(est.input_scale_, scale)
    assert not np.array_equal(SmoothClipScaler().fit(X).center_, center)
    est.set_params(input_scaling=None)
    with pytest.raises(ValueError, match="input_scaling"):
        est.partial_fit(X[later], y[later])
    assert_array_equal(est.input_center_, center)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_smooth_clip_of_sparse_values_equals_dense(dtype):
    """The fused kernel maps a sparse matrix's stored values (centre 0, each
    value scaled by its column's divisor) exactly as the dense map does."""
    rng = np.random.RandomState(0)
    X = (10 * rng.standard_normal((30, 5))).astype(dtype)
    X[rng.rand(*X.shape) < 0.6] = 0.0
    scale = rng.uniform(0.5, 2.0, 5)
    dense = smooth_clip(X, np.zeros(5), scale, 3.0)
    for format in ("csr", "csc"):
        sparse = smooth_clip(sp.csr_matrix(X).asformat(format), 0.0, scale, 3.0)
        assert sparse.dtype == dtype
        assert_array_equal(sparse.toarray(), dense)
