"""skops.io persistence: a fitted model round-trips, and trusting it is explicit.

skops refuses to load types it does not know unless they are passed as
``trusted``; what it reports must be skbnnet's own classes only (numpy
arrays, scikit-learn's LabelBinarizer and Pipeline are trusted by default),
so that the list a user reviews is short and meaningful.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import (
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor

sio = pytest.importorskip("skops.io")


def _data(dtype=np.float64):
    X, y = make_classification(
        120, 6, n_informative=4, n_classes=3, class_sep=1.5, random_state=0
    )
    return X.astype(dtype), y


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        return estimator.fit(X, y)


def _own_types(untrusted):
    return all(name.split(".")[0] == "skbnnet" for name in untrusted)


CONFIGS = {
    "adam-float32": (dict(solver="adam"), np.float32),
    "sgd-nesterov-float64": (dict(solver="sgd", momentum=0.9), np.float64),
    "rmsprop-no-bn": (dict(solver="rmsprop", batch_norm=False), np.float32),
    "population-dropout": (
        dict(batch_norm_stats="population", dropout=0.2),
        np.float32,
    ),
}


@pytest.mark.parametrize("params, dtype", CONFIGS.values(), ids=CONFIGS.keys())
def test_round_trip_then_partial_fit(tmp_path, params, dtype):
    """dump/load keeps predictions bit for bit and the optimiser's state:
    partial_fit on the loaded copy equals partial_fit on the original."""
    X, y = _data(dtype)
    clf = _fit(
        BatchNormMLPClassifier(
            hidden_layer_sizes=(8, 4), max_iter=5, random_state=0, **params
        ),
        X,
        y,
    )
    path = tmp_path / "model.skops"
    sio.dump(clf, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert "skbnnet.classifier.BatchNormMLPClassifier" in untrusted
    assert _own_types(untrusted), untrusted

    loaded = sio.load(path, trusted=untrusted)
    assert type(loaded) is BatchNormMLPClassifier
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.coefs_[0].dtype == dtype
    assert loaded.get_params() == clf.get_params()

    before = [coef.copy() for coef in loaded.coefs_]
    clf.partial_fit(X, y)
    loaded.partial_fit(X, y)
    # The per-layer views are attached to the loaded parameter vector...
    assert not np.array_equal(loaded.coefs_[0], before[0])
    # ...and the optimiser's state and the random streams came along too.
    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.t_ == clf.t_


def test_untrusted_types_refused_by_default():
    """Loading without trusting skbnnet's types raises skops' error."""
    X, y = _data()
    clf = _fit(BatchNormMLPClassifier(hidden_layer_sizes=(4,), max_iter=2), X, y)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(sio.dumps(clf))


def test_pipeline_string_labels_early_stopping_and_multilabel():
    """Pipelines, string classes, early stopping and multilabel models add no
    foreign types."""
    X, y = _data(np.float32)
    labels = np.array(["cat", "dog", "eel"])[y]
    pipe = _fit(
        make_pipeline(
            StandardScaler(),
            BatchNormMLPClassifier(
                hidden_layer_sizes=(8,), max_iter=3, early_stopping=True, random_state=0
            ),
        ),
        X,
        labels,
    )
    Xm, Ym = make_multilabel_classification(80, 6, n_classes=3, random_state=0)
    multilabel = _fit(
        BatchNormMLPClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0),
        Xm,
        Ym,
    )
    for model, X_ in [(pipe, X), (multilabel, Xm)]:
        data = sio.dumps(model)
        untrusted = sio.get_untrusted_types(data=data)
        assert _own_types(untrusted), untrusted
        loaded = sio.loads(data, trusted=untrusted)
        assert_array_equal(loaded.predict(X_), model.predict(X_))
        assert_array_equal(loaded.predict_proba(X_), model.predict_proba(X_))


@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_round_trip_then_partial_fit(n_targets):
    """The regressor, its target scaling included, round-trips like the
    classifier and keeps training identically after loading."""
    X, y = make_regression(120, 5, n_targets=n_targets, random_state=0)
    X = X.astype(np.float32)
    y = 30.0 * y + 100.0
    reg = _fit(
        BatchNormMLPRegressor(
            hidden_layer_sizes=(8,), max_iter=5, learning_rate="cosine", random_state=0
        ),
        X,
        y,
    )
    data = sio.dumps(reg)
    untrusted = sio.get_untrusted_types(data=data)
    assert "skbnnet.regressor.BatchNormMLPRegressor" in untrusted
    assert _own_types(untrusted), untrusted
    loaded = sio.loads(data, trusted=untrusted)
    assert_array_equal(loaded.predict(X), reg.predict(X))
    assert_array_equal(loaded.target_scale_, reg.target_scale_)

    reg.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_array_equal(loaded.predict(X), reg.predict(X))
