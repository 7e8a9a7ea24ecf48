"""Coarse-to-fine hyper-parameter search."""

import numbers
from collections.abc import Mapping

import numpy as np
from sklearn.model_selection import ParameterSampler
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import check_random_state

from skbnnet._compat import Interval

__all__ = ["CoarseToFineSearchCV"]

# ppf(0) is one step below the support of a scipy discrete distribution and
# ppf(0) or ppf(1) is infinite for an unbounded one: keep quantiles inside (0, 1).
_Q_MIN = np.finfo(np.float64).tiny
_Q_MAX = 1.0 - np.finfo(np.float64).epsneg


class _QuantileWindow:
    """Draw ``dist.ppf(q)`` with ``q`` uniform in a quantile window around a value.

    The window has width ``width`` in quantile space, is centred on the
    quantile of ``centre`` and is clipped to ``(0, 1)``, so a draw never
    leaves the support of ``dist``. An integer ``centre`` marks a discrete
    distribution: its quantile is then the middle of the step of the cdf at
    ``centre``, the interval that ``ppf`` maps to ``centre``.
    """

    def __init__(self, dist, centre, width):
        self.dist = dist
        self.integral = isinstance(centre, numbers.Integral)
        if self.integral:
            quantile = (dist.cdf(centre - 1) + dist.cdf(centre)) / 2
        else:
            quantile = dist.cdf(centre)
        self.low = max(float(quantile) - width / 2, _Q_MIN)
        self.high = min(float(quantile) + width / 2, _Q_MAX)

    def rvs(self, random_state=None):
        rng = check_random_state(random_state)
        value = self.dist.ppf(rng.uniform(self.low, self.high))
        return int(value) if self.integral else float(value)


class _Choice:
    """Draw one of ``values`` uniformly, as `ParameterSampler` draws from a list.

    Having ``rvs`` keeps `ParameterSampler` from sampling without replacement
    from a grid when every parameter of a round is a list.
    """

    def __init__(self, values):
        self.values = values

    def rvs(self, random_state=None):
        rng = check_random_state(random_state)
        return self.values[rng.randint(len(self.values))]


def _zoom_param(dist, value, peer_values, width):
    """Narrow one parameter's distribution around ``value``."""
    if hasattr(dist, "ppf") and hasattr(dist, "cdf"):
        return _QuantileWindow(dist, value, width)
    if hasattr(dist, "rvs"):
        # Without a quantile function there is no interval to shrink.
        return dist
    return _Choice(peer_values)


def _zoom_in(spaces, centres, width):
    """Return one parameter space per centre, narrowed around that centre.

    Parameters
    ----------
    spaces : list of dict
        The search spaces, each mapping parameter names to distributions or
        lists. A centre belongs to the space with the same parameter names.

    centres : list of dict
        Parameter settings to zoom in on.

    width : float
        Width of each quantile window, in ``(0, 1]``.

    Returns
    -------
    zoomed : list of dict
        ``zoomed[i]`` samples near ``centres[i]``; its lists are narrowed to
        the values used by the centres of the same space.
    """
    space_by_names = {frozenset(space): space for space in spaces}
    zoomed = []
    for centre in centres:
        names = frozenset(centre)
        peers = [peer for peer in centres if frozenset(peer) == names]
        zoomed.append(
            {
                name: _zoom_param(
                    dist, centre[name], [peer[name] for peer in peers], width
                )
                for name, dist in space_by_names[names].items()
            }
        )
    return zoomed


def _ranking_key(results, refit):
    """Key of the mean test score that ranks the candidates in `results`."""
    key = f"mean_test_{refit}"
    if key in results:
        return key
    # A single metric, or several with refit False or a callable: the first.
    return next(key for key in results if key.startswith("mean_test_"))


