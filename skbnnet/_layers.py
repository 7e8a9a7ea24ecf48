"""Hidden-layer operations: activations, batch normalisation and dropout.

Pure NumPy functions working in place on preallocated arrays. They know nothing
of scikit-learn; the network module strings them together.

Batch normalisation, for a mini-batch ``Z`` of shape (m, units) and
per-sample weights ``w`` normalised to sum to one (``w_i = 1/m`` unweighted):

* training:  ``mu = w @ Z``, ``var = w @ (Z - mu)**2`` (biased),
  ``X_hat = (Z - mu) / sqrt(var + eps)``, ``Y = gamma * X_hat + beta``;
* inference: the same with stored ``mu`` and ``var`` (running or population
  statistics), i.e. ``Y = Z * scale + shift``.

Weighting the statistics is what makes an integer sample weight exactly
equivalent to repeating the row.
"""

import numpy as np
from scipy.special import expit


def inplace_identity(X):
    """Leave ``X`` unchanged (linear units)."""


def inplace_logistic(X):
    """Apply the logistic sigmoid to ``X`` in place."""
    expit(X, out=X)


def inplace_tanh(X):
    """Apply the hyperbolic tangent to ``X`` in place."""
    np.tanh(X, out=X)


def inplace_relu(X):
    """Apply the rectified linear unit to ``X`` in place."""
    np.maximum(X, 0, out=X)


ACTIVATIONS = {
    "identity": inplace_identity,
    "logistic": inplace_logistic,
    "tanh": inplace_tanh,
    "relu": inplace_relu,
}


# The derivatives are computed from the activation's *output* ``A`` (the input
# is not kept) and multiply ``delta`` in place; ``work`` is scratch space of
# the same shape, so the hot loop allocates nothing.


def inplace_identity_derivative(A, delta, work):
    """Multiply ``delta`` by the identity's derivative (one)."""


def inplace_logistic_derivative(A, delta, work):
    """Multiply ``delta`` by ``A * (1 - A)``."""
    np.subtract(1, A, out=work)
    work *= A
    delta *= work


def inplace_tanh_derivative(A, delta, work):
    """Multiply ``delta`` by ``1 - A**2``."""
    np.multiply(A, A, out=work)
    np.subtract(1, work, out=work)
    delta *= work


def inplace_relu_derivative(A, delta, work):
    """Zero ``delta`` where the unit was off (``A`` is 0 or positive)."""
    np.sign(A, out=work)
    delta *= work


DERIVATIVES = {
    "identity": inplace_identity_derivative,
    "logistic": inplace_logistic_derivative,
    "tanh": inplace_tanh_derivative,
    "relu": inplace_relu_derivative,
}


def batch_norm_forward(Z, weights, gamma, beta, epsilon, out):
    """Training-mode batch normalisation with per-sample weights.

    Parameters
    ----------
    Z : ndarray of shape (m, units)
        Pre-activations. Overwritten with the normalised ``X_hat``, which the
        backward pass needs.
    weights : ndarray of shape (m,)
        Non-negative sample weights summing to one.
    gamma, beta : ndarray of shape (units,)
        Learned scale and shift.
    epsilon : float
        Added to the variance for numerical stability; with it a batch of one
        row normalises to zero instead of dividing by zero.
    out : ndarray of shape (m, units)
        Receives ``gamma * X_hat + beta``.

    Returns
    -------
    mean, var, inv_std : ndarray of shape (units,)
        The weighted batch mean, biased weighted variance and
        ``1 / sqrt(var + epsilon)``.
    """
    mean = weights @ Z
    Z -= mean
    np.multiply(Z, Z, out=out)
    var = weights @ out
    inv_std = 1.0 / np.sqrt(var + epsilon)
    Z *= inv_std
    np.multiply(Z, gamma, out=out)
    out += beta
    return mean, var, inv_std


def batch_norm_backward(
    delta, X_hat, weights, gamma, inv_std, grad_gamma, grad_beta, work
):
    """Backward pass of :func:`batch_norm_forward`, in its fused form.

    With ``dY`` the gradient of the (weighted-mean) loss with respect to the
    layer's output, ``grad_beta = sum(dY)``, ``grad_gamma = sum(dY * X_hat)``
    and::

        dZ = gamma * inv_std * (dY - w * (grad_beta + X_hat * grad_gamma))

    which for ``w = 1/m`` is the textbook
    ``gamma / sigma * (dY - mean(dY) - X_hat * mean(dY * X_hat))``
    once the ``1/m`` of the loss is taken out of ``dY``.

    Parameters
    ----------
    delta : ndarray of shape (m, units)
        ``dY`` on input, overwritten with ``dZ``.
    X_hat : ndarray of shape (m, units)
        Normalised pre-activations from the forward pass.
    weights : ndarray of shape (m,)
        The sample weights of the forward pass, summing to one.
    gamma, inv_std : ndarray of shape (units,)
        Scale, and ``1 / sqrt(var + epsilon)`` from the forward pass.
    grad_gamma, grad_beta : ndarray of shape (units,)
        Receive the gradients of gamma and beta.
    work : ndarray of shape (m, units)
        Scratch space.
    """
    np.sum(delta, axis=0, out=grad_beta)
    np.multiply(delta, X_hat, out=work)
    np.sum(work, axis=0, out=grad_gamma)
    np.multiply(X_hat, grad_gamma, out=work)
    work += grad_beta
    work *= weights[:, np.newaxis]
    delta -= work
    delta *= gamma * inv_std


def batch_norm_inference_params(gamma, beta, mean, var, epsilon):
    """Fold stored statistics into an affine map ``Y = Z * scale + shift``."""
    scale = gamma / np.sqrt(var + epsilon)
    return scale, beta - mean * scale


def dropout_mask(rng, rate, out):
    """Fill ``out`` with an inverted-dropout mask.

    Each entry is ``0`` with probability ``rate`` and ``1 / (1 - rate)``
    otherwise, so the expected activation is unchanged and inference needs no
    rescaling.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (a Generator fills float32 arrays directly).
    rate : float
        Probability of dropping a unit, in [0, 1).
    out : ndarray
        Array to fill, float32 or float64.
    """
    rng.random(out=out, dtype=out.dtype)
    np.greater_equal(out, rate, out=out)
    out *= 1.0 / (1.0 - rate)
