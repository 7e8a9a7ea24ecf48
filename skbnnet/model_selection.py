"""Coarse-to-fine hyper-parameter search, within a time budget if asked.

:class:`CoarseToFineSearchCV` extends scikit-learn's ``BaseSearchCV`` through
its one documented hook, ``_run_search``: every round hands its candidates to
``evaluate_candidates``, which fits and scores them and returns the results of
all rounds so far; the round of each candidate (and, with a time budget, its
epoch budget) travels in ``more_results``. :func:`default_search_space`
returns the distributions the benchmark chose for
:class:`~skbnnet.BatchNormMLPClassifier`, and :func:`to_optuna` converts
such a space for optuna's ``OptunaSearchCV``.
"""

import contextvars
import math
import numbers
import time
import warnings
from collections.abc import Mapping

import numpy as np
from joblib import effective_n_jobs
from scipy import stats
from sklearn.base import is_regressor
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import ParameterSampler, check_cv
from sklearn.utils import check_random_state

from skbnnet._callbacks import RoundTasks
from skbnnet._compat import BaseSearchCV, Interval, _sk_search
from skbnnet.distributions import LogUniform, LogUniformInt, OneMinusLogUniform

__all__ = ["CoarseToFineSearchCV", "default_search_space", "to_optuna"]

# While a CoarseToFineSearchCV searches, a dict counting its fits and failed
# fits: a round whose fits all failed is then recorded with error scores
# instead of raising (see _warn_or_raise_about_fit_failures).
_TOLERATE_ALL_FAILED = contextvars.ContextVar("_TOLERATE_ALL_FAILED", default=None)
_sk_warn_or_raise = _sk_search._warn_or_raise_about_fit_failures


def _warn_or_raise_about_fit_failures(results, error_score):
    """scikit-learn's check, which keeps a failed round when we ask it to.

    ``BaseSearchCV.fit``'s ``evaluate_candidates`` raises "All the N fits
    failed" when every fit of one call failed, before recording them, which
    would lose the earlier rounds of a coarse-to-fine search. Inside
    :meth:`CoarseToFineSearchCV._run_search` such a round only warns, and
    the search itself raises at the end if every fit of every round failed.
    Elsewhere scikit-learn's behaviour is unchanged.
    """
    failed = sum(result["fit_error"] is not None for result in results)
    fits = _TOLERATE_ALL_FAILED.get()
    if fits is not None:
        fits["total"] += len(results)
        fits["failed"] += failed
    if fits is not None and results and failed == len(results):
        warnings.warn(
            f"All the {failed} fits of this round failed; their scores are set "
            f"to {error_score}. The search goes on.",
            FitFailedWarning,
            stacklevel=2,
        )
        return
    _sk_warn_or_raise(results, error_score)


