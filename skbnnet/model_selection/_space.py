"""The search space and tuning recipe that the benchmarks chose.

:func:`default_search_space` returns the distributions worth tuning for
:class:`~skbnnet.BatchNormMLPClassifier` and
:class:`~skbnnet.BatchNormMLPRegressor`, sized from the data;
:func:`tuning_search` builds the budgeted :class:`CoarseToFineSearchCV`
over it that ``skbnnet tune`` and ``benchmarks/bench_tuning.py`` run; and
:func:`to_optuna` converts such a space for optuna's ``OptunaSearchCV``.
"""

import math
import numbers
import warnings

import numpy as np
from scipy import stats
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.model_selection import check_cv

from skbnnet._base import BaseBatchNormMLP
from skbnnet.classifier import BatchNormMLPClassifier
from skbnnet.distributions import LogUniform, LogUniformInt, OneMinusLogUniform
from skbnnet.model_selection._coarse_to_fine import CoarseToFineSearchCV

__all__ = ["default_search_space", "to_optuna", "tuning_search"]

# The tuning recipe. Epochs of the longest fits, the top of the successive
# halving: without early stopping, which would hold out a tenth of the small
# CV training sets and stop on a noisy score; the cosine schedule anneals
# over these epochs (benchmarks/TUNING_NOTES.md).
TUNING_MAX_ITER = 60
# Rungs of the halving: max_iter / 27, / 9, / 3 and full epochs.
TUNING_N_RUNGS = 4


def tuning_search(
    estimator,
    X,
    y,
    *,
    max_time=60.0,
    n_rounds=TUNING_N_RUNGS,
    cv=3,
    n_jobs=None,
    random_state=None,
    **params,
):
    """The budgeted coarse-to-fine search of the tuning recipe.

    A :class:`CoarseToFineSearchCV` over :func:`default_search_space`, whose
    longest fits train for 60 epochs (``max_iter``) after a successive
    halving of 4 rungs (2, 7, 20, then 60 epochs), within `max_time`
    seconds, refit included: the recipe ``skbnnet tune`` and
    ``benchmarks/bench_tuning.py`` run.

    Parameters
    ----------
    estimator : estimator
        A :class:`~skbnnet.BatchNormMLPClassifier` or
        :class:`~skbnnet.BatchNormMLPRegressor`, or a pipeline (or another
        meta-estimator) with one as a step. It is cloned, and the network's
        ``max_iter`` set to 60 (and ``early_stopping="auto"`` to False: the
        search chooses the epochs itself).

    X : array-like of shape (n_samples, n_features)
        Training data, to size the space (only its shape is used, and its
        rows by `cv`).

    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, for the splits of `cv`.

    max_time : float, default=60.0
        Seconds of the whole search, refit included.

    n_rounds : int, default=4
        Rungs of the successive halving of epochs.

    cv : int, cross-validation generator or an iterable, default=3
        Cross-validation of each candidate.

    n_jobs : int, default=None
        Number of candidates fitted in parallel, as in
        :class:`CoarseToFineSearchCV`.

    random_state : int, RandomState instance or None, default=None
        Seed of the sampling.

    **params : dict
        Other parameters of :class:`CoarseToFineSearchCV` (``scoring``,
        ``refit``, ``top_k``, ``verbose`` ...).

    Returns
    -------
    search : CoarseToFineSearchCV
        The search, not fitted.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbnnet import BatchNormMLPClassifier
    >>> from skbnnet.model_selection import tuning_search
    >>> X, y = load_iris(return_X_y=True)
    >>> search = tuning_search(BatchNormMLPClassifier(), X, y, max_time=5)
    >>> search.n_rounds, search.estimator.max_iter
    (4, 60)
    """
    path, network = _network_step(estimator)
    settings = {path + "max_iter": TUNING_MAX_ITER}
    if isinstance(network.early_stopping, str):  # "auto"
        # The search chooses the epochs (its resource) by cross-validation.
        settings[path + "early_stopping"] = False
    estimator = clone(estimator).set_params(**settings)
    return CoarseToFineSearchCV(
        estimator,
        default_search_space(X, y, estimator=estimator, cv=cv),
        n_rounds=n_rounds,
        max_time=max_time,
        cv=cv,
        n_jobs=n_jobs,
        random_state=random_state,
        **params,
    )


