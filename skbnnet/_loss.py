"""The losses of the output heads, and their inverse links.

Softmax + cross-entropy, logistic + binary cross-entropy, and for regression
the half squared error, the absolute error, the Huber loss, the pinball
(quantile) loss and the half Poisson deviance (log link). The heads of
:mod:`skbnnet._heads` call them.

Each loss returns the weighted mean loss of a mini-batch and overwrites the
raw outputs ("logits") with the gradient of that loss with respect to them,
for the cross-entropies and the squared error the fused ``w_i * (y_hat -
y)``. Regression losses are averaged over the outputs, as MLPRegressor's
squared error. The classification losses take a label smoothing
``s``: the targets become ``(1 - s) * y + s / K`` (``K`` classes for softmax,
two per label for the logistic head). Both are computed from log-sum-exp forms, so no
probability is ever clipped and no one-hot matrix is built. The softmax head,
the common one, is a fused kernel of :mod:`skbnnet._fused`.
"""

import numpy as np
from scipy.special import expit, xlogy


def logistic_cross_entropy(logits, Y, weights, smoothing=0.0):
    """Weighted binary cross-entropy of independent logistic outputs.

    Used for multilabel targets. The loss of one output is
    ``log(1 + exp(z)) - y * z``, computed as
    ``max(z, 0) - y * z + log1p(exp(-|z|))`` so that it never overflows.

    Parameters
    ----------
    logits : ndarray of shape (m, n_labels)
        Output-layer pre-activations. Overwritten with
        ``weights[:, None] * (expit(logits) - Y)``.
    Y : ndarray of shape (m, n_labels)
        Indicator targets, 0 or 1, in the dtype of ``logits``.
    weights : ndarray of shape (m,)
        Non-negative sample weights summing to one.
    smoothing : float, default=0.0
        Label smoothing: each label's target becomes ``(1 - s) * y + s / 2``.

    Returns
    -------
    loss : float
        Sum over labels of the weighted mean binary cross-entropy.
    """
    if smoothing:
        Y = Y * (1.0 - smoothing) + 0.5 * smoothing
    per_entry = np.logaddexp(0, -np.abs(logits))
    per_entry += np.maximum(logits, 0)
    per_entry -= Y * logits
    loss = weights @ per_entry.sum(axis=1)
    expit(logits, out=logits)
    logits -= Y
    logits *= weights[:, np.newaxis]
    return float(loss)


def half_squared_error(logits, Y, weights):
    """Weighted half squared error of identity outputs, for regression.

    As in MLPRegressor, the squared error is averaged over the outputs:
    ``sum_i w_i * ||z_i - y_i||^2 / (2 * n_outputs)``.

    Parameters
    ----------
    logits : ndarray of shape (m, n_outputs)
        Output-layer values. Overwritten with
        ``weights[:, None] * (logits - Y) / n_outputs``.
    Y : ndarray of shape (m, n_outputs)
        Targets, in the dtype of ``logits``.
    weights : ndarray of shape (m,)
        Non-negative sample weights summing to one.

    Returns
    -------
    loss : float
        The weighted mean half squared error.
    """
    n_outputs = logits.shape[1]
    logits -= Y
    loss = weights @ np.einsum("ij,ij->i", logits, logits)
    logits *= (weights / n_outputs)[:, np.newaxis]
    return float(loss) / (2 * n_outputs)


def absolute_error(logits, Y, weights):
    """Weighted mean absolute error; the gradient ``w_i * sign(z - y)``."""
    n_outputs = logits.shape[1]
    logits -= Y
    loss = weights @ np.abs(logits).sum(axis=1)
    np.sign(logits, out=logits)
    logits *= (weights / n_outputs)[:, np.newaxis]
    return float(loss) / n_outputs


def huber(logits, Y, weights, delta):
    """Weighted mean Huber loss: ``r**2 / 2`` for ``|r| <= delta``, else
    ``delta * (|r| - delta / 2)``; the gradient ``w_i * clip(r, -delta,
    delta)``, with ``r = z - y``."""
    n_outputs = logits.shape[1]
    logits -= Y
    magnitude = np.abs(logits)
    per_entry = np.where(
        magnitude <= delta, 0.5 * logits**2, delta * (magnitude - 0.5 * delta)
    )
    loss = weights @ per_entry.sum(axis=1)
    np.clip(logits, -delta, delta, out=logits)
    logits *= (weights / n_outputs)[:, np.newaxis]
    return float(loss) / n_outputs


def pinball(logits, Y, weights, quantile):
    """Weighted mean pinball loss of the ``quantile``: ``q * r`` for
    ``r = y - z >= 0``, else ``(q - 1) * r``; the gradient ``-q`` or
    ``1 - q`` times ``w_i``."""
    n_outputs = logits.shape[1]
    residual = Y - logits
    below = residual < 0
    loss = weights @ (residual * (quantile - below)).sum(axis=1)
    logits[...] = np.where(below, 1.0 - quantile, -quantile)
    logits *= (weights / n_outputs)[:, np.newaxis]
    return float(loss) / n_outputs


def half_poisson_deviance(logits, Y, weights):
    """Weighted mean half Poisson deviance of ``mu = exp(z)``:
    ``exp(z) - y * z + y * log(y) - y`` (0 at a perfect fit, so that a loss
    compares with the prior's); the gradient ``w_i * (exp(z) - y)``."""
    n_outputs = logits.shape[1]
    constant = xlogy(Y, Y) - Y
    per_entry = np.exp(logits) - Y * logits + constant
    loss = weights @ per_entry.sum(axis=1)
    np.exp(logits, out=logits)
    logits -= Y
    logits *= (weights / n_outputs)[:, np.newaxis]
    return float(loss) / n_outputs


def inplace_identity(logits):
    """Leave the regression outputs unchanged."""


def inplace_softmax(logits):
    """Turn ``logits`` into row-wise softmax probabilities, in place."""
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)


def inplace_logistic_proba(logits):
    """Turn ``logits`` into probabilities strictly inside (0, 1), in place.

    The logistic of a large logit rounds to exactly 1; the clip keeps
    multilabel probabilities usable as such (and their logs finite).
    """
    expit(logits, out=logits)
    tiny = np.finfo(logits.dtype).eps
    np.clip(logits, tiny, 1 - tiny, out=logits)


def inplace_exp(logits):
    """Turn log means into means, in place."""
    np.exp(logits, out=logits)
