"""Log-scale distributions for hyperparameter search.

Learning rates, weight decay and layer widths matter by their order of
magnitude, so they are sampled uniformly in ``log(x)``; momentum-like
parameters close to 1 matter by the order of magnitude of ``1 - x``. The
distributions here have the interface of a frozen ``scipy.stats``
distribution, so :class:`~sklearn.model_selection.RandomizedSearchCV` takes
them as they are, and a :meth:`grid` method for
:class:`~sklearn.model_selection.GridSearchCV`.
"""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state


def _check_random_state(seed):
    """Turn seed into a random generator, accepting what scipy accepts.

    scikit-learn's ``check_random_state`` rejects ``np.random.Generator``,
    which scipy's ``rvs`` takes.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return check_random_state(seed)


def _as_output(values):
    """Return a Python scalar for a 0-d result, the array otherwise."""
    values = np.asarray(values)
    return values.item() if values.ndim == 0 else values


def _format_bound(value):
    """Shortest repr of a bound, without a trailing ``.0``: ``1``, ``0.0001``."""
    return repr(value).removesuffix(".0")


def _check_grid_size(n):
    if not isinstance(n, Integral) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    return int(n)


class _LogScaleDistribution:
    """Base class: values are a monotone map of a uniform variable.

    Subclasses define ``_transform``, increasing, from a value to the space
    where it is sampled uniformly, and its inverse ``_inverse_transform``.
    """

    _integer = False
    # Exclusive upper limit on ``high``, if any.
    _high_limit = None

    def __init__(self, low, high):
        self.low, self.high = self._check_bounds(low, high)

    def _check_bounds(self, low, high):
        kind, cast, noun = (
            (Integral, int, "an integer")
            if self._integer
            else (Real, float, "a real number")
        )
        for name, value in (("low", low), ("high", high)):
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"{name} must be {noun}, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        if low <= 0:
            raise ValueError(f"low must be > 0, got {low}")
        if self._high_limit is not None and high >= self._high_limit:
            raise ValueError(f"high must be < {self._high_limit:g}, got {high}")
        if high <= low:
            raise ValueError(
                f"high must be greater than low, got low={low}, high={high}"
            )
        return cast(low), cast(high)

    def _continuous_bounds(self):
        """Bounds of the continuous variable that is sampled uniformly."""
        return self.low, self.high

    def _cdf(self, x):
        low, high = self._continuous_bounds()
        t_low, t_high = self._transform(low), self._transform(high)
        return (self._transform(np.clip(x, low, high)) - t_low) / (t_high - t_low)

    def _ppf(self, q):
        low, high = self._continuous_bounds()
        t_low, t_high = self._transform(low), self._transform(high)
        x = np.clip(self._inverse_transform(t_low + q * (t_high - t_low)), low, high)
        # The round trip through the sampling space is inexact: pin the
        # endpoints so that ``ppf(0) == low`` and ``ppf(1) == high``.
        return np.where(q == 0, low, np.where(q == 1, high, x))

    def rvs(self, size=None, random_state=None):
        """Draw random samples.

        Parameters
        ----------
        size : int or tuple of int, default=None
            Output shape. ``None`` returns a single Python scalar.

        random_state : int, RandomState instance, Generator instance or None, \
                default=None
            Source of randomness, with scipy's semantics: ``None`` uses the
            global ``np.random`` state, an int seeds a new ``RandomState``, and
            a ``RandomState`` or ``Generator`` is used as is.

        Returns
        -------
        samples : float, int or ndarray of shape `size`
            The samples, of the distribution's value type.
        """
        rng = _check_random_state(random_state)
        # Inverse transform sampling keeps rvs exactly consistent with ppf.
        return _as_output(self._ppf(np.asarray(rng.uniform(size=size))))

    def ppf(self, q):
        """Percent point function, the inverse of :meth:`cdf`.

        Parameters
        ----------
        q : float or array-like of float
            Probabilities, in ``[0, 1]``.

        Returns
        -------
        x : float, int or ndarray
            The quantiles, of the distribution's value type, with
            ``ppf(0) == low`` and ``ppf(1) == high``.
        """
        q = np.asarray(q, dtype=np.float64)
        # Also rejects NaN, which an integer result could not hold.
        if not np.all((q >= 0) & (q <= 1)):
            raise ValueError(f"q must be in [0, 1], got {q}")
        return _as_output(self._ppf(q))

    def cdf(self, x):
        """Cumulative distribution function.

        Parameters
        ----------
        x : float or array-like of float
            Values; those outside the support give 0 or 1.

        Returns
        -------
        p : float or ndarray of float
            ``P(X <= x)``.
        """
        return _as_output(self._cdf(np.asarray(x, dtype=np.float64)))

    def support(self):
        """Return the support ``(low, high)``, both ends included.

        Returns
        -------
        low, high : float or int
            The bounds.
        """
        return self.low, self.high

    def grid(self, n):
        """Return `n` points evenly spaced in the sampling space.

        Parameters
        ----------
        n : int
            Number of points, at least 2.

        Returns
        -------
        grid : ndarray of shape (n,)
            Ascending values, `low` and `high` included; a ready list of
            candidates for :class:`~sklearn.model_selection.GridSearchCV`.
        """
        # Point by point: NumPy's vectorised power is not correctly rounded
        # (10.0 ** array([-5.0]) is 9.999999999999999e-06), its scalar one is.
        quantiles = np.linspace(0, 1, _check_grid_size(n))
        return np.array([self._ppf(q) for q in quantiles])

    def __repr__(self):
        return (
            f"{type(self).__name__}"
            f"({_format_bound(self.low)}, {_format_bound(self.high)})"
        )

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.support() == other.support()

    def __hash__(self):
        return hash((type(self).__name__, self.low, self.high))


class LogUniform(_LogScaleDistribution):
    """Continuous distribution whose logarithm is uniform on ``[low, high]``.

    ``log10(X)`` is uniform on ``[log10(low), log10(high)]``, so every order
    of magnitude gets the same share of samples: ``LogUniform(1e-4, 1)`` is
    ``10**r`` with ``r ~ U[-4, 0]``, the way to sample a learning rate or a
    regularisation strength.

    Parameters
    ----------
    low : float
        Lower bound, > 0.

    high : float
        Upper bound, > `low`.

    See Also
    --------
    LogUniformInt : Integers sampled on a log scale.
    OneMinusLogUniform : Values close to 1, with ``1 - X`` log-uniform.
    scipy.stats.loguniform : The same distribution in scipy.

    Examples
    --------
    >>> from skbnnet.distributions import LogUniform
    >>> dist = LogUniform(1e-4, 1)
    >>> dist
    LogUniform(0.0001, 1)
    >>> dist.rvs(size=3, random_state=0)
    array([0.0157, 0.0726, 0.0258])
    >>> dist.grid(5).tolist()
    [0.0001, 0.001, 0.01, 0.1, 1.0]
    """

    # Base 10 keeps grid points at whole decades exact: grid(5) of
    # LogUniform(1e-4, 1) is exactly [1e-4, 1e-3, 1e-2, 1e-1, 1].
    _transform = staticmethod(np.log10)

    @staticmethod
    def _inverse_transform(t):
        return 10.0**t

    def mean(self):
        """Return the mean ``(high - low) / ln(high / low)``.

        Returns
        -------
        mean : float
            The mean.
        """
        # A difference of logs, since high / low can overflow.
        return (self.high - self.low) / (math.log(self.high) - math.log(self.low))


class OneMinusLogUniform(_LogScaleDistribution):
    """Continuous distribution on ``[low, high]`` with ``1 - X`` log-uniform.

    For momentum-like parameters, whose effect grows as they approach 1
    (``1 / (1 - beta)`` is the averaging window): ``OneMinusLogUniform(0.9,
    0.999)`` is ``1 - 10**r`` with ``r ~ U[-3, -1]``, so 0.9 to 0.99 gets as
    many samples as 0.99 to 0.999. Use it for ``momentum``, ``beta_1``,
    ``beta_2`` and ``batch_norm_momentum``.

    Parameters
    ----------
    low : float
        Lower bound, > 0.

    high : float
        Upper bound, > `low` and < 1.

    See Also
    --------
    LogUniform : Values with ``X`` itself log-uniform.

    Examples
    --------
    >>> from skbnnet.distributions import OneMinusLogUniform
    >>> dist = OneMinusLogUniform(0.9, 0.999)
    >>> dist
    OneMinusLogUniform(0.9, 0.999)
    >>> dist.grid(3)
    array([0.9  , 0.99 , 0.999])
    >>> dist.cdf(0.99)
    0.5...
    """

    _high_limit = 1

    @staticmethod
    def _transform(x):
        # -log(1 - x), increasing in x; log1p stays accurate for x near 0.
        return -np.log1p(-x)

    @staticmethod
    def _inverse_transform(t):
        return -np.expm1(-t)

    def mean(self):
        """Return the mean, ``1`` minus the mean of the log-uniform ``1 - X``.

        Returns
        -------
        mean : float
            The mean.
        """
        log_ratio = math.log1p(-self.low) - math.log1p(-self.high)
        return 1 - (self.high - self.low) / log_ratio


class LogUniformInt(_LogScaleDistribution):
    """Integers in ``[low, high]`` sampled on a log scale.

    ``X = floor(Y)`` with ``Y`` log-uniform on ``[low, high + 1)``, so
    ``P(X = k)`` is proportional to ``log(k + 1) - log(k)``: every integer in
    the range can be drawn, and each order of magnitude gets the same share
    of samples. For layer widths and batch sizes. Values are integers, as
    scikit-learn's parameter validation requires.

    Parameters
    ----------
    low : int
        Lower bound, >= 1.

    high : int
        Upper bound, > `low`.

    See Also
    --------
    LogUniform : The continuous distribution.

    Notes
    -----
    As for scipy's discrete distributions, :meth:`cdf` is a step function and
    ``ppf(q)`` is the smallest integer ``k`` with ``cdf(k) >= q``, except that
    ``ppf(0)`` is `low` (scipy returns ``low - 1``). :meth:`rvs` and
    :meth:`ppf` return int64 arrays, or Python ints for scalars.

    Examples
    --------
    >>> from skbnnet.distributions import LogUniformInt
    >>> dist = LogUniformInt(16, 512)
    >>> dist
    LogUniformInt(16, 512)
    >>> dist.rvs(random_state=0)
    107
    >>> dist.grid(6)
    array([ 16,  32,  64, 128, 256, 512])
    """

    _integer = True
    # Base 10 keeps grid points at whole decades exact: grid(5) of
    # LogUniform(1e-4, 1) is exactly [1e-4, 1e-3, 1e-2, 1e-1, 1].
    _transform = staticmethod(np.log10)

    @staticmethod
    def _inverse_transform(t):
        return 10.0**t

    def _continuous_bounds(self):
        return self.low, self.high + 1

    def _cdf(self, x):
        # X <= x exactly when Y < floor(x) + 1.
        return super()._cdf(np.floor(x) + 1)

    def _ppf(self, q):
        k = np.clip(np.ceil(super()._ppf(q)) - 1, self.low, self.high)
        k = k.astype(np.int64)
        # Rounding in log space can land one step off: settle k on the step
        # function itself, so that ppf and cdf agree exactly.
        k -= (k > self.low) & (self._cdf(k - 1) >= q)
        k += self._cdf(k) < q
        return k

    def mean(self):
        """Return the mean, in closed form.

        Returns
        -------
        mean : float
            The mean, ``sum(k * P(X = k))``.
        """
        low, high = self.low, self.high
        # Summation by parts of sum(k * (log(k + 1) - log(k))); the remaining
        # sum of log(k) is a difference of log-gamma values.
        weighted = (
            high * math.log(high + 1)
            - low * math.log(low)
            - (math.lgamma(high + 1) - math.lgamma(low + 1))
        )
        return weighted / (math.log(high + 1) - math.log(low))

    def grid(self, n):
        """Return up to `n` integers evenly spaced on a log scale.

        Parameters
        ----------
        n : int
            Number of points before rounding, at least 2.

        Returns
        -------
        grid : ndarray of shape (n_points,), dtype=int64
            Ascending unique integers, `low` and `high` included. Points that
            round to the same integer are merged, so ``n_points <= n``.
        """
        points = np.geomspace(self.low, self.high, _check_grid_size(n))
        return np.unique(np.rint(points).astype(np.int64))
