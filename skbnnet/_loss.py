"""Output heads: softmax + cross-entropy, logistic + binary cross-entropy, and
identity + half squared error.

Each loss returns the weighted mean loss of a mini-batch and overwrites the
logits with the gradient of that loss with respect to the logits, the fused
``w_i * (y_hat - y)``. The classification losses take a label smoothing
``s``: the targets become ``(1 - s) * y + s / K`` (``K`` classes for softmax,
two per label for the logistic head). Both are computed from log-sum-exp forms, so no
probability is ever clipped and no one-hot matrix is built. The softmax head,
the common one, is a fused kernel of :mod:`skbnnet._fused`.
"""

import numpy as np
from scipy.special import expit

from ._fused import softmax_cross_entropy


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


def half_squared_error(logits, Y, weights, smoothing=0.0):
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
    smoothing : float, default=0.0
        Must be 0: label smoothing has no meaning for regression.

    Returns
    -------
    loss : float
        The weighted mean half squared error.
    """
    if smoothing:
        raise ValueError("label smoothing does not apply to a regression head.")
    n_outputs = logits.shape[1]
    logits -= Y
    loss = weights @ np.einsum("ij,ij->i", logits, logits)
    logits *= (weights / n_outputs)[:, np.newaxis]
    return float(loss) / (2 * n_outputs)


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


LOSSES = {
    "softmax": softmax_cross_entropy,
    "logistic": logistic_cross_entropy,
    "identity": half_squared_error,
}

OUTPUT_PROBA = {
    "softmax": inplace_softmax,
    "logistic": inplace_logistic_proba,
    "identity": inplace_identity,
}
