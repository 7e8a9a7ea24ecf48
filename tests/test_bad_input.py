"""Bad input gets a clear error (or warning) from validation, before any
arithmetic, and a failed fit never damages the estimator.

One table, ``CASES``, drives the tests: each row builds an estimator and the
arguments of one method call from the (scaled) iris data, and names the
exception or warning expected and a phrase its message must contain.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris
from sklearn.exceptions import (
    ConvergenceWarning,
    DataConversionWarning,
    NotFittedError,
)
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import skbnnet
from skbnnet import BatchNormMLPClassifier
from skbnnet._compat import InvalidParameterError

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)
CLASSES = np.unique(Y_IRIS)

# The numerics: an error raised from one of these came from arithmetic on
# unvalidated input, not from validation.
NUMERIC_MODULES = {
    str(Path(skbnnet.__file__).parent / f"{name}.py")
    for name in ("_layers", "_loss", "_network", "_optimizers")
}


def _clf(**params):
    """A small, fast configuration."""
    defaults = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    return BatchNormMLPClassifier(**{**defaults, **params})


def _fitted(X=X_IRIS, y=Y_IRIS):
    return _clf().fit(X, y)


def _with(X, value):
    """A copy of X with one entry replaced."""
    X = X.astype(object if isinstance(value, str) or value is None else float)
    X[3, 1] = value
    return X


def _frame(X, columns):
    return pd.DataFrame(X, columns=list(columns))


# Each builder takes (X, y) and returns (estimator, args, kwargs) of the call.
def _fit(X_fn=lambda X: X, y_fn=lambda y: y, **params):
    return lambda X, y: (_clf(**params), (X_fn(X), y_fn(y)), {})


def _partial_fit(X_fn=lambda X: X, y_fn=lambda y: y, **kwargs):
    return lambda X, y: (_clf(), (X_fn(X), y_fn(y)), kwargs)


def _predict(X_fn):
    return lambda X, y: (_fitted(X, y), (X_fn(X),), {})


def _few_per_class(X, y):
    """Two rows per class: a 10 % stratified split cannot hold out 3 rows."""
    rows = np.r_[0:2, 50:52, 100:102]
    return X[rows], y[rows]


def _multilabel_y(y):
    return np.column_stack([y == 0, y == 1, y == 2]).astype(int)


# An open bound is tested at the bound itself (0 for "(0.0, inf)"): the values
# beyond it take the same path.
INVALID_PARAMETERS = [
    ("alpha", -1.0, "must be a float in the range [0.0, inf)"),
    ("dropout", -0.1, "must be a float in the range [0.0, 1.0)"),
    ("dropout", 1.0, "must be a float in the range [0.0, 1.0)"),
    ("hidden_layer_sizes", 0, "must be an array-like or an int in the range [1, inf)"),
    ("solver", "lbfgs", "must be a str among"),
    ("activation", "softplus", "must be a str among"),
    ("learning_rate", "cyclic", "must be a str among"),
    ("batch_norm_stats", "batch", "must be a str among"),
    ("validation_fraction", 0.0, "must be a float in the range (0.0, 1.0)"),
    ("validation_fraction", 1.0, "must be a float in the range (0.0, 1.0)"),
    ("batch_norm_momentum", 0.0, "must be a float in the range (0.0, 1.0)"),
    ("batch_norm_momentum", 1.0, "must be a float in the range (0.0, 1.0)"),
    ("epsilon", 0.0, "must be a float in the range (0.0, inf)"),
    ("batch_norm_epsilon", 0.0, "must be a float in the range (0.0, inf)"),
    ("learning_rate_init", 0.0, "must be a float in the range (0.0, inf)"),
    ("power_t", -0.5, "must be a float in the range [0.0, inf)"),
    ("tol", -1e-4, "must be a float in the range [0.0, inf)"),
    ("momentum", 1.5, "must be a float in the range [0.0, 1.0]"),
    ("beta_1", 1.0, "must be a float in the range [0.0, 1.0)"),
    ("beta_2", 1.0, "must be a float in the range [0.0, 1.0)"),
    ("max_iter", 0, "must be an int in the range [1, inf)"),
    ("max_iter", 10.0, "must be an int in the range [1, inf)"),
    ("batch_size", 0, "must be a str among {'auto'} or an int in the range [1, inf)"),
    ("batch_size", "full", "must be a str among {'auto'} or an int"),
    ("n_iter_no_change", 0, "must be an int in the range [1, inf) or a float"),
    ("early_stopping", "yes", "must be an instance of 'bool'"),
]

CASES = [
    # Non-finite X, at fit, partial_fit and predict.
    pytest.param(
        _fit(lambda X: _with(X, np.nan)),
        "fit",
        ValueError,
        "Input X contains NaN",
        id="fit-X-nan",
    ),
    pytest.param(
        _fit(lambda X: _with(X, np.inf)),
        "fit",
        ValueError,
        "Input X contains infinity",
        id="fit-X-inf",
    ),
    pytest.param(
        _fit(lambda X: _with(X, -np.inf)),
        "fit",
        ValueError,
        "Input X contains infinity",
        id="fit-X-neginf",
    ),
    pytest.param(
        _partial_fit(lambda X: _with(X, np.nan), classes=CLASSES),
        "partial_fit",
        ValueError,
        "Input X contains NaN",
        id="partial_fit-X-nan",
    ),
    pytest.param(
        _partial_fit(lambda X: _with(X, np.inf), classes=CLASSES),
        "partial_fit",
        ValueError,
        "Input X contains infinity",
        id="partial_fit-X-inf",
    ),
    pytest.param(
        _predict(lambda X: _with(X, np.nan)),
        "predict",
        ValueError,
        "Input X contains NaN",
        id="predict-X-nan",
    ),
    pytest.param(
        _predict(lambda X: _with(X, np.inf)),
        "predict_proba",
        ValueError,
        "Input X contains infinity",
        id="predict_proba-X-inf",
    ),
    # Empty, 1-D and 3-D X.
    pytest.param(
        _fit(lambda X: X[:0], lambda y: y[:0]),
        "fit",
        ValueError,
        "Found array with 0 sample(s)",
        id="fit-X-0-rows",
    ),
    pytest.param(
        _fit(lambda X: X[:, :0]),
        "fit",
        ValueError,
        "Found array with 0 feature(s)",
        id="fit-X-0-columns",
    ),
    pytest.param(
        _predict(lambda X: X[:0]),
        "predict",
        ValueError,
        "Found array with 0 sample(s)",
        id="predict-X-0-rows",
    ),
    pytest.param(
        _fit(lambda X: X[:, 0]),
        "fit",
        ValueError,
        "Expected 2D array, got 1D array",
        id="fit-X-1d",
    ),
    pytest.param(
        _predict(lambda X: X[0]),
        "predict",
        ValueError,
        "Expected 2D array, got 1D array",
        id="predict-X-1d",
    ),
    pytest.param(
        _fit(lambda X: X.reshape(-1, 2, 2)),
        "fit",
        ValueError,
        "Found array with dim 3",
        id="fit-X-3d",
    ),
    pytest.param(
        _predict(lambda X: X.reshape(-1, 2, 2)),
        "predict",
        ValueError,
        "Found array with dim 3",
        id="predict-X-3d",
    ),
    # Strings and object arrays.
    pytest.param(
        _fit(lambda X: np.full(X.shape, "a")),
        "fit",
        ValueError,
        "could not convert string to float",
        id="fit-X-strings",
    ),
    pytest.param(
        _predict(lambda X: np.full(X.shape, "a")),
        "predict",
        ValueError,
        "could not convert string to float",
        id="predict-X-strings",
    ),
    pytest.param(
        _fit(lambda X: _with(X, "a")),
        "fit",
        ValueError,
        "could not convert string to float",
        id="fit-X-object-with-string",
    ),
    pytest.param(
        _fit(lambda X: _with(X, None)),
        "fit",
        ValueError,
        "Input X contains NaN",
        id="fit-X-object-with-None",
    ),
    # Bad targets.
    pytest.param(
        _fit(y_fn=lambda y: np.where(np.arange(len(y)) == 3, np.nan, y)),
        "fit",
        ValueError,
        "Input y contains NaN",
        id="fit-y-nan",
    ),
    pytest.param(
        _fit(y_fn=lambda y: y + np.linspace(0, 0.5, len(y))),
        "fit",
        ValueError,
        "Unknown label type",
        id="fit-y-continuous",
    ),
    pytest.param(
        _fit(y_fn=lambda y: y[:-1]),
        "fit",
        ValueError,
        "inconsistent numbers of samples",
        id="fit-y-wrong-length",
    ),
    pytest.param(
        _fit(y_fn=lambda y: np.zeros_like(y)),
        "fit",
        ValueError,
        "at least 2 classes in the data, but the data contains only one class",
        id="fit-y-single-class",
    ),
    pytest.param(
        _fit(y_fn=lambda y: y[:, np.newaxis]),
        "fit",
        DataConversionWarning,
        "A column-vector y was passed when a 1d array was expected",
        id="fit-y-column-vector",
    ),
    # Prediction data unlike the training data.
    pytest.param(
        _predict(lambda X: X[:, :3]),
        "predict",
        ValueError,
        "X has 3 features, but BatchNormMLPClassifier is expecting 4",
        id="predict-wrong-n-features",
    ),
    pytest.param(
        lambda X, y: (_fitted(_frame(X, "abcd"), y), (_frame(X, "abce"),), {}),
        "predict",
        ValueError,
        "The feature names should match those that were passed during fit",
        id="predict-other-column-names",
    ),
    # partial_fit and its classes.
    pytest.param(
        _partial_fit(),
        "partial_fit",
        ValueError,
        "classes must be passed on the first call to partial_fit",
        id="partial_fit-no-classes",
    ),
    pytest.param(
        _partial_fit(classes=[0, 1]),
        "partial_fit",
        ValueError,
        "`y` has classes not in `self.classes_`",
        id="partial_fit-label-not-in-classes",
    ),
    pytest.param(
        lambda X, y: (_clf(early_stopping=True), (X, y), {"classes": CLASSES}),
        "partial_fit",
        ValueError,
        "partial_fit does not support early_stopping=True",
        id="partial_fit-early-stopping",
    ),
    # Sample weights.
    pytest.param(
        lambda X, y: (_clf(), (X, y), {"sample_weight": -np.ones(len(y))}),
        "fit",
        ValueError,
        "Negative values in data passed to `sample_weight`",
        id="fit-negative-sample-weight",
    ),
    pytest.param(
        lambda X, y: (_clf(), (X, y), {"sample_weight": np.zeros(len(y))}),
        "fit",
        ValueError,
        # scikit-learn >= 1.8 says it first; before, skbnnet's own check does.
        "Sample weights must contain at least one non-zero number",
        id="fit-zero-sample-weight",
    ),
    # Invalid hyperparameters: sklearn's message lists what is allowed.
    *[
        pytest.param(
            _fit(**{name: value}),
            "fit",
            InvalidParameterError,
            f"The '{name}' parameter of BatchNormMLPClassifier {phrase}",
            id=f"{name}={value!r}",
        )
        for name, value, phrase in INVALID_PARAMETERS
    ],
    # The "array-like" constraint does not look inside the array.
    *[
        pytest.param(
            _fit(hidden_layer_sizes=sizes),
            "fit",
            ValueError,
            "hidden_layer_sizes must contain positive integers",
            id=f"hidden_layer_sizes={sizes}",
        )
        for sizes in [(0,), (8, -2), (4.5,), (4.0,), (True,)]
    ],
    # Cross-parameter rules checked in fit.
    pytest.param(
        lambda X, y: (_clf(early_stopping=True), _few_per_class(X, y), {}),
        "fit",
        ValueError,
        "early_stopping=True could not hold out a stratified",
        id="early_stopping-too-few-per-class",
    ),
    pytest.param(
        lambda X, y: (
            _clf(early_stopping=True),
            (X[::15], _multilabel_y(y[::15])),
            {},
        ),
        "fit",
        ValueError,
        "The validation set is too small",
        id="early_stopping-multilabel-one-validation-row",
    ),
    pytest.param(
        _fit(batch_size=1000),
        "fit",
        UserWarning,
        "It is clipped to 150",
        id="batch_size-larger-than-data",
    ),
]

FIT_ERROR_CASES = [
    case
    for case in CASES
    if case.values[1] in ("fit", "partial_fit")
    and issubclass(case.values[2], Exception)
]
# After a fit, partial_fit needs no classes: that case is not a failure there.
REFIT_ERROR_CASES = [
    case for case in FIT_ERROR_CASES if case.id != "partial_fit-no-classes"
]


def _numeric_frames(excinfo):
    return [entry for entry in excinfo.traceback if str(entry.path) in NUMERIC_MODULES]


@pytest.mark.parametrize("build, method, expected, phrase", CASES)
def test_bad_input(build, method, expected, phrase):
    """Each bad input gets its clear error, raised by validation before any
    arithmetic, or its warning after which the call still works."""
    estimator, args, kwargs = build(X_IRIS, Y_IRIS)
    call = getattr(estimator, method)
    if issubclass(expected, Warning):
        with pytest.warns(expected, match=phrase):
            result = call(*args, **kwargs)
        assert result is estimator
        proba = estimator.predict_proba(X_IRIS)
        assert np.isfinite(proba).all()
        return
    with pytest.raises(expected) as excinfo:
        call(*args, **kwargs)
    assert phrase in str(excinfo.value)
    assert _numeric_frames(excinfo) == []


@pytest.mark.parametrize("build, method, expected, phrase", FIT_ERROR_CASES)
def test_failed_fit_leaves_fresh_estimator_unfitted(build, method, expected, phrase):
    """A failed fit or partial_fit on a fresh estimator leaves it unfitted,
    with no fitted attribute behind."""
    estimator, args, kwargs = build(X_IRIS, Y_IRIS)
    before = set(vars(estimator))
    with pytest.raises(expected):
        getattr(estimator, method)(*args, **kwargs)
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    assert set(vars(estimator)) == before


@pytest.mark.parametrize("build, method, expected, phrase", REFIT_ERROR_CASES)
def test_failed_fit_keeps_previous_model(build, method, expected, phrase):
    """A failed fit on a fitted estimator leaves the previous model working
    (same predictions, same fitted attributes) and trainable."""
    estimator, args, kwargs = build(X_IRIS, Y_IRIS)
    invalid_params = estimator.get_params()
    previous = _fitted()
    proba = previous.predict_proba(X_IRIS)
    attributes = {
        name: value
        for name, value in vars(previous).items()
        if name.endswith("_") and not name.startswith("_")
    }
    valid_params = previous.get_params()
    previous.set_params(**invalid_params)
    with pytest.raises(expected):
        getattr(previous, method)(*args, **kwargs)
    check_is_fitted(previous)
    assert_array_equal(previous.predict_proba(X_IRIS), proba)
    for name, value in attributes.items():
        assert getattr(previous, name) is value, name
    # It can still learn: one more epoch changes the model.
    previous.set_params(**valid_params).partial_fit(X_IRIS, Y_IRIS)
    assert not np.array_equal(previous.predict_proba(X_IRIS), proba)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "params",
    [
        dict(),
        dict(batch_norm_stats="population"),
        dict(solver="sgd"),
        dict(batch_norm=False),
        dict(batch_norm=False, solver="sgd"),
        dict(batch_norm=False, input_scaling=None),
        dict(batch_norm=False, solver="sgd", input_scaling=None),
    ],
    ids=str,
)
def test_huge_features_stay_finite(dtype, params):
    """Features of magnitude 1e30 let no overflow RuntimeWarning escape and
    give finite probabilities summing to one. The input scaling or batch
    norm absorbs the scale; with neither, the first loss is astronomical,
    which the divergence guard reports with advice to scale the features."""
    X = (X_IRIS * 1e30).astype(dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("always", ConvergenceWarning)
        clf = _clf(**params).fit(X, Y_IRIS)
        for X_predict in (X, X[:1], -X):
            proba = clf.predict_proba(X_predict)
            assert np.isfinite(proba).all()
            assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    diverged = [w for w in caught if "diverged" in str(w.message)]
    if params.get("batch_norm", True) or params.get("input_scaling", True):
        assert not diverged
        assert np.isfinite(clf.loss_)
    else:
        assert len(diverged) == 1
        assert "scale the features" in str(diverged[0].message)
    assert all(np.isfinite(coef).all() for coef in clf.coefs_)
