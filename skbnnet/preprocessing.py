"""Input scaling for networks: robust scaling with a smooth clip."""

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._compat import Interval, _check_sample_weight, _fit_context, validate_data
from ._scaling import robust_statistics, smooth_clip

__all__ = ["SmoothClipScaler"]


class SmoothClipScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale features robustly, then clip them smoothly.

    Each feature is centred on its median and divided by its interquartile
    range, as :class:`~sklearn.preprocessing.RobustScaler` does, then mapped
    through ``x / sqrt(1 + (x / clip) ** 2)``: the identity near 0, and
    within ``(-clip, clip)`` however far an outlier lies. A network's first
    layer then sees heavy-tailed or outlying values (incomes, counts) at the
    scale of the bulk of the data, where a
    :class:`~sklearn.preprocessing.StandardScaler` lets them dominate. This
    is the preprocessing of RealMLP (Holzmüller et al. 2024, "Better by
    Default"), and what :class:`~skbnnet.BatchNormMLPClassifier` and
    :class:`~skbnnet.BatchNormMLPRegressor` apply to their inputs by default
    (``input_scaling="smooth_clip"``); use the transformer where something
    else follows it, or to scale only some columns.

    Quantiles follow NumPy's ``"averaged_inverted_cdf"`` method, under which
    a row of weight ``k`` counts as ``k`` copies of it (RobustScaler
    interpolates, so its quantiles differ slightly on small data). A
    feature whose interquartile range is 0 is divided by half its range
    instead, and a constant feature is only centred. Missing values (NaN)
    are ignored in fit and kept in transform.

    Parameters
    ----------
    quantile_range : tuple (q_min, q_max), default=(25.0, 75.0)
        Percentiles, ``0 <= q_min < q_max <= 100``, whose difference scales
        each feature.

    clip : float, default=3.0
        Bound of the smooth clip: outputs lie in ``(-clip, clip)``, and
        values up to about ``clip / 2`` pass nearly unchanged.

    Attributes
    ----------
    center_ : ndarray of shape (n_features,)
        Median of each feature.

    scale_ : ndarray of shape (n_features,)
        Divisor of each feature.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    sklearn.preprocessing.RobustScaler : The same scaling without the clip.

    Examples
    --------
    >>> import numpy as np
    >>> from skbnnet.preprocessing import SmoothClipScaler
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0], [1000.0]])
    >>> SmoothClipScaler().fit_transform(X).round(3).ravel()
    array([-0.949, -0.493,  0.   ,  0.493,  3.   ])
    """

    _parameter_constraints: dict = {
        "quantile_range": [tuple],
        "clip": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, quantile_range=(25.0, 75.0), clip=3.0):
        self.quantile_range = quantile_range
        self.clip = clip

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute each feature's median and scale.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : None
            Ignored.

        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the quantiles: a row of weight 2 counts
            as two copies of it.

        Returns
        -------
        self : object
            Fitted scaler.
        """
        q_min, q_max = self.quantile_range
        if not 0 <= q_min < q_max <= 100:
            raise ValueError(
                f"Invalid quantile range: {self.quantile_range}: it must satisfy "
                "0 <= q_min < q_max <= 100."
            )
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        positive = sample_weight > 0
        self.center_, self.scale_ = robust_statistics(
            X[positive], sample_weight[positive], self.quantile_range
        )
        return self

    def transform(self, X):
        """Scale and clip `X`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            Transformed data, in ``[-clip, clip]``, of `X`'s float dtype.
        """
        X = self._validate_fitted(X, copy=False)
        return smooth_clip(X, self.center_, self.scale_, self.clip)

    def inverse_transform(self, X):
        """Undo the clip and the scaling.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Transformed data, in ``(-clip, clip)``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
            Data in the original space.
        """
        X = self._validate_fitted(X, copy=True)
        if np.any(np.abs(X) >= self.clip):
            raise ValueError(
                f"inverse_transform needs values inside (-clip, clip) = "
                f"(-{self.clip}, {self.clip}); transform never leaves it."
            )
        X /= np.sqrt(1 - np.square(X / self.clip))
        X *= self.scale_.astype(X.dtype)
        X += self.center_.astype(X.dtype)
        return X

    def _validate_fitted(self, X, copy):
        """`X` as floats, checked against what was fitted."""
        check_is_fitted(self)
        return validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan",
            reset=False,
            copy=copy,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
