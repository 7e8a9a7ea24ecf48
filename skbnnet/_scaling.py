"""Robust scaling with a smooth clip: its statistics and its map.

Shared by :class:`~skbnnet.preprocessing.SmoothClipScaler` and the
estimators' ``input_scaling``. Quantiles are weighted, with NumPy's
``"averaged_inverted_cdf"`` definition: a row of integer weight ``k`` counts
exactly as ``k`` copies of it, which the sample-weight checks of
scikit-learn require, and with unit weights the median of an even number of
values is the mean of the middle two.

Nothing here knows about scikit-learn: validation lives in the callers.
"""

import warnings

import numpy as np
import scipy.sparse as sp

from ._fused import smooth_clip_rows

#: Elements mapped at a time by :func:`smooth_clip`, bounding its
#: temporaries (1 MiB of float32).
_CHUNK_SIZE = 2**18


def weighted_quantiles(values, weights, quantiles):
    """Quantiles of ``values`` under positive ``weights``, NaN ignored.

    Parameters
    ----------
    values, weights : ndarray of shape (n,)
        The values and their weights (> 0).
    quantiles : ndarray of shape (k,)
        Quantiles in [0, 1].

    Returns
    -------
    result : ndarray of shape (k,)
        The quantiles; NaN if every value is NaN.
    """
    present = ~np.isnan(values)
    values, weights = values[present], weights[present]
    if values.size == 0:
        return np.full(len(quantiles), np.nan)
    order = np.argsort(values)  # the order of ties changes no quantile
    values = values[order]
    cumulative = np.cumsum(weights[order], dtype=np.float64)
    targets = np.asarray(quantiles, dtype=np.float64) * cumulative[-1]
    # The first value whose cumulative weight reaches the target; where it
    # reaches it exactly, the mean of it and the next one.
    last = values.size - 1
    low = np.minimum(np.searchsorted(cumulative, targets, side="left"), last)
    high = np.minimum(np.searchsorted(cumulative, targets, side="right"), last)
    return values[low] / 2 + values[high] / 2  # no overflow near the max


def robust_statistics(X, sample_weight=None, quantile_range=(25.0, 75.0)):
    """Each feature's centre and scale for :func:`smooth_clip`.

    The centre is the weighted median (0 for sparse ``X``, which centring
    would densify); the scale the interquartile range, or half the range
    where that is 0, or 1 for a constant feature. NaN is ignored; a feature
    of NaN only gets centre 0 and scale 1.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Data; a sparse matrix's implicit zeros count as values.
    sample_weight : ndarray of shape (n_samples,), default=None
        Positive weights; None weighs every row 1.
    quantile_range : (float, float), default=(25.0, 75.0)
        Percentiles whose difference scales each feature.

    Returns
    -------
    center, scale : ndarray of shape (n_features,), float64
    """
    n_samples, n_features = X.shape
    q_min, q_max = quantile_range
    quantiles = np.array([q_min / 100, 0.5, q_max / 100])
    sparse = sp.issparse(X)
    if sample_weight is not None and np.all(sample_weight == sample_weight[0]):
        sample_weight = None  # equal weights: the fast path below
    if sparse:
        X = sp.csc_matrix(X)
        weights = np.ones(n_samples) if sample_weight is None else sample_weight
        columns = [_sparse_column(X, j, weights) for j in range(n_features)]
    elif sample_weight is None:
        # Equal weights: NumPy's own quantiles, by partition rather than sort.
        columns = [(X, None)]
    else:
        weights = np.asarray(sample_weight, dtype=np.float64)
        columns = [(X[:, j].astype(np.float64), weights) for j in range(n_features)]
    with warnings.catch_warnings(), np.errstate(over="ignore"):
        # A feature of NaN only has no statistics (handled below).
        warnings.simplefilter("ignore", RuntimeWarning)
        stats = np.hstack(
            [
                np.vstack(_column_statistics(values, weights, quantiles))
                for values, weights in columns
            ]
        )
    low, median, high, half_range = stats.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        spread = np.where(high - low > 0, high - low, half_range)
    center = np.zeros(n_features) if sparse else np.nan_to_num(median)
    # A spread beyond float64's range as its largest number; none as 1.
    scale = np.where(spread > 0, np.minimum(spread, np.finfo(np.float64).max), 1.0)
    return center, scale


def _sparse_column(X, j, weights):
    """Column ``j`` of a CSC matrix, its implicit zeros as one value carrying
    their total weight."""
    rows = slice(X.indptr[j], X.indptr[j + 1])
    stored = weights[X.indices[rows]]
    values = np.append(X.data[rows], 0.0).astype(np.float64)
    weights = np.append(stored, weights.sum() - stored.sum())
    present = weights > 0
    return values[present], weights[present]


def _column_statistics(X, weights, quantiles):
    """The quantiles and half the range of the columns of ``X`` (2-D, equal
    weights: ``weights`` None) or of one column under ``weights``."""
    if weights is None:
        quantile = np.nanquantile if np.isnan(X).any() else np.quantile
        low, median, high = quantile(
            X, quantiles, axis=0, method="averaged_inverted_cdf"
        )
    else:
        low, median, high = weighted_quantiles(X, weights, quantiles)
    half_range = np.nanmax(X, axis=0) / 2 - np.nanmin(X, axis=0) / 2
    return low, median, high, half_range


def smooth_clip(X, center, scale, clip):
    """``x = (X - center) / scale``, then ``x / sqrt(1 + (x / clip) ** 2)``.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        Data, float32 or float64; not modified. A sparse matrix must have
        ``center`` 0 (zeros stay zeros).
    center, scale : ndarray of shape (n_features,)
        From :func:`robust_statistics`.
    clip : float
        Bound of the output: it lies in ``[-clip, clip]``, and NaN stays NaN.

    Returns
    -------
    X_new : {ndarray, sparse matrix} of `X`'s shape, format and dtype
    """
    if sp.issparse(X):
        X = X.tocsr(copy=True)
        X.data = smooth_clip(X.data[None, :], 0.0, scale[X.indices], clip)[0]
        return X
    dtype = X.dtype
    center = np.asarray(center, dtype=dtype)
    if center.ndim == 0:  # the sparse values' 0
        center = np.full(X.shape[1:], center)
    center = np.ascontiguousarray(center)
    scale = np.ascontiguousarray(scale, dtype=dtype)
    out = np.empty(X.shape, dtype=dtype)
    chunk = max(1, _CHUNK_SIZE // max(1, X.shape[1]))
    # By chunks of rows: one copy of X at most (and a chunk of it when X is
    # not C-contiguous), whatever its size; one pass of the fused kernel.
    for start in range(0, X.shape[0], chunk):
        rows = slice(start, start + chunk)
        smooth_clip_rows(np.ascontiguousarray(X[rows]), center, scale, clip, out[rows])
    return out


class SmoothClip:
    """A fitted :func:`smooth_clip`, as a network's map of its inputs.

    Parameters
    ----------
    center, scale : ndarray of shape (n_features,)
        From :func:`robust_statistics`.
    clip : float
        Bound of the output.
    """

    def __init__(self, center, scale, clip):
        self.center = center
        self.scale = scale
        self.clip = clip

    @classmethod
    def fit(cls, X, sample_weight, clip=3.0):
        """The map whose statistics are those of ``X``."""
        return cls(*robust_statistics(X, sample_weight), clip)

    def __call__(self, X):
        return smooth_clip(X, self.center, self.scale, self.clip)
