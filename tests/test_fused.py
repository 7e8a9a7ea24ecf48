"""The compiled kernels of skbnnet._fused against NumPy references.

Sizes are chosen so that the vectorised main loop and its scalar remainder both
run (37 units; 1000 parameters).
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import log_softmax, softmax

from skbnnet import _fused

DTYPES = [np.float32, np.float64]


def _tol(dtype):
    # atol for entries that cancel to near zero (centred values, gradients).
    tol = 1e-5 if dtype == np.float32 else 1e-12
    return {"rtol": tol, "atol": tol}


def _vectors(dtype, count, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for _ in range(count)]


def _batch(dtype, m=13, u=37, seed=0):
    rng = np.random.default_rng(seed)
    Z = (3 + 2 * rng.standard_normal((m, u))).astype(dtype)
    weights = rng.uniform(0.1, 1, m)
    return Z, (weights / weights.sum()).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_step(dtype):
    params, grads, ms, vs = _vectors(dtype, 4)
    vs = np.abs(vs)
    expected_ms = 0.9 * ms + grads
    expected_vs = 0.99 * vs + grads * grads
    expected = params - 0.01 * expected_ms / (np.sqrt(expected_vs) + 1e-3)
    _fused.adam_step(params, grads, ms, vs, 0.9, 0.99, 0.01, 1e-3)
    assert_allclose(ms, expected_ms, **_tol(dtype))
    assert_allclose(vs, expected_vs, **_tol(dtype))
    assert_allclose(params, expected, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_rmsprop_step(dtype):
    params, grads, ss = _vectors(dtype, 3)
    ss = np.abs(ss)
    expected_ss = 0.9 * ss + 0.1 * grads**2
    expected = params - 0.01 * grads / (np.sqrt(expected_ss) + 1e-3)
    _fused.rmsprop_step(params, grads, ss, 0.9, 0.01, 1e-3)
    assert_allclose(ss, expected_ss, **_tol(dtype))
    assert_allclose(params, expected, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nesterov", [True, False])
def test_sgd_step(dtype, nesterov):
    params, grads, velocity = _vectors(dtype, 3)
    expected_velocity = 0.9 * velocity - 0.1 * grads
    step = 0.9 * expected_velocity - 0.1 * grads if nesterov else expected_velocity
    expected = params + step
    _fused.sgd_step(params, grads, velocity, 0.9, 0.1, nesterov)
    assert_allclose(velocity, expected_velocity, **_tol(dtype))
    assert_allclose(params, expected, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_axpy(dtype):
    y, x = _vectors(dtype, 2)
    expected = y + 0.25 * x
    _fused.axpy(y, x, 0.25)
    assert_allclose(y, expected, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_forward(dtype):
    Z, weights = _batch(dtype)
    rng = np.random.default_rng(1)
    gamma, beta = rng.standard_normal((2, Z.shape[1])).astype(dtype)
    mean, var = weights @ Z, weights @ (Z - weights @ Z) ** 2
    inv_std = 1 / np.sqrt(var + 1e-3)
    X_hat = Z.copy()
    out = np.empty_like(Z)
    stats = np.empty((3, Z.shape[1]), dtype)
    _fused.batch_norm_forward(X_hat, weights, gamma, beta, 1e-3, out, *stats)
    for got, want in zip(stats, [mean, var, inv_std]):
        assert_allclose(got, want, **_tol(dtype))
    assert_allclose(X_hat, (Z - mean) * inv_std, **_tol(dtype))
    assert_allclose(out, gamma * X_hat + beta, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_backward(dtype):
    X_hat, weights = _batch(dtype)
    rng = np.random.default_rng(1)
    gamma, inv_std = rng.uniform(0.5, 2, (2, X_hat.shape[1])).astype(dtype)
    delta = rng.standard_normal(X_hat.shape).astype(dtype)
    grad_beta, grad_gamma = delta.sum(axis=0), (delta * X_hat).sum(axis=0)
    expected = (
        gamma
        * inv_std
        * (delta - weights[:, np.newaxis] * (grad_beta + X_hat * grad_gamma))
    )
    grads = np.empty((2, X_hat.shape[1]), dtype)
    _fused.batch_norm_backward(delta, X_hat, weights, gamma, inv_std, *grads)
    assert_allclose(grads[0], grad_gamma, **_tol(dtype))
    assert_allclose(grads[1], grad_beta, **_tol(dtype))
    assert_allclose(delta, expected, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "activation, derivative",
    [
        ("identity", lambda A: np.ones_like(A)),
        ("logistic", lambda A: A * (1 - A)),
        ("tanh", lambda A: 1 - A**2),
        ("relu", lambda A: (A > 0).astype(A.dtype)),
    ],
)
def test_activation_backward(dtype, activation, derivative):
    rng = np.random.default_rng(0)
    A = rng.uniform(-1, 1, (13, 37)).astype(dtype)
    A[0, :5] = 0.0  # relu's kink: the derivative there is taken as 0
    delta = rng.standard_normal(A.shape).astype(dtype)
    expected = delta * derivative(A)
    _fused.activation_backward(delta, A, activation)
    assert_allclose(delta, expected, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_cross_entropy(dtype):
    rng = np.random.default_rng(0)
    logits = (10 * rng.standard_normal((13, 37))).astype(dtype)
    y = rng.integers(37, size=13).astype(np.intp)
    weights = rng.uniform(0.1, 1, 13).astype(dtype)
    weights /= weights.sum()
    rows = np.arange(13)
    z = logits.astype(np.float64)
    expected_loss = -weights @ log_softmax(z, axis=1)[rows, y]
    expected = softmax(z, axis=1)
    expected[rows, y] -= 1
    expected *= weights[:, np.newaxis]
    loss = _fused.softmax_cross_entropy(logits, y, weights)
    assert loss == pytest.approx(expected_loss, rel=_tol(dtype)["rtol"])
    assert_allclose(logits, expected, **_tol(dtype))


def test_softmax_cross_entropy_survives_huge_logits():
    """The max shift keeps exp from overflowing: loss and gradient finite."""
    logits = np.array([[1e30, 0.0, -1e30]], dtype=np.float32)
    loss = _fused.softmax_cross_entropy(logits, np.array([1]), np.ones(1, np.float32))
    assert loss == pytest.approx(1e30)
    assert_array_equal(logits, [[1.0, -1.0, 0.0]])


def test_sizes_are_checked():
    """Kernels index raw memory, so mismatched sizes must raise, not corrupt."""
    state = np.zeros((3, 10))
    with pytest.raises(ValueError, match="grads has 9 elements, expected 10"):
        _fused.adam_step(state[0], np.zeros(9), state[1], state[2], 0.9, 0.9, 1, 1)
    Z = np.zeros((4, 3))
    with pytest.raises(ValueError, match="gamma has 2 elements, expected 3"):
        _fused.batch_norm_forward(
            Z, np.ones(4), np.ones(2), np.ones(3), 1e-5, Z.copy(), *np.ones((3, 3))
        )
    with pytest.raises(ValueError, match=r"out has shape \(3, 4\), expected \(4, 3\)"):
        _fused.batch_norm_forward(
            Z, np.ones(4), np.ones(3), np.ones(3), 1e-5, Z.T.copy(), *np.ones((3, 3))
        )
    with pytest.raises(ValueError, match="weights has 3 elements, expected 4"):
        _fused.batch_norm_backward(Z, Z, np.ones(3), *np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"class index 3 is not in \[0, 3\)"):
        _fused.softmax_cross_entropy(Z, np.array([0, 1, 2, 3]), np.ones(4))


def test_dtypes_and_layout_are_checked():
    """Mixed precisions and strided arrays are refused rather than misread."""
    with pytest.raises(ValueError, match="dtype mismatch"):
        _fused.axpy(np.zeros(3), np.zeros(3, np.float32), 1.0)
    with pytest.raises(ValueError, match="contiguous"):
        _fused.axpy(np.zeros(6)[::2], np.zeros(3), 1.0)