# The name is looked up in the module's globals at each call.
_sk_search._warn_or_raise_about_fit_failures = _warn_or_raise_about_fit_failures

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
        Number of candidates sampled in each round. Ignored with `max_time`,
        where the budget sets the size of each round.

    n_rounds : int, default=3
        Number of rounds, the first one included. With `max_time`, the
        number of rungs of the successive halving of epochs (round ``r``
        trains for ``max_iter / 3 ** (n_rounds - 1 - r)`` epochs); rounds
        of new candidates at full ``max_iter`` follow while time is left,
        so `n_rounds_` may be larger.

    top_k : int, default=3
        Number of best candidates the next round zooms in on.

    zoom : float, default=0.5
        Factor by which the width of each quantile window shrinks from one
        round to the next: round ``r`` uses windows of width ``zoom ** r``.
        Must be in the open interval ``(0, 1)``.

    max_time : float, default=None
        Time budget in seconds, counted from the start of the search and
        including the refit of the best candidate: the search plans its
        rounds to end within it (see Notes). None searches `n_iter`
        candidates in each of `n_rounds` rounds, however long it takes.

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
        key ``"round"`` holds the 0-based round of each candidate; with
        `max_time` and an estimator with a ``max_iter`` parameter, the key
        ``"n_resources"`` holds each candidate's epoch budget, also set as
        its ``max_iter`` parameter (as in
        :class:`~sklearn.model_selection.HalvingRandomSearchCV`).

    n_rounds_ : int
        Number of rounds run.

    best_estimator_ : estimator
        Estimator refit on the whole dataset with the best parameters found in
        all rounds (with `max_time`, among the candidates trained for the
        most epochs). Not available if ``refit=False``.

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

    A round whose fits all fail (with a numeric `error_score`) is recorded
    with that score and a :class:`~sklearn.exceptions.FitFailedWarning`,
    and the search goes on; it raises only if every fit of every round
    failed.

    **Time budget.** With `max_time`, the epochs of the estimator (its
    ``max_iter``, or that of a pipeline's last step) are the resource of a
    successive halving planned from measured times:

    - round 0 trains random candidates for ``max_iter / 3 ** (n_rounds -
      1)`` epochs, first one per worker, then in batches that double, as
      long as they fit in the round's share of the budget;
    - each later round retrains the best third of the previous round for 3
      times as many epochs, then fills its share with new candidates drawn
      near the `top_k` best, in quantile windows as above;
    - after the last rung, rounds of new candidates near the best at full
      ``max_iter`` go on while one more fits.

    A round's share is the time left, less the predicted refit, divided by
    the rounds left. A fit's time is predicted from the measured seconds per
    epoch of the same candidate (or of those it was drawn near); no batch
    is launched whose predicted end, with a 20% margin, is past the
    deadline. When the best candidate cannot afford ``max_iter`` epochs in
    the time left, the ladder is shortened to what it can. Estimators
    without ``max_iter`` (or whose ``max_iter`` is searched) get rounds of
    full fits planned the same way.

    How others spend a budget: scikit-learn's ``HalvingRandomSearchCV``
    fixes its candidates and rungs before it starts, in resource units, so a
    time budget can only be hit by trial and error (on the benchmark the
    same calibration ran 2 s or 237 s for 30 s, as the machine's load
    changed); Hyperband repeats such brackets with different trade-offs and
    ASHA promotes asynchronously, both counting resources, not seconds;
    optuna's ``timeout`` only stops launching trials, lets the running ones
    finish and excludes the refit (103 s and 311 s for 30 s on MNIST-5k);
    FLAML orders its search by cost, cheap configurations first. This
    search plans in seconds measured as it goes, promotes by successive
    halving of epochs, caps the cost of its default space, and stops
    launching before the budget, refit included, runs out.

    **Reproducibility.** With ``max_time=None`` the results depend only on
    `random_state`, whatever `n_jobs` or joblib backend. With a budget, the
    number of candidates in each round depends on measured times, so runs
    differ; but each round draws from its own stream seeded by
    `random_state`, so round 0 is always a prefix of the same sequence, and
    the candidates of a given ``cv_results_["params"]`` give the same
    scores again.

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
        "max_time": [Interval(numbers.Real, 0, None, closed="neither"), None],
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
        max_time=None,
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
        self.max_time = max_time
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

    def _run_search(self, evaluate_candidates, *, callback_ctx=None):
        """Search round after round, each zooming in on the best so far.

        ``callback_ctx`` (scikit-learn >= 1.9) is the search's root task:
        each round becomes a task in it (see ``skbnnet._callbacks``).
        """
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

        rounds = None
        if callback_ctx is not None:
            n_rounds = self.n_rounds if self.max_time is None else None
            rounds = RoundTasks(self, evaluate_candidates, callback_ctx, n_rounds)
            evaluate_candidates = rounds
        fits = {"total": 0, "failed": 0}
        token = _TOLERATE_ALL_FAILED.set(fits)
        try:
            if self.max_time is None:
                self._search_rounds(spaces, evaluate_candidates)
            else:
                _BudgetedSearch(self, spaces, evaluate_candidates).run()
        finally:
            _TOLERATE_ALL_FAILED.reset(token)
        if rounds is not None:
            rounds.close()

        if fits["failed"] == fits["total"]:
            raise ValueError(
                f"All the {fits['total']} fits of the {self.n_rounds_} round(s) "
                "failed. It is very likely that the estimator is misconfigured; "
                "set error_score='raise' to see the error."
            )

    def _search_rounds(self, spaces, evaluate_candidates):
        """`n_rounds` rounds of `n_iter` candidates (no time budget)."""
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
            self.n_rounds_ = round_idx + 1

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
        return results

    @staticmethod
    def _select_best_index(refit, refit_metric, results):
        """Index of the best candidate; with a budget, among the longest fits.

        Short fits of the first rounds rank candidates for promotion; only
        the candidates trained with the largest epoch budget compete for
        ``best_index_``, as in scikit-learn's successive halving (the maximum
        of many noisy short-fit scores would otherwise be biased upwards).
        """
        if callable(refit) or "n_resources" not in results:
            return BaseSearchCV._select_best_index(refit, refit_metric, results)
        scores = np.asarray(results[f"mean_test_{refit_metric}"], dtype=float)
        resources = np.asarray(results["n_resources"])
        longest = np.flatnonzero((resources == resources.max()) & np.isfinite(scores))
        if longest.size == 0:
            return BaseSearchCV._select_best_index(refit, refit_metric, results)
        # The first of equals, as rank_test_* orders ties.
        return int(longest[np.argmax(scores[longest])])


# Successive halving: from one round to the next, the epoch budget grows and
# the number of promoted candidates shrinks by this factor.
_FACTOR = 3

# Predicted times are stretched by this factor before they are checked
# against the time left: measured fit times vary by about that much from one
# fit to the next on a busy machine.
_MARGIN = 1.2


def _resource_name(estimator, spaces):
    """The parameter holding the estimator's epochs, or None.

    ``max_iter`` of the estimator, or of the last step of a pipeline that has
    one (``"clf__max_iter"``). None when no parameter is called so, or when
    the search space samples it: the search then keeps the sampled values.
    """
    params = estimator.get_params(deep=True)
    names = [
        name
        for name, value in params.items()
        if (name == "max_iter" or name.endswith("__max_iter"))
        and isinstance(value, numbers.Integral)
        and not isinstance(value, bool)
    ]
    if not names or any(names[-1] in space for space in spaces):
        return None
    return names[-1]


def _as_distributions(space):
    """Turn the lists of a space into `_Choice` draws.

    `ParameterSampler` then samples every space lazily and with replacement,
    so that the first ``n`` candidates of a stream do not depend on how many
    are drawn in all.
    """
    if isinstance(space, Mapping):
        return {
            name: dist if hasattr(dist, "rvs") else _Choice(list(dist))
            for name, dist in space.items()
        }
    return [_as_distributions(subspace) for subspace in space]


def _n_splits(search):
    """The number of CV splits, known before the first fit.

    scikit-learn < 1.7 sets ``n_splits_`` only after ``_run_search``; the
    splitter then answers itself, unless it needs the data (LeaveOneOut),
    where the measured throughput of the first round corrects a guess.
    """
    n_splits = getattr(search, "n_splits_", None)
    if n_splits is None:
        try:
            n_splits = check_cv(search.cv).get_n_splits()
        except (TypeError, ValueError):
            n_splits = 5
    return n_splits


class _BudgetedSearch:
    """The rounds of a `CoarseToFineSearchCV` planned within ``max_time``.

    Successive halving of epochs, with costs measured as the search goes:

    - round 0 trains many random candidates for ``max_iter / 3**(R - 1)``
      epochs (``R = n_rounds``): first one candidate per worker, to measure
      the cost of a fit, then as many as fit in its share of the budget;
    - round ``r`` retrains the best third of round ``r - 1`` for three times
      as many epochs, then fills the rest of its share with new candidates
      drawn near the `top_k` best (the coarse-to-fine step);
    - after round ``R - 1`` (full ``max_iter``), rounds of new candidates
      near the best go on while one more fits in the budget.

    A round's share is the time left (less the refit's estimated time)
    divided by the rounds left. A candidate's time is predicted from its
    own measured seconds per epoch, or for a new one from those of the
    candidates it was drawn near (or of all of round 0), and a batch's
    wall time from the ratio of fit seconds to wall seconds of the last
    batch. No batch is launched whose predicted end is past the deadline.
    When the budget cannot afford ``max_iter`` epochs for the best
    candidate, the later rounds' epoch budgets shrink to what it can.
    """

    def __init__(self, search, spaces, evaluate_candidates):
        self.search = search
        self.spaces = spaces
        self.evaluate_candidates = evaluate_candidates
        self.start = time.perf_counter()
        self.deadline = self.start + search.max_time
        self.n_workers = max(1, effective_n_jobs(search.n_jobs))
        self.n_splits = _n_splits(search)
        self.resource = _resource_name(search.estimator, spaces)
        if self.resource is not None:
            self.max_epochs = search.estimator.get_params()[self.resource]
        else:
            self.max_epochs = None
        self.rng = check_random_state(search.random_state)
        self.results = None
        # Fit seconds (summed over workers) per wall second, of the last batch.
        self.throughput = float(self.n_workers)
        self.reserve = 0.0  # predicted seconds of the refit
        self.base_params = []  # each candidate's params, without the resource

    # -- bookkeeping ------------------------------------------------------

    def _left(self):
        return self.deadline - time.perf_counter() - self.reserve

    def _epochs_of(self, index):
        if self.resource is None:
            return 1
        return self.results["n_resources"][index]

    def _cost(self, index):
        """Measured (seconds per epoch, score seconds) of one split's fit."""
        fit = float(self.results["mean_fit_time"][index])
        score = float(self.results["mean_score_time"][index])
        return fit / self._epochs_of(index), score

    def _predict(self, costs, epochs):
        """Predicted split seconds of fits with these costs at `epochs`."""
        epochs = 1 if epochs is None else epochs
        return [per_epoch * epochs + score for per_epoch, score in costs]

    def _wall(self, split_seconds):
        """Predicted wall seconds of a batch, given each candidate's split time."""
        if not split_seconds:
            return 0.0
        total = sum(split_seconds) * self.n_splits
        # A margin for the noise of measured times.
        return _MARGIN * max(total / self.throughput, max(split_seconds))

    def _mean_cost(self, indices):
        costs = [self._cost(i) for i in indices]
        return tuple(np.mean(costs, axis=0))

    def _ranked(self, indices):
        """`indices` with a finite score, best first (stable on ties)."""
        key = _ranking_key(self.results, self.search.refit)
        scores = np.asarray(self.results[key], dtype=float)
        indices = np.asarray(indices, dtype=int)
        indices = indices[np.isfinite(scores[indices])]
        return indices[np.argsort(-scores[indices], kind="stable")].tolist()

    def _evaluate(self, candidates, round_idx, epochs):
        n = len(candidates)
        if self.resource is not None:
            params = [{**c, self.resource: epochs} for c in candidates]
        else:
            params = candidates
        more = {"round": [round_idx] * n}
        if self.resource is not None:
            more["n_resources"] = [epochs] * n
        started = time.perf_counter()
        self.results = self.evaluate_candidates(params, more_results=more)
        wall = time.perf_counter() - started
        self.base_params.extend(candidates)
        new = slice(len(self.results["params"]) - n, None)
        busy = self.n_splits * float(
            np.sum(self.results["mean_fit_time"][new])
            + np.sum(self.results["mean_score_time"][new])
        )
        if wall > 0 and busy > 0:
            # At least half the workers: a first small batch also pays for
            # starting them and waits for its stragglers.
            self.throughput = min(
                max(busy / wall, 0.5 * self.n_workers), float(self.n_workers)
            )
        return list(range(len(self.results["params"]) - n, len(self.results["params"])))

    def _update_reserve(self, ranked, epochs):
        """Predicted refit time of the best candidate so far at `epochs`."""
        if not self.search.refit or not ranked:
            self.reserve = 0.0
            return
        scale = self.n_splits / max(self.n_splits - 1, 1)
        (seconds,) = self._predict([self._cost(ranked[0])], epochs)
        self.reserve = _MARGIN * seconds * scale

    def _fill(self, costs_per_candidate, epochs, share, cap=None):
        """How many new candidates of this cost fit in `share` seconds."""
        (seconds,) = self._predict([costs_per_candidate], epochs)
        seconds *= _MARGIN
        if seconds <= 0:
            return 0
        n = int(share * self.throughput / (seconds * self.n_splits))
        # A single fit longer than the share does not fit either.
        if seconds > share:
            n = 0
        return n if cap is None else min(n, cap)

    # -- the plan ---------------------------------------------------------

    def _planned_epochs(self, round_idx, n_rounds, final_epochs):
        if self.resource is None:
            return None
        steps = max(n_rounds - 1 - round_idx, 0)
        return max(1, round(final_epochs / _FACTOR**steps))

    def _sampler(self, space):
        """An endless stream of candidates from `space`, seeded per round."""
        seed = self.rng.randint(np.iinfo(np.int32).max)
        return iter(
            ParameterSampler(_as_distributions(space), n_iter=2**62, random_state=seed)
        )

    def _report(self, round_idx, n_candidates, epochs):
        if self.search.verbose <= 0:
            return
        key = _ranking_key(self.results, self.search.refit)
        scores = np.asarray(self.results[key], dtype=float)
        best = np.nanmax(scores) if np.isfinite(scores).any() else np.nan
        epochs = "" if epochs is None else f" of {epochs} epochs"
        print(
            f"[CoarseToFineSearchCV] round {round_idx}: {n_candidates} "
            f"candidates{epochs}, best score so far {best:.4f}, "
            f"{time.perf_counter() - self.start:.1f} s of {self.search.max_time:g}"
        )

    def run(self):
        search = self.search
        n_rounds = search.n_rounds
        final_epochs = self.max_epochs

        # Round 0: one candidate per worker to measure costs, then as many
        # as fit in the round's share.
        epochs = self._planned_epochs(0, n_rounds, final_epochs)
        sampler = self._sampler(search.param_distributions)
        round_start = time.perf_counter()
        share = self._left() / n_rounds
        batch = self.n_workers
        indices = self._evaluate([next(sampler) for _ in range(batch)], 0, epochs)
        while True:
            # Batches double in size: feedback early, little overhead later.
            left = share - (time.perf_counter() - round_start)
            batch *= 2
            n = self._fill(self._mean_cost(indices), epochs, 0.95 * left, batch)
            if n < 1:
                break
            indices += self._evaluate([next(sampler) for _ in range(n)], 0, epochs)
        previous = indices
        self._report(0, len(indices), epochs)
        round_idx = 1

        while True:
            if round_idx >= n_rounds and self.resource is not None:
                # Extra rounds: zoom on the best of the longest fits.
                top = max(self._epochs_of(i) for i in range(len(self.base_params)))
                ranked = self._ranked(
                    [
                        i
                        for i in range(len(self.base_params))
                        if self._epochs_of(i) == top
                    ]
                )
            else:
                ranked = self._ranked(previous)
            if not ranked:
                ranked = self._ranked(range(len(self.base_params)))
            if not ranked:
                # No finite score yet: sample the whole space again.
                rounds_left = max(n_rounds - round_idx, 1)
                n = self._fill(
                    self._mean_cost(previous), epochs, 0.95 * self._left() / rounds_left
                )
                if n < 1:
                    break
                sampler = self._sampler(search.param_distributions)
                previous = self._evaluate(
                    [next(sampler) for _ in range(n)], round_idx, epochs
                )
                self._report(round_idx, n, epochs)
                round_idx += 1
                continue
            rounds_left = max(n_rounds - round_idx, 1)

            if self.resource is not None:
                # Shrink the final epoch budget to what the best candidate can
                # afford: one cross-validation per round left, plus the refit.
                per_epoch, score = self._cost(ranked[0])
                scale = self.n_splits / max(self.n_splits - 1, 1)
                per_round = (
                    per_epoch * self.n_splits / min(self.throughput, self.n_splits)
                )
                refit = per_epoch * scale if search.refit else 0.0
                left = self.deadline - time.perf_counter()
                affordable = int(left / (rounds_left * per_round + refit))
                final_epochs = min(self.max_epochs, max(affordable, 1))
                epochs = self._planned_epochs(round_idx, n_rounds, final_epochs)
                if epochs < 2 * self._epochs_of(ranked[0]):
                    # The ladder left is too short for the steps to be worth
                    # a retraining each: one last step, to as many epochs as
                    # the time left affords the best (or, if that is no
                    # longer than it was trained for, explore near it).
                    jump = int(left / (_MARGIN * (per_round + refit)))
                    epochs = max(min(self.max_epochs, jump), self._epochs_of(ranked[0]))
                    if epochs > self._epochs_of(ranked[0]):
                        rounds_left = 1
                self._update_reserve(ranked, epochs)
            share = self._left() / rounds_left
            if self.resource is not None and epochs > self._epochs_of(ranked[0]):
                # If the best alone overruns the share, take the whole time
                # left, then fewer epochs.
                one = self._wall(self._predict([self._cost(ranked[0])], epochs))
                if one > share:
                    share = max(share, self._left())
                if one > share:
                    epochs = max(int(epochs * share / one), self._epochs_of(ranked[0]))

            # Promote the best of the previous round to `epochs`.
            grows = self.resource is not None and epochs > self._epochs_of(ranked[0])
            promoted = []
            if grows:
                cap = max(1, math.ceil(len(previous) / _FACTOR))
                for index in ranked[:cap]:
                    trial = promoted + [index]
                    seconds = self._predict([self._cost(i) for i in trial], epochs)
                    if self._wall(seconds) > share:
                        break
                    promoted = trial
            candidates = [self.base_params[i] for i in promoted]
            seconds = self._predict([self._cost(i) for i in promoted], epochs)
            spent = self._wall(seconds)

            # Fill the rest with new candidates near the top_k best.
            centres = ranked[: search.top_k]
            zoomed = _zoom_in(
                self.spaces,
                [self.base_params[i] for i in centres],
                search.zoom**round_idx,
            )
            # At full epochs, new candidates go in small batches: a wrong
            # prediction then costs little, and the next batch is re-planned.
            cap = None if grows and round_idx < n_rounds - 1 else 2 * self.n_workers
            n_new = self._fill(
                self._mean_cost(centres), epochs, 0.95 * (share - spent), cap
            )
            if n_new >= 1:
                zoom_sampler = self._sampler(zoomed)
                candidates += [next(zoom_sampler) for _ in range(n_new)]
            if not candidates:
                break
            previous = self._evaluate(candidates, round_idx, epochs)
            self._report(round_idx, len(candidates), epochs)
            round_idx += 1
        search.n_rounds_ = round_idx
        return self.results


def default_search_space(X, y, *, prefix="", estimator=None, cv=3):
    """Distributions of the hyperparameters worth tuning, sized from the data.

    The space that ``skbnnet tune`` searches, chosen on
    ``benchmarks/bench_tuning.py`` (five datasets, equal time budgets):

    - ``hidden_layer_sizes``: a list of equal-width stacks, depths 1 to 3,
      widths 128 to 2048, without those that cost more per row (in
      multiply-adds from ``n_features``) than one layer of 2048 or three of
      256: on a 30 s budget a (512, 512, 512) stack on 4,500 rows left room
      for 2 fits in the first round and tuned worse (0.68) than a search
      over cheaper stacks (0.82);
    - ``learning_rate_init`` log-uniform on [1e-4, 1e-1];
    - ``batch_size`` log-uniform from 32 to 512, at most a quarter of a
      cross-validation training set (but 32) and never more than all of it
      (from 16 to 32 on wine);
    - ``beta_1`` with ``1 - beta_1`` log-uniform on [0.01, 0.2];
    - ``alpha`` log-uniform on [1e-6, 1] and decoupled ``weight_decay``
      log-uniform on [1e-5, 1], or [1e-5, 10] for a regressor, whose default
      is 2.0: over 5 splits of ``load_diabetes`` and Friedman #1 the wider
      range tuned to a mean test R² of 0.401 and 0.938, against 0.390 and
      0.936 (``benchmarks/TUNING_NOTES.md``, section 8); ``dropout``
      uniform on [0, 0.5];
    - ``label_smoothing`` uniform on [0, 0.2]: on digits, (512,) with
      dropout 0.2 went from 0.949 to 0.976 test accuracy with 0.1;
    - ``learning_rate="cosine"``, which runs its whole schedule (no
      plateau stop): on digits a plateau stop after 26 of 60 epochs gave
      0.949, the full schedule 0.976 (same seed and parameters).

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
        the last step of a pipeline.

    estimator : estimator, default=None
        Only the parameters this estimator accepts are returned (so that a
        regressor drops ``label_smoothing``); a regressor samples
        ``weight_decay`` up to 10. None means a default
        :class:`~skbnnet.BatchNormMLPClassifier`.

    cv : int, default=3
        Folds of the cross-validation, to size the largest batch.

    Returns
    -------
    space : dict
        Parameter names mapped to distributions (with ``rvs``, ``cdf`` and
        ``ppf``) or lists, for :class:`CoarseToFineSearchCV` and
        :class:`~sklearn.model_selection.RandomizedSearchCV`; convert it with
        :func:`to_optuna` for optuna's ``OptunaSearchCV``.

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
    n_samples, n_features = np.shape(X)[0], (np.shape(X)[1] if np.ndim(X) > 1 else 1)
    if estimator is None:
        from skbnnet.classifier import BatchNormMLPClassifier

        estimator = BatchNormMLPClassifier()
    accepted = estimator.get_params()
    # The smallest training set of the cross-validation.
    n_train = max(2, n_samples - math.ceil(n_samples / cv))
    high_batch = int(min(512, max(32, n_train // 4), n_train))
    low_batch = min(32, high_batch // 2)

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
        "batch_size": LogUniformInt(low_batch, high_batch),
        "beta_1": OneMinusLogUniform(0.8, 0.99),
        "alpha": LogUniform(1e-6, 1.0),
        "dropout": stats.uniform(0.0, 0.5),
    }
    space.update(
        {
            "weight_decay": LogUniform(1e-5, 10.0 if is_regressor(estimator) else 1.0),
            "label_smoothing": stats.uniform(0.0, 0.2),
            "learning_rate": ["cosine"],
        }
    )
    space = {name: dist for name, dist in space.items() if name in accepted}
    return {prefix + name: dist for name, dist in space.items()}


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