class CoarseToFineSearchCV(BaseSearchCV):
    """Randomized search that zooms in on the best candidates round after round.

    The first round samples ``n_iter`` candidates from `param_distributions`
    exactly as :class:`~sklearn.model_selection.RandomizedSearchCV` does with
    the same `random_state`. Each later round samples ``n_iter`` new
    candidates near the `top_k` best candidates of all previous rounds:

    - each candidate picks one of those top candidates uniformly at random;
    - a distribution with ``cdf`` and ``ppf`` is narrowed in quantile space:
      in round ``r`` (counting from 0) the value is ``dist.ppf(q)`` with ``q``
      uniform in a window of width ``zoom ** r`` centred on the quantile
      ``dist.cdf(v)`` of the top candidate's value ``v`` and clipped to
      ``(0, 1)``. Draws therefore never leave the original support. As the
      cdf of a log-uniform distribution such as
      :class:`~skbnnet.distributions.LogUniform` or
      :func:`scipy.stats.loguniform` is linear in ``log(x)``, its window is a
      window in log space;
    - a distribution with ``rvs`` only is sampled unchanged;
    - a list is narrowed to the values that the top candidates use: a draw
      takes the value of one of them at random, so a value shared by several
      top candidates is drawn more often.

    Candidates are ranked by mean test score: that of the metric named by
    `refit` for multi-metric scoring, of the first metric of `scoring` when
    `refit` is False or a callable. Candidates whose score is not finite
    (failed fits) are never zoomed in on; a round that finds no finite score
    so far samples `param_distributions` again. The ``best_*`` attributes and
    `cv_results_` cover all rounds.

    Parameters
    ----------
    estimator : estimator object
        An object of that type is instantiated for each candidate. It must
        implement ``fit`` and either ``score`` or be used with `scoring`.

    param_distributions : dict or list of dicts
        Dictionary with parameter names (`str`) as keys and distributions or
        lists of parameters to try, as for
        :class:`~sklearn.model_selection.RandomizedSearchCV`. Distributions
        must provide ``rvs(random_state=...)``; those that also provide
        ``cdf`` and ``ppf`` are narrowed from round to round. A list of dicts
        is a union of subspaces: the first round draws a subspace uniformly
        for each candidate, later rounds stay in the subspaces of the top
        candidates. The dicts must have distinct sets of parameter names.

    n_iter : int, default=10
        Number of candidates sampled in each round.

    n_rounds : int, default=3
        Number of rounds, the first one included.

    top_k : int, default=3
        Number of best candidates the next round zooms in on.

    zoom : float, default=0.5
        Factor by which the width of each quantile window shrinks from one
        round to the next: round ``r`` uses windows of width ``zoom ** r``.
        Must be in the open interval ``(0, 1)``.

    scoring : str, callable, list, tuple or dict, default=None
        Strategy to evaluate the performance of the cross-validated model on
        the test set, as in :class:`~sklearn.model_selection.RandomizedSearchCV`.
        If None, the estimator's ``score`` method is used.

    n_jobs : int, default=None
        Number of jobs to run in parallel. ``None`` means 1 unless in a
        :obj:`joblib.parallel_backend` context. ``-1`` means using all
        processors.

    refit : bool, str, or callable, default=True
        Refit an estimator using the best found parameters on the whole
        dataset. For multi-metric evaluation, this is the name of the scorer
        that selects the best parameters, and also ranks the candidates that
        later rounds zoom in on. See
        :class:`~sklearn.model_selection.RandomizedSearchCV` for a callable.

    cv : int, cross-validation generator or an iterable, default=None
        Determines the cross-validation splitting strategy: None for 5-fold,
        an int for that many (stratified) folds, a :term:`CV splitter` or an
        iterable of (train, test) index arrays. A splitter that shuffles
        should have a fixed `random_state`, so that all rounds are scored on
        the same splits.

    verbose : int, default=0
        Controls the verbosity: 0 prints nothing, >=1 prints one line per
        round with its number of candidates and the best score so far, plus
        scikit-learn's messages for higher values.

    pre_dispatch : int or str, default="2*n_jobs"
        Controls the number of jobs that get dispatched during parallel
        execution, as in :class:`~sklearn.model_selection.RandomizedSearchCV`.

    random_state : int, RandomState instance or None, default=None
        Pseudo random number generator state used for all rounds of
        sampling. Pass an int for reproducible output across multiple function
        calls. See :term:`Glossary <random_state>`.

    error_score : "raise" or numeric, default=np.nan
        Value to assign to the score if an error occurs in estimator fitting.
        If set to "raise", the error is raised. If a numeric value is given,
        FitFailedWarning is raised. This parameter does not affect the refit
        step, which will always raise the error.

    return_train_score : bool, default=False
        If ``False``, the `cv_results_` attribute will not include training
        scores.

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        A dict with keys as column headers and values as columns, that can be
        imported into a pandas ``DataFrame``, in the format of
        :class:`~sklearn.model_selection.RandomizedSearchCV`, with the
        candidates of all rounds in the order they were evaluated. The extra
        key ``"round"`` holds the 0-based round of each candidate.

    best_estimator_ : estimator
        Estimator refit on the whole dataset with the best parameters found in
        all rounds. Not available if ``refit=False``.

    best_score_ : float
        Mean cross-validated score of the best candidate of all rounds. Not
        available if `refit` is a function, nor for multi-metric evaluation
        with ``refit=False``.

    best_params_ : dict
        Parameter setting of the best candidate of all rounds. For multi-metric
        evaluation, not available if ``refit=False``.

    best_index_ : int
        Index in the `cv_results_` arrays of the best candidate. For
        multi-metric evaluation, not available if ``refit=False``.

    scorer_ : function or a dict
        Scorer function used on the held out data to choose the best
        parameters for the model, or a dict of them for multi-metric
        evaluation.

    n_splits_ : int
        The number of cross-validation splits (folds/iterations).

    refit_time_ : float
        Seconds used for refitting the best model on the whole dataset.
        Present only if ``refit`` is not False.

    multimetric_ : bool
        Whether or not the scorers compute several metrics.

    classes_ : ndarray of shape (n_classes,)
        The class labels. Present only if ``refit`` is not False and the
        estimator is a classifier.

    n_features_in_ : int
        Number of features seen during :term:`fit`. Only defined if
        `best_estimator_` is defined and exposes `n_features_in_` when fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Only defined if
        `best_estimator_` is defined and exposes `feature_names_in_` when fit.

    See Also
    --------
    sklearn.model_selection.RandomizedSearchCV : Random search in one round.
    sklearn.model_selection.HalvingRandomSearchCV : Random search that spends
        more resources on fewer candidates from round to round.
    skbnnet.distributions.LogUniform : Log-uniform distribution, narrowed in
        log space by this search.

    Notes
    -----
    Later rounds may propose a candidate that was already evaluated, for
    instance when every parameter is a list or an integer distribution whose
    window has narrowed to a few values.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skbnnet.model_selection import CoarseToFineSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> search = CoarseToFineSearchCV(
    ...     LogisticRegression(max_iter=1000),
    ...     {"C": loguniform(1e-4, 1e2)},
    ...     n_iter=4,
    ...     n_rounds=3,
    ...     random_state=0,
    ... ).fit(X, y)
    >>> search.cv_results_["round"]
    array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    >>> print(f"{search.best_score_:.2f}")
    0.97
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_rounds": [Interval(numbers.Integral, 1, None, closed="left")],
        "top_k": [Interval(numbers.Integral, 1, None, closed="left")],
        "zoom": [Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        param_distributions,
        *,
        n_iter=10,
        n_rounds=3,
        top_k=3,
        zoom=0.5,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        random_state=None,
        error_score=np.nan,
        return_train_score=False,
    ):
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.n_rounds = n_rounds
        self.top_k = top_k
        self.zoom = zoom
        self.random_state = random_state
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )

    def _run_search(self, evaluate_candidates):
        """Search `n_rounds` rounds, each zooming in on the best so far."""
        spaces = self.param_distributions
        if isinstance(spaces, Mapping):
            spaces = [spaces]
        names = [frozenset(space) for space in spaces]
        if len(set(names)) < len(names):
            raise ValueError(
                "The dicts of param_distributions must have distinct sets of "
                "parameter names, so that each candidate can be traced back to "
                "the dict it was drawn from."
            )

        rng = check_random_state(self.random_state)
        centres = []
        for round_idx in range(self.n_rounds):
            # Round 0, or no finite score yet: nothing to zoom in on.
            if centres:
                space = _zoom_in(spaces, centres, self.zoom**round_idx)
            else:
                space = self.param_distributions
            candidates = list(ParameterSampler(space, self.n_iter, random_state=rng))
            results = evaluate_candidates(
                candidates, more_results={"round": [round_idx] * len(candidates)}
            )

            scores = results[_ranking_key(results, self.refit)]
            finite = np.flatnonzero(np.isfinite(scores))
            # Stable sort: ties keep the order of evaluation.
            best_first = finite[np.argsort(-scores[finite], kind="stable")]
            centres = [results["params"][i] for i in best_first[: self.top_k]]

            if self.verbose > 0:
                best = scores[best_first[0]] if best_first.size else np.nan
                print(
                    f"[CoarseToFineSearchCV] round {round_idx}: "
                    f"{len(candidates)} candidates, best score so far {best:.4f}"
                )