def _network_step(estimator, prefix=""):
    """``(path, network)``: the skbnnet estimator in `estimator` and the
    prefix of its parameters there (``""`` for the estimator itself)."""
    if isinstance(estimator, BaseBatchNormMLP):
        return "", estimator
    get_params = getattr(estimator, "get_params", None)
    params = get_params(deep=True) if get_params is not None else {}
    found = {
        name + "__": value
        for name, value in params.items()
        if isinstance(value, BaseBatchNormMLP)
    }
    if prefix in found:
        return prefix, found[prefix]
    if len(found) == 1:
        return next(iter(found.items()))
    if not found:
        raise TypeError(
            "default_search_space needs a BatchNormMLPClassifier or "
            "BatchNormMLPRegressor, or a pipeline or meta-estimator with one as "
            f"a step; got {type(estimator).__name__}."
        )
    raise ValueError(
        f"{type(estimator).__name__} holds several skbnnet networks "
        f"({', '.join(sorted(found))}): pass the prefix of the one to tune as "
        "prefix=."
    )


def _smallest_training_set(X, y, cv, estimator):
    """Rows of the smallest training set of the cross-validation `cv`."""
    n_samples = np.shape(X)[0]
    if cv is None:
        cv = 5
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(
                f"cv must be at least 2 folds (or a splitter), got cv={cv}."
            )
        return n_samples - math.ceil(n_samples / cv)
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    try:
        # The first split of a k-fold is the one with the largest test set.
        train, _ = next(iter(splitter.split(np.empty((n_samples, 0)), y)))
    except (TypeError, ValueError):  # a splitter that needs groups
        return n_samples - math.ceil(n_samples / splitter.get_n_splits())
    return len(train)


