"""SmoothClipScaler: robust scaling, then a smooth clip."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import RobustScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbnnet.preprocessing import SmoothClipScaler


@parametrize_with_checks([SmoothClipScaler(), SmoothClipScaler(clip=1.0)])
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


def _heavy_tailed(seed=0):
    rng = np.random.RandomState(seed)
    return np.c_[rng.standard_normal(200), rng.lognormal(0, 2, 200)]


def test_robust_scaling_then_the_smooth_clip():
    """The output is RobustScaler's, mapped through x / sqrt(1 + (x/c)^2)."""
    X = _heavy_tailed()
    robust = RobustScaler().fit_transform(X)
    for clip in (1.0, 3.0):
        assert_allclose(
            SmoothClipScaler(clip=clip).fit_transform(X),
            robust / np.sqrt(1 + (robust / clip) ** 2),
            rtol=1e-12,
        )


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
    small = np.abs(RobustScaler().fit_transform(X.astype(np.float64))) < 0.3
    robust = RobustScaler().fit_transform(X.astype(np.float64))
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
