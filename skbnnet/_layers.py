"""Hidden-layer operations: activations, batch normalisation and dropout.

NumPy functions working in place on preallocated arrays; the training-mode
batch norm and the activations' derivatives are the fused kernels of
:mod:`skbnnet._fused`. They know nothing of scikit-learn; the network module
strings them together.

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
