"""Output heads as objects: what links the output layer to the targets.

A head owns, for one kind of target, everything the rest of the package used
to look up by the name of the output activation: the loss and its gradient
with respect to the raw outputs (the kernels of :mod:`skbnnet._loss`), the
inverse link from raw outputs to predictions, the loss of the best constant
prediction (the prior, against which the training loop judges divergence and
a fit that learned nothing), the score of early stopping, and the number of
outputs. A :class:`~skbnnet._network.Network` holds one; a new loss is one
small class here. In the spirit of scikit-learn's ``sklearn/_loss/loss.py``.

Heads hold only their settings (label smoothing, a quantile), no fitted
state; the estimators build one per call to ``fit`` or ``partial_fit``.
Nothing here knows about scikit-learn's estimators.
"""

import numpy as np
from scipy.special import xlogy
from sklearn.metrics import accuracy_score, r2_score

from ._fused import softmax_cross_entropy
from ._loss import (
    absolute_error,
    half_poisson_deviance,
    half_squared_error,
    huber,
    inplace_exp,
    inplace_identity,
    inplace_logistic_proba,
    inplace_softmax,
    logistic_cross_entropy,
    pinball,
)


def weighted_mean_and_std(y, sample_weight):
    """Weighted mean and standard deviation of each column, in float64.

    Only rows of positive weight count. Columns are divided by their largest
    magnitude first, so that neither the sums nor the squares overflow or
    underflow, whatever the values' scale inside float64's range. A constant
    column has its value as the mean and a deviation of exactly 0.
    """
    rows = sample_weight > 0
    y, w = y[rows].astype(np.float64), sample_weight[rows].astype(np.float64)
    magnitude = np.abs(y).max(axis=0)
    magnitude[magnitude == 0] = 1.0
    unit = y / magnitude
    mean = np.average(unit, axis=0, weights=w)
    std = np.sqrt(np.average((unit - mean) ** 2, axis=0, weights=w))
    mean, std = mean * magnitude, std * magnitude
    constant = (y == y[0]).all(axis=0)
    mean[constant], std[constant] = y[0, constant], 0.0
    return mean, std


class BaseHead:
    """An output head of ``n_outputs`` raw outputs.

    Subclasses set :attr:`out_activation`, the name of the inverse link that
    estimators expose as ``out_activation_`` and exporters write, and
    implement :meth:`loss_gradient`, :meth:`prior_loss` and :meth:`score`.
    """

    #: Name of the inverse link ("softmax", "logistic", "identity", "exp").
    out_activation = None
    #: Whether the loss is equivariant under an affine map of the targets,
    #: so that an estimator may standardise them.
    affine_targets = False

    def __init__(self, n_outputs):
        self.n_outputs = n_outputs

    def loss_gradient(self, raw, target, weights):
        """Weighted mean loss of a mini-batch; ``raw`` is overwritten with
        its gradient. ``weights`` sum to one."""
        raise NotImplementedError

    def inverse_link(self, raw):
        """Turn raw outputs into predictions (probabilities or values), in
        place."""
        inplace_identity(raw)

    def prior_loss(self, target, sample_weight):
        """Loss of the best constant prediction."""
        raise NotImplementedError

    def start_loss(self, target, sample_weight):
        """Loss of predicting what an untrained network starts near, where
        it can be far above the prior's; 0 if it cannot."""
        return 0.0

    def initial_bias(self, target, sample_weight):
        """The output bias an untrained network starts from, or None for 0."""
        return None

    def score(self, raw, target, sample_weight):
        """Early stopping's score of raw outputs (higher is better)."""
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({settings})"


class SoftmaxCrossEntropy(BaseHead):
    """Softmax over ``n_outputs`` classes and cross-entropy, with label
    smoothing ``s``: the target of class ``k`` is ``(1 - s) * onehot(k) + s /
    K``. Targets are class indices."""

    out_activation = "softmax"

    def __init__(self, n_outputs, smoothing=0.0):
        super().__init__(n_outputs)
        self.smoothing = smoothing

    def loss_gradient(self, raw, target, weights):
        return softmax_cross_entropy(raw, target, weights, self.smoothing)

    def inverse_link(self, raw):
        inplace_softmax(raw)

    def prior_loss(self, target, sample_weight):
        """The entropy of the smoothed weighted class frequencies, the loss
        of predicting them."""
        s = self.smoothing
        p = np.bincount(target, weights=sample_weight, minlength=self.n_outputs)
        p = (1 - s) * p / sample_weight.sum() + s / len(p)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    def score(self, raw, target, sample_weight):
        """Accuracy (the arg max of the logits is that of the softmax)."""
        return accuracy_score(target, raw.argmax(axis=1), sample_weight=sample_weight)