def default_search_space(X, y, *, prefix="", estimator=None, cv=3):
    """Distributions of the hyperparameters worth tuning, sized from the data.

    The space that ``skbnnet tune`` searches, chosen on
    ``benchmarks/bench_tuning.py`` (five datasets, equal time budgets); the
    measurements behind each choice are in ``benchmarks/TUNING_NOTES.md``:

    - ``hidden_layer_sizes``: a list of equal-width stacks, depths 1 to 3,
      widths 128 to 2048, without those that cost more per row (in
      multiply-adds from ``n_features``) than one layer of 2048 or three of
      256, which leave a time budget too few fits (section 9);
    - ``learning_rate_init`` log-uniform on [1e-4, 1e-1];
    - ``batch_size`` log-uniform from 32 to 512, at most a quarter of the
      smallest cross-validation training set (but 32), never more than all
      of it and never below 2 (batch norm needs two rows);
    - ``beta_1`` with ``1 - beta_1`` log-uniform on [0.01, 0.2];
    - ``alpha`` log-uniform on [1e-6, 1] and decoupled ``weight_decay``
      log-uniform on [1e-5, 1], or [1e-5, 10] for a regressor, so that the
      space holds its default of 2.0 (section 8); ``dropout`` uniform on
      [0, 0.5];
    - ``label_smoothing`` uniform on [0, 0.2], which helped wide networks
      with dropout on digits (section 2);
    - ``learning_rate="cosine"``, which runs its whole schedule: a plateau
      stop cut off the end where it gains most (section 1).

    The number of epochs is the estimator's ``max_iter``: the resource that
    :class:`CoarseToFineSearchCV` with ``max_time`` halves.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training data; only its shape is used.

    y : array-like of shape (n_samples,)
        Targets (unused, for a uniform signature).

    prefix : str, default=""
        Prepended to every name, e.g. ``"batchnormmlpclassifier__"`` for
        the last step of a pipeline built around `estimator`. When
        `estimator` is itself a pipeline or meta-estimator, the names get the
        path of its skbnnet step (``"clf__"``) without asking; a `prefix`
        equal to that path is not added twice, and one naming a step selects
        it among several.

    estimator : estimator, default=None
        The estimator to tune: a :class:`~skbnnet.BatchNormMLPClassifier` or
        :class:`~skbnnet.BatchNormMLPRegressor`, or a pipeline or
        meta-estimator with one as a step. Only the parameters that network
        accepts are returned (so that a regressor drops
        ``label_smoothing``); a regressor samples ``weight_decay`` up to 10.
        None means a default :class:`~skbnnet.BatchNormMLPClassifier`.

    cv : int, cross-validation generator or an iterable, default=3
        The cross-validation of the search, to size the largest batch from
        its smallest training set.

    Returns
    -------
    space : dict
        Parameter names mapped to distributions (with ``rvs``, ``cdf`` and
        ``ppf``) or lists, for :class:`CoarseToFineSearchCV` and
        :class:`~sklearn.model_selection.RandomizedSearchCV`; convert it with
        :func:`to_optuna` for optuna's ``OptunaSearchCV``.

    Raises
    ------
    TypeError
        If `estimator` is not, and holds no, skbnnet network.
    ValueError
        If `cv` has fewer than 2 folds, or its training sets fewer than 2
        rows (batch norm needs 2 rows in a batch).

    Examples
    --------
    >>> import numpy as np
    >>> from skbnnet.model_selection import default_search_space
    >>> space = default_search_space(np.zeros((1000, 20)), np.zeros(1000))
    >>> space["learning_rate_init"]
    LogUniform(0.0001, 0.1)
    >>> max(max(sizes) for sizes in space["hidden_layer_sizes"])
    2048
    """
    n_samples = np.shape(X)[0]
    n_features = np.shape(X)[1] if np.ndim(X) > 1 else 1
    if estimator is None:
        estimator = BatchNormMLPClassifier()
    path, network = _network_step(estimator, prefix)
    if path and prefix == path:
        prefix = ""
    accepted = network.get_params()
    n_train = _smallest_training_set(X, y, cv, estimator)
    if n_train < 2:
        raise ValueError(
            f"The smallest training set of cv={cv!r} on {n_samples} rows has "
            f"{n_train}: batch norm needs at least 2 rows in a batch."
        )
    high_batch = int(min(512, max(32, n_train // 4), n_train))
    low_batch = max(2, min(32, high_batch // 2))

    def macs(sizes):
        units = (n_features, *sizes)
        return sum(a * b for a, b in zip(units[:-1], units[1:]))

    # Widths up to 2048, depths 1 to 3, but no network costlier per row than
    # one layer of 2048 or three of 256: costlier ones leave a time budget
    # too few fits.
    widest = max(macs((2048,)), macs((256, 256, 256)))
    layers = [
        (width,) * depth
        for depth in (1, 2, 3)
        for width in (128, 256, 512, 1024, 2048)
        if macs((width,) * depth) <= widest
    ]
    space = {
        "hidden_layer_sizes": layers,
        "learning_rate_init": LogUniform(1e-4, 1e-1),
        "batch_size": (
            LogUniformInt(low_batch, high_batch)
            if high_batch > low_batch
            else [high_batch]
        ),
        "beta_1": OneMinusLogUniform(0.8, 0.99),
        "alpha": LogUniform(1e-6, 1.0),
        "dropout": stats.uniform(0.0, 0.5),
    }
    space.update(
        {
            "weight_decay": LogUniform(1e-5, 10.0 if is_regressor(network) else 1.0),
            "label_smoothing": stats.uniform(0.0, 0.2),
            "learning_rate": ["cosine"],
        }
    )
    space = {name: dist for name, dist in space.items() if name in accepted}
    return {prefix + path + name: dist for name, dist in space.items()}


def to_optuna(space):
    """Convert a search space to optuna distributions for ``OptunaSearchCV``.

    Parameters
    ----------
    space : dict
        Parameter names mapped to distributions or lists, as
        :func:`default_search_space` returns.

    Returns
    -------
    optuna_space : dict
        The same names mapped to ``optuna.distributions`` objects:
        :class:`~skbnnet.distributions.LogUniform` and
        :func:`scipy.stats.loguniform` become a log-scale
        ``FloatDistribution``, :class:`~skbnnet.distributions.LogUniformInt`
        a log-scale ``IntDistribution``, :func:`scipy.stats.uniform` a
        ``FloatDistribution``, lists a ``CategoricalDistribution``. optuna
        has no scale for ``1 - x``: a
        :class:`~skbnnet.distributions.OneMinusLogUniform` becomes a
        ``CategoricalDistribution`` of 9 values evenly spaced in
        ``log(1 - x)`` (its :meth:`grid`).

    Raises
    ------
    TypeError
        For a distribution with no optuna counterpart.
    """
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    def convert(name, dist):
        if isinstance(dist, LogUniformInt):
            return IntDistribution(dist.low, dist.high, log=True)
        if isinstance(dist, LogUniform):
            return FloatDistribution(dist.low, dist.high, log=True)
        if isinstance(dist, OneMinusLogUniform):
            return CategoricalDistribution([float(v) for v in dist.grid(9)])
        frozen = getattr(dist, "dist", None)
        if frozen is not None and hasattr(dist, "support"):
            low, high = (float(v) for v in dist.support())
            kind = frozen.name
            if kind == "uniform":
                return FloatDistribution(low, high)
            if kind in ("loguniform", "reciprocal"):
                return FloatDistribution(low, high, log=True)
            if kind == "randint":
                return IntDistribution(int(low), int(high))
        if isinstance(dist, (list, tuple)):
            with warnings.catch_warnings():
                # Tuples (hidden_layer_sizes) work in memory; optuna warns
                # only that a database could not store them.
                warnings.simplefilter("ignore", UserWarning)
                return CategoricalDistribution(list(dist))
        raise TypeError(
            f"No optuna distribution for {name}={dist!r}; pass a LogUniform, "
            "LogUniformInt, OneMinusLogUniform, scipy uniform, loguniform or "
            "randint, or a list."
        )

    return {name: convert(name, dist) for name, dist in space.items()}
