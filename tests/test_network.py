"""Tests of the pure numerics: layers, losses and the network."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skbnnet._fused import batch_norm_backward, batch_norm_forward
from skbnnet._heads import LogisticCrossEntropy, SoftmaxCrossEntropy
from skbnnet._layers import dropout_mask
from skbnnet._network import Network, Workspace
from skbnnet._optimizers import SGDOptimizer


def _make_network(
    activation="tanh", batch_norm=True, out="softmax", units=(5, 6, 4, 3)
):
    head = (SoftmaxCrossEntropy if out == "softmax" else LogisticCrossEntropy)(
        units[-1]
    )
    network = Network(list(units), activation, head, batch_norm, 1e-5, np.float64)
    network.initialize(np.random.RandomState(0))
    rng = np.random.RandomState(1)
    # Move gamma and the shifts off their initial values so that every
    # parameter's gradient is exercised.
    network.params += 0.1 * rng.standard_normal(network.params.shape)
    return network


def _batch(network, n_rows=7, seed=2):
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n_rows, network.layer_units[0]))
    n_outputs = network.layer_units[-1]
    if network.out_activation == "softmax":
        target = rng.randint(n_outputs, size=n_rows)
    else:
        target = rng.randint(2, size=(n_rows, n_outputs)).astype(float)
    sample_weight = rng.uniform(0.5, 2.0, size=n_rows)
    return X, target, sample_weight


def _loss(network, X, target, sample_weight, alpha, dropout, grads=None):
    # A fresh generator per call draws the same (fixed) dropout mask.
    workspace = Workspace(
        network.layer_units, X.shape[0], X.dtype, dropout, np.random.default_rng(0)
    )
    if grads is None:
        grads = np.empty_like(network.params)
    weight_sum = sample_weight.sum()
    return network.loss_and_gradient(
        X, target, sample_weight / weight_sum, grads, workspace, alpha / weight_sum
    )


def _bn_forward(Z, weights, gamma, beta, epsilon, out):
    """Run the batch-norm kernel; return its mean, variance and inv_std."""
    stats = np.empty((3, Z.shape[1]), dtype=Z.dtype)
    batch_norm_forward(Z, weights, gamma, beta, epsilon, out, *stats)
    return stats


def test_l2_penalty_term():
    """The penalty is alpha / (2 * batch weight sum) * ||W||^2 on weights only."""
    network = _make_network()
    X, target, sample_weight = _batch(network)
    without = _loss(network, X, target, sample_weight, 0.0, 0.0)
    with_penalty = _loss(network, X, target, sample_weight, 2.0, 0.0)
    squared = sum(float((coef**2).sum()) for coef in network.views.coefs)
    expected = 2.0 / (2 * sample_weight.sum()) * squared
    assert with_penalty - without == pytest.approx(expected, rel=1e-12)


def test_batch_norm_forward_normalises_and_weights():
    """Training-mode output before gamma/beta has mean 0 and variance 1."""
    rng = np.random.RandomState(0)
    Z = 3.0 + 5.0 * rng.standard_normal((50, 4))
    m = Z.shape[0]
    out = np.empty_like(Z)
    gamma, beta = np.ones(4), np.zeros(4)
    mean, var, _ = _bn_forward(Z.copy(), np.full(m, 1 / m), gamma, beta, 0, out)
    assert_allclose(mean, Z.mean(axis=0))
    assert_allclose(var, Z.var(axis=0))
    assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    assert_allclose(out.var(axis=0), 1)


def test_batch_norm_integer_weights_equal_repeated_rows():
    """Weighted statistics equal those of the rows repeated."""
    rng = np.random.RandomState(0)
    Z = rng.standard_normal((6, 3))
    counts = np.array([1, 3, 0, 2, 1, 1])
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    out_weighted = np.empty_like(Z)
    stats_w = _bn_forward(
        Z.copy(), counts / counts.sum(), gamma, beta, 1e-5, out_weighted
    )
    Z_rep = np.repeat(Z, counts, axis=0)
    out_rep = np.empty_like(Z_rep)
    n = Z_rep.shape[0]
    stats_r = _bn_forward(Z_rep.copy(), np.full(n, 1 / n), gamma, beta, 1e-5, out_rep)
    for a, b in zip(stats_w, stats_r):
        assert_allclose(a, b)
    assert_allclose(np.repeat(out_weighted, counts, axis=0), out_rep)


def test_batch_norm_backward_matches_finite_differences():
    """The fused backward formula is the derivative of the forward pass."""
    rng = np.random.RandomState(0)
    m, units = 8, 3
    Z = rng.standard_normal((m, units))
    weights = rng.uniform(0.1, 1, m)
    weights /= weights.sum()
    gamma, beta = rng.standard_normal(units), rng.standard_normal(units)
    R = rng.standard_normal((m, units))

    def objective(Z):
        out = np.empty_like(Z)
        _bn_forward(Z.copy(), weights, gamma, beta, 1e-3, out)
        return float((out * R).sum())

    X_hat = Z.copy()
    out = np.empty_like(Z)
    _, _, inv_std = _bn_forward(X_hat, weights, gamma, beta, 1e-3, out)
    delta = R.copy()
    grad_gamma, grad_beta = np.empty(units), np.empty(units)
    batch_norm_backward(delta, X_hat, weights, gamma, inv_std, grad_gamma, grad_beta)
    numeric = np.empty_like(Z)
    for idx in np.ndindex(Z.shape):
        shifted = Z.copy()
        shifted[idx] += 1e-6
        upper = objective(shifted)
        shifted[idx] -= 2e-6
        numeric[idx] = (upper - objective(shifted)) / 2e-6
    assert_allclose(delta, numeric, rtol=1e-6, atol=1e-8)
    assert_allclose(grad_beta, R.sum(axis=0))
    assert_allclose(grad_gamma, (R * X_hat).sum(axis=0))


def test_batch_norm_of_one_row_is_finite():
    """A batch of a single row normalises to zero instead of NaN."""
    Z = np.array([[1.0, -2.0, 3.0]])
    out = np.empty_like(Z)
    beta = np.array([0.5, 0.0, -0.5])
    _bn_forward(Z, np.ones(1), np.ones(3), beta, 1e-5, out)
    assert_array_equal(out, beta[np.newaxis])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_mask(dtype):
    """Inverted dropout keeps 1 - rate of the units and scales them up."""
    mask = np.empty((200, 100), dtype=dtype)
    dropout_mask(np.random.default_rng(0), 0.25, mask)
    assert set(np.unique(mask)) == {0, dtype(1 / 0.75)}
    assert (mask > 0).mean() == pytest.approx(0.75, abs=0.01)
    assert mask.dtype == dtype


def test_running_stats_follow_the_ema_formula():
    """Running statistics are the EMA of the batch statistics, from batch one."""
    network = _make_network()
    X, target, sample_weight = _batch(network, n_rows=10)
    workspace = Workspace(network.layer_units, 10, np.float64, 0.0)
    optimizer = SGDOptimizer(network.params, learning_rate_init=0.01)
    grads = np.empty_like(network.params)
    weights = sample_weight / sample_weight.sum()
    momentum = 0.8
    expected = None
    for _ in range(3):
        # The batch statistics of the first layer, computed directly.
        Z = X @ network.views.coefs[0]
        mean = weights @ Z
        var = weights @ (Z - mean) ** 2
        network.loss_and_gradient(X, target, weights, grads, workspace)
        optimizer.update_params(network.params, grads)
        network.update_running_stats(workspace.batch_stats, momentum)
        batch_stats = workspace.batch_stats.copy()
        assert_allclose(
            network.unpack_stats(batch_stats[: batch_stats.size // 2])[0], mean
        )
        assert_allclose(
            network.unpack_stats(batch_stats[batch_stats.size // 2 :])[0], var
        )
        if expected is None:
            expected = batch_stats
        else:
            expected = momentum * expected + (1 - momentum) * batch_stats
        assert_allclose(network.stats, expected)


def test_population_stats_merge_with_earlier_ones():
    """Population statistics merged with those of earlier rows (what
    partial_fit does) equal one pass over all the rows for the first hidden
    layer, whose inputs do not depend on other statistics, and the total
    weight adds up."""
    network = _make_network()
    X, _, sample_weight = _batch(network, n_rows=30)
    whole = _make_network()
    whole.set_population_stats(X, sample_weight, batch_size=7)
    network.set_population_stats(X[:4], sample_weight[:4], batch_size=7)
    previous = network.population_weight, network.stats.copy()
    network.set_population_stats(X[4:], sample_weight[4:], 7, previous)
    assert_allclose(network.population_weight, sample_weight.sum())
    assert_allclose(network.means[0], whole.means[0], rtol=1e-12)
    assert_allclose(network.vars[0], whole.vars[0], rtol=1e-12)


def test_network_pickle_rebuilds_views():
    """After unpickling, per-layer views still point into the flat vector."""
    network = _make_network()
    clone = pickle.loads(pickle.dumps(network))
    assert_array_equal(clone.params, network.params)
    clone.params += 1.0
    assert_array_equal(clone.views.coefs[0], network.views.coefs[0] + 1.0)
    clone.stats[:] = 7.0
    assert_array_equal(clone.means[0], 7.0)