class LogisticCrossEntropy(BaseHead):
    """Independent logistic outputs and binary cross-entropy, for multilabel
    indicator targets; label smoothing makes each label's target ``(1 - s) *
    y + s / 2``."""

    out_activation = "logistic"

    def __init__(self, n_outputs, smoothing=0.0):
        super().__init__(n_outputs)
        self.smoothing = smoothing

    def loss_gradient(self, raw, target, weights):
        return logistic_cross_entropy(raw, target, weights, self.smoothing)

    def inverse_link(self, raw):
        inplace_logistic_proba(raw)

    def prior_loss(self, target, sample_weight):
        """The summed entropies of the smoothed label frequencies."""
        s = self.smoothing
        p = (1 - s) * (sample_weight @ target) / sample_weight.sum() + s / 2
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return float(-(p * np.log(p) + (1 - p) * np.log1p(-p)).sum())

    def score(self, raw, target, sample_weight):
        """Subset accuracy (a probability above 0.5 is a logit above 0)."""
        predicted = (raw > 0).astype(target.dtype)
        return accuracy_score(target, predicted, sample_weight=sample_weight)


class _RegressionHead(BaseHead):
    """Identity link; the score of early stopping is the negative loss."""

    out_activation = "identity"
    affine_targets = True

    def start_loss(self, target, sample_weight):
        """Half mean square of the targets, the squared error of predicting
        0 near which an untrained network starts: far above the prior's for
        targets that are not centred."""
        with np.errstate(over="ignore"):
            squares = np.average(
                target.astype(np.float64) ** 2, axis=0, weights=sample_weight
            )
        return 0.5 * float(squares.mean())

    def prior_loss(self, target, sample_weight):
        return self._loss_of_constant(target, sample_weight)

    def score(self, raw, target, sample_weight):
        weights = sample_weight / sample_weight.sum()
        return -self.loss_gradient(raw.copy(), target, weights)

    def _loss_of_constant(self, target, sample_weight):
        """The loss of the best constant prediction, found as the loss's own
        statistic (a mean, median or quantile)."""
        raise NotImplementedError


class SquaredError(_RegressionHead):
    """Half squared error. Early stopping scores R², as ``score`` does: for
    one target it orders epochs as the validation loss does."""

    def loss_gradient(self, raw, target, weights):
        return half_squared_error(raw, target, weights)

    def _loss_of_constant(self, target, sample_weight):
        """Half the mean variance; exactly 0 for a constant target."""
        _, std = weighted_mean_and_std(target, sample_weight)
        return 0.5 * float(np.mean(std**2))

    def score(self, raw, target, sample_weight):
        return r2_score(target, raw, sample_weight=sample_weight)


def _weighted_quantile(target, sample_weight, quantile):
    """Weighted ``quantile`` of each column (the lower one on a tie)."""
    result = np.empty(target.shape[1])
    for j, column in enumerate(target.T):
        order = np.argsort(column, kind="stable")
        cumulative = np.cumsum(sample_weight[order])
        index = np.searchsorted(cumulative, quantile * cumulative[-1])
        result[j] = column[order[min(index, len(column) - 1)]]
    return result


class _ConstantByQuantile(_RegressionHead):
    """A loss whose best constant is a weighted quantile of the targets."""

    _constant_quantile = 0.5

    def _loss_of_constant(self, target, sample_weight):
        constant = _weighted_quantile(target, sample_weight, self._constant_quantile)
        raw = np.broadcast_to(constant, target.shape).astype(target.dtype)
        weights = sample_weight / sample_weight.sum()
        return self.loss_gradient(raw.copy(), target, weights)


class AbsoluteError(_ConstantByQuantile):
    """Absolute error: the network predicts a conditional median."""

    def loss_gradient(self, raw, target, weights):
        return absolute_error(raw, target, weights)


class Huber(_ConstantByQuantile):
    """Huber loss of threshold ``delta``: squared error for residuals within
    ``delta``, absolute beyond (the median is a close, not exact, best
    constant for the prior)."""

    def __init__(self, n_outputs, delta=1.0):
        super().__init__(n_outputs)
        self.delta = delta

    def loss_gradient(self, raw, target, weights):
        return huber(raw, target, weights, self.delta)


class Quantile(_ConstantByQuantile):
    """Pinball loss: the network predicts a conditional ``quantile``."""

    def __init__(self, n_outputs, quantile):
        super().__init__(n_outputs)
        self.quantile = quantile

    @property
    def _constant_quantile(self):
        return self.quantile

    def loss_gradient(self, raw, target, weights):
        return pinball(raw, target, weights, self.quantile)


class Poisson(_RegressionHead):
    """Half Poisson deviance with a log link: raw outputs are log means.
    Targets are counts or rates, never standardised; the untrained network
    starts from the log of their weighted mean."""

    out_activation = "exp"
    affine_targets = False

    def loss_gradient(self, raw, target, weights):
        return half_poisson_deviance(raw, target, weights)

    def inverse_link(self, raw):
        inplace_exp(raw)

    def initial_bias(self, target, sample_weight):
        return np.log(np.average(target, axis=0, weights=sample_weight))

    def start_loss(self, target, sample_weight):
        return 0.0

    def _loss_of_constant(self, target, sample_weight):
        """The deviance of predicting the weighted mean ``mu``."""
        target = target.astype(np.float64)
        mu = np.average(target, axis=0, weights=sample_weight)
        per_entry = xlogy(target, target) - target * np.log(mu) - target + mu
        return float(np.average(per_entry.mean(axis=1), weights=sample_weight))
