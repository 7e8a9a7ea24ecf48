"""Weight-sharing ensembles (n_members > 1) in both estimators.

The gradient through the members' adapters is checked against finite
differences in tests/test_properties.py, scikit-learn's checks run on an
ensemble of each estimator in tests/test_common.py and the ONNX export in
tests/test_onnx.py; that sparse input gives the dense model in
tests/test_embeddings.py.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import softmax
from sklearn.datasets import make_classification, make_friedman1, make_regression

from skbnnet import BatchNormMLPClassifier, BatchNormMLPRegressor
from skbnnet._ensemble import MemberAdapters
from skbnnet._heads import SoftmaxCrossEntropy
from skbnnet._network import Network, Workspace


def _networks(n_members, batch_norm=True):
    """A plain network and an ensemble with the same shared weights and
    every adapter 1: the members are copies of the plain network."""
    units = [3, 5, 4, 2]
    plain = Network(units, "tanh", SoftmaxCrossEntropy(2), batch_norm, 1e-5, "f8")
    plain.initialize(np.random.RandomState(0))
    members = MemberAdapters(n_members, units[0])
    ensemble = Network(
        units,
        "tanh",
        SoftmaxCrossEntropy(2),
        batch_norm,
        1e-5,
        "f8",
        members=members,
    )
    ensemble.params[: plain.params.size] = plain.params
    ensemble.views.members[:] = 1.0
    return plain, ensemble, members


@pytest.mark.parametrize("batch_norm", [True, False])
def test_members_of_one_adapter_are_the_plain_network(batch_norm):
    """With every adapter 1 the k members are k copies of the network: the
    same training loss, shared gradients, batch statistics and population
    statistics, and the same predictions."""
    plain, ensemble, _ = _networks(3, batch_norm)
    rng = np.random.RandomState(1)
    X = rng.standard_normal((7, 3))
    target = rng.randint(2, size=7)
    weights = rng.uniform(0.5, 2.0, size=7)
    weights /= weights.sum()
    n_shared = plain.params.size
    grads = {}
    workspaces = {}
    for name, network in [("plain", plain), ("ensemble", ensemble)]:
        workspaces[name] = Workspace(
            network.layer_units, 7, "f8", members=network.members
        )
        grads[name] = np.empty_like(network.params)
        loss = network.loss_and_gradient(
            X, target, weights, grads[name], workspaces[name]
        )
        grads[name + " loss"] = loss
    assert_allclose(grads["ensemble loss"], grads["plain loss"], rtol=1e-12)
    assert_allclose(grads["ensemble"][:n_shared], grads["plain"], rtol=1e-10)
    assert_allclose(workspaces["ensemble"].batch_stats, workspaces["plain"].batch_stats)
    assert_allclose(ensemble.infer(X), plain.infer(X), rtol=1e-12)
    if batch_norm:
        sample_weight = weights * 7
        plain.set_population_stats(X, sample_weight, 4)
        ensemble.set_population_stats(X, sample_weight, 4)
        assert_allclose(ensemble.stats, plain.stats, rtol=1e-12)


def test_predictions_average_the_members_logits():
    """predict_proba is the softmax of the members' mean logits, and the
    members, started from different signs, still differ after training."""
    X, y = make_classification(300, 6, n_informative=4, n_classes=3, random_state=0)
    model = BatchNormMLPClassifier(
        hidden_layer_sizes=(8,), n_members=4, max_iter=30, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        model.fit(X, y)
    network = model._network
    logits = network.member_outputs(network.map_inputs(X))
    assert logits.shape == (300, 4, 3)
    assert_allclose(model.predict_proba(X), softmax(logits.mean(axis=1), axis=1))
    spread = np.abs(logits - logits.mean(axis=1, keepdims=True)).mean()
    assert spread > 0.05 * np.abs(logits).mean()
    adapters = network.members.adapters(network.views.members)
    assert not np.allclose(adapters, adapters[0])


def test_warm_start_keeps_the_members_and_refuses_changes():
    """partial_fit trains the members on; changing n_members raises."""
    X, y = make_classification(200, 4, random_state=0)
    model = BatchNormMLPClassifier(hidden_layer_sizes=(4,), n_members=2)
    model.partial_fit(X, y, classes=[0, 1])
    before = model._network.views.members.copy()
    model.partial_fit(X, y)
    assert not np.array_equal(model._network.views.members, before)
    for n_members in (1, 3):
        with pytest.raises(ValueError, match="n_members"):
            model.set_params(n_members=n_members).partial_fit(X, y)


def test_inference_in_chunks_equals_one_pass(monkeypatch):
    """The members multiply the rows of the first layer's batch: predictions
    computed a chunk of rows at a time equal those of one pass."""
    X, y = make_regression(50, 3, random_state=0)
    model = BatchNormMLPRegressor(hidden_layer_sizes=(6,), n_members=4, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        model.fit(X, y)
    whole = model.predict(X, return_std=True)
    # 3 inputs times 4 members = 12 values per row: chunks of 2 rows.
    monkeypatch.setattr("skbnnet._network.EMBEDDED_CHUNK", 24)
    for chunked, one_pass in zip(model.predict(X, return_std=True), whole):
        assert_allclose(chunked, one_pass, rtol=1e-12)


def test_members_spread_grows_away_from_the_data():
    """return_std gives the members' spread, shaped like the predictions:
    larger on rows far from the training data than on the training rows;
    a single network has no spread to give."""
    X, y = make_friedman1(600, random_state=0)
    model = BatchNormMLPRegressor(n_members=4, max_iter=50, random_state=0)
    model.fit(X, y)
    y_pred, y_std = model.predict(X, return_std=True)
    assert_allclose(y_pred, model.predict(X))
    assert y_std.shape == y_pred.shape and (y_std >= 0).all()
    _, far_std = model.predict(X + 3.0, return_std=True)
    assert far_std.mean() > 2 * y_std.mean()

    two = BatchNormMLPRegressor(n_members=3, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        two.fit(X, np.c_[y, -y])
    y_pred, y_std = two.predict(X, return_std=True)
    assert y_pred.shape == y_std.shape == (600, 2)

    single = BatchNormMLPRegressor(max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match="n_members=1"):
        single.predict(X, return_std=True)
