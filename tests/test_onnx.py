"""ONNX export (skbnnet.onnx): onnxruntime reproduces predict and predict_proba.

Every test runs the exported graph in a real onnxruntime session. The data are
standardised, well separated classes, so that the fitted models are confident
on most rows: a label that differs between onnxruntime and ``predict`` would
then be a wrong graph, not a near-tie settled by float32 rounding.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import (
    make_classification,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from skl2onnx import to_onnx  # noqa: E402
from skl2onnx.common.data_types import DoubleTensorType  # noqa: E402

# Importing skbnnet.onnx registers the converter with skl2onnx.
from skbnnet.onnx import fold_batch_norm  # noqa: E402

PROBA_TOL = 1e-5  # the tolerance on float32


def _data(n_classes, dtype=np.float32, n_samples=240):
    X, y = make_classification(
        n_samples,
        8,
        n_informative=5,
        n_redundant=1,
        n_classes=n_classes,
        class_sep=1.5,
        random_state=0,
    )
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X.astype(dtype), y


def _clf(**params):
    defaults = dict(
        hidden_layer_sizes=(16, 8),
        max_iter=40,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    )
    return BatchNormMLPClassifier(**{**defaults, **params})


def _fit(X, y, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        return _clf(**params).fit(X, y)


def _session(model, X, **kwargs):
    onx = to_onnx(model, X[:1], **kwargs)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        onx.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def _run(session, X):
    return session.run(None, {session.get_inputs()[0].name: X})


def _top_two_margin(proba):
    ordered = np.sort(proba, axis=1)
    return ordered[:, -1] - ordered[:, -2]


def _assert_labels_equal(onnx_labels, model, X):
    """Exact label parity; on failure, show how close the rows were to a tie."""
    expected = model.predict(X)
    differ = np.flatnonzero(onnx_labels != expected)
    margins = _top_two_margin(model.predict_proba(X))[differ]
    assert differ.size == 0, (
        f"{differ.size} labels differ (rows {differ[:10]}, top-two margins "
        f"{margins[:10]})"
    )


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "batch_norm, batch_norm_stats",
    [(False, "running"), (True, "running"), (True, "population")],
    ids=["no-bn", "bn-running", "bn-population"],
)
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_onnxruntime_matches_predict(
    activation, batch_norm, batch_norm_stats, n_classes
):
    """onnxruntime: labels exactly, probabilities to 1e-5, float32 models."""
    X, y = _data(n_classes)
    clf = _fit(
        X,
        y,
        activation=activation,
        batch_norm=batch_norm,
        batch_norm_stats=batch_norm_stats,
    )
    # The model learned something, and predicts every class: label parity is
    # not reached by predicting one class everywhere.
    assert clf.score(X, y) > 0.8
    assert set(clf.predict(X)) == set(clf.classes_)

    labels, proba = _run(_session(clf, X, options={"zipmap": False}), X)
    assert proba.dtype == np.float32
    assert proba.shape == (X.shape[0], n_classes)
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=PROBA_TOL)
    assert labels.dtype == np.int64
    _assert_labels_equal(labels, clf, X)


@pytest.mark.parametrize(
    "changed",
    [dict(activation="tanh"), dict(batch_norm=False), dict(batch_norm_epsilon=1.0)],
    ids=str,
)
@pytest.mark.parametrize("Estimator", ["classifier", "regressor"])
def test_export_follows_the_fitted_network_not_set_params(Estimator, changed):
    """set_params after fit changes the hyperparameters, not the fitted
    network, and predict keeps using the network: the graph must too (a
    graph built from the parameters used tanh after set_params(activation=
    "tanh") and was invalid after set_params(batch_norm=False))."""
    if Estimator == "classifier":
        X, y = _data(3)
        model = _fit(X, y)
        output, options = 1, {"zipmap": False}  # probabilities
        expected = model.predict_proba(X)
    else:
        X, y = _regression_data(1)
        model = BatchNormMLPRegressor((16, 8), max_iter=40, random_state=0).fit(X, y)
        output, options = 0, None
        expected = model.predict(X)
    model.set_params(**changed)
    assert_allclose(
        (model.predict_proba if Estimator == "classifier" else model.predict)(X),
        expected,
    )
    got = _run(_session(model, X, options=options), X)[output]
    scale = 1.0 if Estimator == "classifier" else np.abs(y).max()
    assert_allclose(got.reshape(expected.shape) / scale, expected / scale, atol=1e-5)


def test_pipeline_with_scaler_and_zipmap():
    """to_onnx(pipeline, X[:1]) works for StandardScaler -> classifier.

    The raw features have very different scales, so the scaler step matters;
    the default zipmap output is a list of {class: probability} dicts.
    """
    X, y = _data(3)
    X = X * np.logspace(-2, 3, X.shape[1], dtype=np.float32) + 7.0
    pipe = make_pipeline(StandardScaler(), _clf())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)

    labels, proba = _run(_session(pipe, X, options={"zipmap": False}), X)
    assert_allclose(proba, pipe.predict_proba(X), rtol=0, atol=PROBA_TOL)
    _assert_labels_equal(labels, pipe, X)

    labels, dicts = _run(_session(pipe, X), X)
    assert_array_equal(labels, pipe.predict(X))
    assert set(dicts[0]) == set(pipe.classes_.tolist())
    table = np.array([[row[c] for c in pipe.classes_] for row in dicts])
    assert_allclose(table, pipe.predict_proba(X), rtol=0, atol=PROBA_TOL)


@pytest.mark.parametrize(
    "classes",
    [np.array(["cat", "dog", "eel"]), np.array([-5, 3, 40]), np.array([1.0, 2.0, 4.0])],
    ids=["str", "int", "float"],
)
def test_class_labels(classes):
    """String classes come out as strings, numeric ones as int64 values."""
    X, y = _data(3)
    clf = _fit(X, classes[y])
    labels, _ = _run(_session(clf, X, options={"zipmap": False}), X)
    if classes.dtype.kind == "U":
        assert labels.dtype == object
        assert_array_equal(labels.astype(str), clf.predict(X))
    else:
        assert labels.dtype == np.int64
        assert_array_equal(labels, clf.predict(X).astype(np.int64))


def test_binary_boolean_classes():
    """Boolean targets export their labels as 0/1 int64."""
    X, y = _data(2)
    clf = _fit(X, y == 1)
    labels, proba = _run(_session(clf, X, options={"zipmap": False}), X)
    assert_array_equal(labels, clf.predict(X).astype(np.int64))
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=PROBA_TOL)


def test_options_nocl_and_output_class_labels():
    """nocl exports class indices; output_class_labels adds the classes."""
    X, y = _data(3)
    clf = _fit(X, np.array(["a", "b", "c"])[y])
    labels, _ = _run(_session(clf, X, options={"zipmap": False, "nocl": True}), X)
    assert_array_equal(labels, np.searchsorted(clf.classes_, clf.predict(X)))

    session = _session(clf, X, options={"zipmap": False, "output_class_labels": True})
    labels, _, class_labels = _run(session, X)
    assert_array_equal(class_labels.astype(str), clf.classes_)
    assert_array_equal(labels.astype(str), clf.predict(X))


def test_multilabel():
    """Multilabel models export logistic outputs and proba > 0.5 indicators."""
    X, Y = make_multilabel_classification(200, 8, n_classes=4, random_state=0)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    clf = _fit(X, Y, hidden_layer_sizes=(16,))
    assert clf.out_activation_ == "logistic"
    expected_proba = clf.predict_proba(X)

    labels, proba = _run(_session(clf, X, options={"zipmap": False}), X)
    assert_allclose(proba, expected_proba, rtol=0, atol=PROBA_TOL)
    assert labels.dtype == np.int64
    assert labels.shape == Y.shape
    differ = labels != clf.predict(X)
    assert not differ.any(), (
        f"{differ.sum()} indicators differ; their probabilities' distances "
        f"to 0.5: {np.abs(expected_proba[differ] - 0.5)}"
    )
    assert 0.2 < labels.mean() < 0.8


def test_float64_model_double_and_float_graphs():
    """A float64 model: a double graph reproduces it to rounding error, a
    float graph (float32 input, as skl2onnx does) to float32 precision."""
    X, y = _data(3, dtype=np.float64)
    clf = _fit(X, y)
    assert clf.coefs_[0].dtype == np.float64

    labels, proba = _run(_session(clf, X, options={"zipmap": False}), X)
    assert proba.dtype == np.float64
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=1e-12)
    _assert_labels_equal(labels, clf, X)

    X32 = X.astype(np.float32)
    labels, proba = _run(_session(clf, X32, options={"zipmap": False}), X32)
    assert proba.dtype == np.float32
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=PROBA_TOL)
    _assert_labels_equal(labels, clf, X)


def test_initial_types_double_for_float32_model():
    """initial_types chooses the graph's dtype, whatever the model's."""
    X, y = _data(2)
    clf = _fit(X, y)
    session = _session(
        clf,
        X,
        initial_types=[("features", DoubleTensorType([None, X.shape[1]]))],
        options={"zipmap": False},
    )
    assert session.get_inputs()[0].name == "features"
    _, proba = _run(session, X.astype(np.float64))
    assert proba.dtype == np.float64
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=PROBA_TOL)


def test_rows_are_independent():
    """One row at a time gives the batch's outputs (no batch statistics)."""
    X, y = _data(3)
    clf = _fit(X, y)
    session = _session(clf, X, options={"zipmap": False})
    _, proba = _run(session, X)
    one_by_one = np.vstack([_run(session, X[i : i + 1])[1] for i in range(10)])
    assert_allclose(one_by_one, proba[:10], rtol=0, atol=1e-7)


def test_graph_has_batch_norm_folded():
    """The graph is MatMul + Add per layer: no BatchNormalization node, and
    the folded layers give predict_proba in float64 NumPy."""
    X, y = _data(3)
    clf = _fit(X, y, activation="tanh")
    onx = to_onnx(clf, X[:1], options={"zipmap": False})
    ops = [node.op_type for node in onx.graph.node]
    assert "BatchNormalization" not in ops
    # One Add per layer, and one in the smooth clip of the inputs.
    assert ops.count("MatMul") == ops.count("Add") - 1 == len(clf.coefs_) == 3
    assert ops.count("Tanh") == 2

    x = (X.astype(np.float64) - clf.input_center_) / clf.input_scale_
    A = 3 * x / np.sqrt(9 + x**2)
    layers = fold_batch_norm(clf)
    for W, b in layers[:-1]:
        A = np.tanh(A @ W + b)
    W, b = layers[-1]
    logits = A @ W + b
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=PROBA_TOL)


def test_unfitted_model_is_refused():
    """Converting an unfitted model raises NotFittedError, not a KeyError."""
    X, _ = _data(2)
    with pytest.raises(NotFittedError):
        to_onnx(BatchNormMLPClassifier(), X[:1])


def test_partial_fit_model_converts():
    """A model trained by partial_fit alone converts like any other."""
    X, y = _data(3)
    clf = BatchNormMLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(5):
        clf.partial_fit(X, y, classes=np.unique(y))
    labels, proba = _run(_session(clf, X, options={"zipmap": False}), X)
    assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=PROBA_TOL)
    _assert_labels_equal(labels, clf, X)


def _regression_data(n_targets):
    X, y = make_regression(
        240, 8, n_informative=5, n_targets=n_targets, noise=1.0, random_state=0
    )
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    # Targets far from unit scale, so that the folded scaling matters.
    return X, 40.0 * y + 300.0


def _assert_regression_parity(onnx_output, model, X):
    """onnxruntime's ``variable`` is predict's output to float32 precision
    relative to the targets' scale."""
    expected = model.predict(X)
    assert onnx_output.shape == (X.shape[0], model.n_outputs_)
    expected = expected.reshape(onnx_output.shape)
    scale = np.abs(model.target_mean_) + model.target_scale_
    error = np.abs(onnx_output - expected) / scale
    assert error.max() <= PROBA_TOL, error.max()


@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize(
    "batch_norm, batch_norm_stats",
    [(False, "running"), (True, "running"), (True, "population")],
    ids=["no-bn", "bn-running", "bn-population"],
)
@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_regressor_matches_predict(activation, batch_norm, batch_norm_stats, n_targets):
    """The regressor's ``variable`` output equals predict, target scaling
    folded into the output layer."""
    X, y = _regression_data(n_targets)
    reg = BatchNormMLPRegressor(
        hidden_layer_sizes=(16, 8),
        activation=activation,
        batch_norm=batch_norm,
        batch_norm_stats=batch_norm_stats,
        max_iter=100,
        batch_size=32,
        learning_rate_init=0.01,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(X, y)
    assert reg.score(X, y) > 0.5
    session = _session(reg, X)
    assert [o.name for o in session.get_outputs()] == ["variable"]
    (output,) = _run(session, X)
    assert output.dtype == np.float32
    _assert_regression_parity(output, reg, X)


@pytest.mark.parametrize(
    "loss", ["absolute_error", "huber", "quantile", "poisson"], ids=str
)
def test_regressor_losses_match_predict(loss):
    """Every loss exports: the identity links with the target scaling folded
    in, Poisson's log link as an Exp after the output layer."""
    X, y = _regression_data(2)
    if loss == "poisson":
        y = np.exp(y / np.abs(y).max(axis=0))
    reg = BatchNormMLPRegressor(
        (16, 8),
        loss=loss,
        quantile=0.7 if loss == "quantile" else None,
        max_iter=20,
        random_state=0,
    ).fit(X, y)
    (output,) = _run(_session(reg, X), X)
    _assert_regression_parity(output, reg, X)
    if loss == "poisson":
        assert (output > 0).all()


def test_regressor_pipeline_unscaled_targets_and_double():
    """StandardScaler -> regressor converts; scale_target=False and a
    float64 model in a double graph match predict too."""
    X, y = _regression_data(1)
    for dtype in [np.float32, np.float64]:
        X_ = X.astype(dtype)
        pipe = make_pipeline(
            StandardScaler(),
            BatchNormMLPRegressor(
                hidden_layer_sizes=(8,), scale_target=False, max_iter=5, random_state=0
            ),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.fit(X_, y / 300.0)
        reg = pipe[-1]
        assert_array_equal(reg.target_scale_, 1.0)
        (output,) = _run(_session(pipe, X_), X_)
        assert output.dtype == dtype
        atol = 1e-12 if dtype == np.float64 else PROBA_TOL
        assert_allclose(output.ravel(), pipe.predict(X_), rtol=0, atol=atol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_smooth_clip_scaler_exports_outliers_and_nan(dtype):
    """SmoothClipScaler alone: onnxruntime gives transform's values, far
    outliers (up to the dtype's largest) at +-clip and NaN as NaN."""
    from skbnnet.preprocessing import SmoothClipScaler

    rng = np.random.RandomState(0)
    X = np.c_[rng.standard_normal(100), rng.lognormal(0, 2, 100)].astype(dtype)
    scaler = SmoothClipScaler(clip=2.0).fit(X)
    big = np.finfo(dtype).max
    X_test = np.r_[X, [[big, -big], [np.nan, 1.0]]].astype(dtype)
    (onnx_out,) = _run(_session(scaler, X_test), X_test)
    assert onnx_out.dtype == dtype
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(onnx_out, scaler.transform(X_test), rtol=tolerance, atol=tolerance)
    assert_allclose(onnx_out[-2], [2.0, -2.0])
    assert np.isnan(onnx_out[-1, 0])


def test_smooth_clip_scaler_in_a_pipeline_matches_predict():
    """SmoothClipScaler then the classifier, as one graph."""
    from skbnnet.preprocessing import SmoothClipScaler

    X, y = _data(3)
    X[::7, 0] *= 1e6  # outliers, clipped before the network
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        model = make_pipeline(SmoothClipScaler(), _clf(input_scaling=None)).fit(X, y)
    label, proba = _run(_session(model, X, options={"zipmap": False}), X)
    assert_allclose(proba, model.predict_proba(X), rtol=1e-5, atol=1e-6)
    _assert_labels_equal(label, model, X)


def _assert_parity(model, X):
    """A classifier's graph gives predict_proba and predict, a regressor's
    predict."""
    if isinstance(model, BatchNormMLPClassifier):
        outputs = _run(_session(model, X, options={"zipmap": False}), X)
        assert_allclose(outputs[1], model.predict_proba(X), atol=PROBA_TOL)
        _assert_labels_equal(outputs[0], model, X)
    else:
        (output,) = _run(_session(model, X), X)
        _assert_regression_parity(output, model, X)


@pytest.mark.parametrize("Estimator", ["classifier", "regressor"])
def test_input_scaling_exports_before_the_first_layer(Estimator):
    """The estimator's own smooth clip is in the graph: outliers far beyond
    the training data (clipped, not overflowing) give predict's outputs, and
    input_scaling=None adds no node."""
    X, y = _data(3)
    X[::7, 0] *= 1e6
    far = np.zeros((1, X.shape[1]), dtype=X.dtype)
    far[0, :2] = 3e38, -3e38
    X_test = np.r_[X, far]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        if Estimator == "classifier":
            model = _clf().fit(X, y)
        else:
            model = BatchNormMLPRegressor((16,), random_state=0).fit(X, y)
    assert np.abs(model.input_scale_).max() < 1e6
    _assert_parity(model, X_test)
    plain = model.set_params(input_scaling=None).fit(X, y)
    ops = [node.op_type for node in to_onnx(plain, X[:1]).graph.node]
    assert "Sub" not in ops and "Sqrt" not in ops


@pytest.mark.parametrize("Estimator", ["classifier", "regressor"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_periodic_embedding_exports_before_the_first_layer(Estimator, dtype):
    """numeric_embedding="periodic" exports as Gather, Mul, Add, Cos and
    Concat before the first layer and reproduces predict, in the model's
    own dtype; a binary column is passed through, not embedded."""
    X, y = _data(3, dtype=dtype)
    X[:, 1] = X[:, 1] > 0
    params = dict(numeric_embedding="periodic", n_frequencies=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        if Estimator == "classifier":
            model = _clf(**params).fit(X, y)
        else:
            model = BatchNormMLPRegressor((16,), random_state=0, **params).fit(X, y)
    embedding = model._network.embedding
    assert 1 not in embedding.columns
    assert model.coefs_[0].shape[0] == X.shape[1] + 3 * (X.shape[1] - 1)
    ops = [node.op_type for node in to_onnx(model, X[:1]).graph.node]
    assert {"Gather", "Cos", "Concat"} <= set(ops)
    _assert_parity(model, X)


@pytest.mark.parametrize("Estimator", ["classifier", "regressor"])
@pytest.mark.parametrize("hidden", [(), (16,), (16, 8, 4)], ids=str)
@pytest.mark.parametrize("embedded", [False, True])
def test_ensemble_members_export_as_one_network(Estimator, hidden, embedded):
    """n_members exports as one network: the first layer of every member
    side by side, Reshape around the shared layers, and the members'
    average in the output layer, reproducing predict (float and double)."""
    params = dict(
        hidden_layer_sizes=hidden,
        n_members=3,
        numeric_embedding="periodic" if embedded else None,
        n_frequencies=2,
    )
    for dtype in (np.float32, np.float64):
        X, y = _data(3, dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning
            if Estimator == "classifier":
                model = _clf(**params).fit(X, y)
            else:
                model = BatchNormMLPRegressor(random_state=0, **params).fit(X, y)
        members = model._network.member_outputs(X)
        # The members differ: the average is not any one of them.
        assert np.abs(members[:, 0] - members[:, 1]).max() > 1e-3
        ops = [node.op_type for node in to_onnx(model, X[:1]).graph.node]
        assert ops.count("Reshape") == 2 * max(0, len(hidden) - 1)
        _assert_parity(model, X)
