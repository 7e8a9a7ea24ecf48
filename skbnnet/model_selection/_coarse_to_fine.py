"""Coarse-to-fine hyper-parameter search, within a time budget if asked.

:class:`CoarseToFineSearchCV` extends scikit-learn's ``BaseSearchCV`` through
its one documented hook, ``_run_search``: every round hands its candidates to
``evaluate_candidates``, which fits and scores them and returns the results of
all rounds so far; the round of each candidate (and, with a time budget, its
epoch budget) travels in ``more_results``. With ``max_time`` the rounds are
planned by ``_budget.BudgetPlanner``; the sampling, zooming and ranking of
candidates stay here.
"""

import contextvars
import numbers
import time
import warnings
from collections.abc import Mapping
from contextlib import nullcontext
from itertools import chain

import numpy as np
from joblib import cpu_count, effective_n_jobs
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import ParameterSampler, check_cv
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from skbnnet._callbacks import RoundTasks
from skbnnet._compat import BaseSearchCV, Interval, replaced_fit_failure_check
from skbnnet.model_selection._budget import BudgetPlanner

__all__ = ["BudgetWarning", "CoarseToFineSearchCV"]


class BudgetWarning(UserWarning):
    """A search with ``max_time`` overran it, or refit a shortened fit.

    A subclass of ``UserWarning``, so that a filter can single it out.
    """


# While a CoarseToFineSearchCV searches, a dict counting its fits and failed
# fits: a round whose fits all failed is then recorded with error scores
# instead of raising (see _check_fit_failures).
_TOLERATE_ALL_FAILED = contextvars.ContextVar("_TOLERATE_ALL_FAILED", default=None)


def _check_fit_failures(sklearn_check, results, error_score):
    """scikit-learn's check, which keeps a failed round when we ask it to.

    ``BaseSearchCV.fit``'s ``evaluate_candidates`` raises "All the N fits
    failed" when every fit of one call failed, before recording them, which
    would lose the earlier rounds of a coarse-to-fine search. Inside
    :meth:`CoarseToFineSearchCV._run_search` such a round only warns, and
    the search itself raises at the end if every fit of every round failed;
    any other search gets `sklearn_check`, scikit-learn's own.
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
    sklearn_check(results, error_score)


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


def _best_first(results, refit, indices=None):
    """Indices of the candidates with a finite score, best first.

    Candidates are ranked by the mean test score of the metric named by
    `refit`, or of the first metric (a single metric, or several with
    `refit` False or a callable); ties keep the order of evaluation. Only
    `indices` are ranked if given, every candidate otherwise.
    """
    key = f"mean_test_{refit}"
    if key not in results:
        key = next(key for key in results if key.startswith("mean_test_"))
    scores = np.asarray(results[key], dtype=float)
    if indices is None:
        indices = np.arange(len(scores))
    indices = np.asarray(indices, dtype=int)
    indices = indices[np.isfinite(scores[indices])]
    return indices[np.argsort(-scores[indices], kind="stable")].tolist(), scores


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

    n_candidates_ : list of int
        Number of candidates evaluated in each round.

    n_resources_ : list of int
        Epochs each round trained its candidates for, as in
        :class:`~sklearn.model_selection.HalvingRandomSearchCV`. Only with
        `max_time` and an estimator with a ``max_iter`` parameter.

    best_estimator_ : estimator
        Estimator refit on the whole dataset with the best parameters found in
        all rounds (with `max_time`, with the epochs the best candidate was
        scored at). Not available if ``refit=False``.

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

    The first candidate of round 0 is the estimator as given (its own value
    of each parameter the space can draw), so the search has scored it. The
    best candidate is the best mean test score of all rounds, each with the
    epochs it was trained for, which its refit trains for again: longer fits
    that score worse do not replace a shorter one, and ``verbose`` says when
    the last round did worse than an earlier one.

    A round's share is the time left, less the predicted refit, divided by
    the rounds left. A fit's time is predicted from the measured seconds per
    epoch of the same candidate (or of those it was drawn near); no batch
    is launched whose predicted end, with a 20% margin, is past the
    deadline. When the best candidate cannot afford ``max_iter`` epochs in
    the time left, the ladder is shortened to what it can. Estimators
    without ``max_iter`` (or whose ``max_iter`` is searched) get rounds of
    full fits planned the same way.

    The fits that run in this process (the refit, and with ``n_jobs=1``
    every candidate) use one worker's share of the BLAS threads,
    ``cores // n_jobs`` (one for ``n_jobs=1``), so that measured times
    predict them. The search warns when it ends more than 10% past
    `max_time` (the first batch always runs: with ``n_jobs > 1``, starting
    the workers alone can take a few seconds) and when the refitted model
    trains for fewer than ``max_iter`` epochs.

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

    def fit(self, X, y=None, **params):
        """Search round after round, then refit the best candidate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs), \
default=None
            Targets, None for unsupervised learning.

        **params : dict of str -> object
            Parameters passed to the ``fit`` method of the estimator, the
            scorer and the CV splitter, as in
            :meth:`sklearn.model_selection.RandomizedSearchCV.fit`.

        Returns
        -------
        self : object
            The fitted search.
        """
        started = time.perf_counter()
        with replaced_fit_failure_check(_check_fit_failures), self._blas_threads():
            super().fit(X, y, **params)
        if self.max_time is not None:
            self._warn_about_budget(time.perf_counter() - started)
        return self

    def _blas_threads(self):
        """With a budget, this process's BLAS gets one worker's share of cores.

        joblib gives each of ``n_jobs`` worker processes ``cores // n_jobs``
        BLAS threads; the fits that run here (the refit, and with
        ``n_jobs=1`` every candidate) get as many, one for ``n_jobs=1``, so
        that the times the budget plans with hold. On digits with 2 cores
        under load, a refit with both cores' threads after single-thread
        workers ran 5-16 s where 1-2 s were planned, and with ``n_jobs=1``
        two threads overran budgets of 10 and 20 s by 60-70%, one thread
        not at all.
        """
        if self.max_time is None:
            return nullcontext()
        n_workers = effective_n_jobs(self.n_jobs)
        threads = max(1, cpu_count() // n_workers) if n_workers > 1 else 1
        return threadpool_limits(threads, user_api="blas")

    def _warn_about_budget(self, elapsed):
        """Warn when the search overran its budget or refit a short fit."""
        if elapsed > _OVERRUN * self.max_time:
            warnings.warn(
                f"The search took {elapsed:.1f} s, more than its budget of "
                f"max_time={self.max_time:g} s: the first fits took longer than "
                "the budget affords (or the machine got slower). Give more time "
                "or fewer folds (cv), or cheaper candidates.",
                BudgetWarning,
                stacklevel=3,
            )
        resource = _resource_name(self.estimator, _as_spaces(self.param_distributions))
        if not self.refit or resource is None or not hasattr(self, "best_params_"):
            return
        epochs = self.best_params_[resource]
        max_epochs = self.estimator.get_params()[resource]
        if epochs < max_epochs:
            warnings.warn(
                f"The refitted model was trained for {epochs} of {resource}="
                f"{max_epochs} epochs, as the candidate that scored best in "
                f"cross-validation within max_time={self.max_time:g} s. Give "
                "more time for longer fits.",
                BudgetWarning,
                stacklevel=3,
            )

    def _run_search(self, evaluate_candidates, *, callback_ctx=None):
        """Search round after round, each zooming in on the best so far.

        ``callback_ctx`` (scikit-learn >= 1.9) is the search's root task:
        each round becomes a task in it (see ``skbnnet._callbacks``).
        """
        spaces = _as_spaces(self.param_distributions)
        names = [frozenset(space) for space in spaces]
        if len(set(names)) < len(names):
            raise ValueError(
                "The dicts of param_distributions must have distinct sets of "
                "parameter names, so that each candidate can be traced back to "
                "the dict it was drawn from."
            )
        if not all(names):
            raise ValueError(
                "param_distributions has a dict without parameters: there is "
                "nothing to search. Pass at least one parameter to sample."
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
                self._search_budget(spaces, evaluate_candidates)
        finally:
            _TOLERATE_ALL_FAILED.reset(token)
        if rounds is not None:
            rounds.close()

        # Nothing is counted where scikit-learn's check could not be swapped;
        # it then raised for a round whose fits all failed.
        if fits["total"] and fits["failed"] == fits["total"]:
            raise ValueError(
                f"All the {fits['total']} fits of the {self.n_rounds_} round(s) "
                "failed. It is very likely that the estimator is misconfigured; "
                "set error_score='raise' to see the error."
            )

    def _search_rounds(self, spaces, evaluate_candidates):
        """`n_rounds` rounds of `n_iter` candidates (no time budget)."""
        rng = check_random_state(self.random_state)
        centres = []
        self.n_candidates_ = []
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
            self.n_candidates_.append(len(candidates))
            best_first, _ = _best_first(results, self.refit)
            centres = [results["params"][i] for i in best_first[: self.top_k]]
            self._report(results, round_idx, len(candidates))

    def _search_budget(self, spaces, evaluate_candidates):
        """Rounds planned within `max_time` (see ``_budget.BudgetPlanner``)."""
        start = time.perf_counter()
        resource = _resource_name(self.estimator, spaces)
        max_epochs = None
        if resource is not None:
            max_epochs = self.estimator.get_params()[resource]
        rng = check_random_state(self.random_state)

        def evaluate(candidates, round_idx, epochs):
            more = {"round": [round_idx] * len(candidates)}
            if resource is not None:
                candidates = [{**c, resource: epochs} for c in candidates]
                more["n_resources"] = [epochs] * len(candidates)
            return evaluate_candidates(candidates, more_results=more)

        def sample(centres, round_idx):
            if centres is None:
                space = self.param_distributions
            else:
                space = _zoom_in(spaces, centres, self.zoom**round_idx)
            # Each stream has its own seed, drawn in the order streams start.
            seed = rng.randint(np.iinfo(np.int32).max)
            stream = iter(
                ParameterSampler(
                    _as_distributions(space), n_iter=2**62, random_state=seed
                )
            )
            if round_idx == 0 and centres is None:
                # The estimator as given comes first: a search that ends on a
                # worse model has then seen, and scored, a better one.
                own = _with_own_values(self.estimator, spaces, next(stream))
                stream = chain([own], stream)
            return stream

        def report(results, round_idx, n_candidates, epochs):
            self._report(
                results, round_idx, n_candidates, epochs, time.perf_counter() - start
            )

        planner = BudgetPlanner(
            evaluate,
            sample,
            lambda results, indices: _best_first(results, self.refit, indices)[0],
            report,
            start=start,
            max_time=self.max_time,
            n_rungs=self.n_rounds,
            top_k=self.top_k,
            n_workers=max(1, effective_n_jobs(self.n_jobs)),
            n_splits=_n_splits(self),
            max_epochs=max_epochs,
            refit=bool(self.refit),
        )
        plan = planner.run()
        self.n_rounds_ = plan.n_rounds
        self.n_candidates_ = plan.n_candidates
        if resource is not None:
            self.n_resources_ = plan.n_resources
        if self.verbose > 0:
            self._report_regression(planner.results)

    def _report(self, results, round_idx, n_candidates, epochs=None, elapsed=None):
        """Under `verbose`, one line on a round just evaluated."""
        if self.verbose <= 0:
            return
        ranked, scores = _best_first(results, self.refit)
        best = scores[ranked[0]] if ranked else np.nan
        epochs = "" if epochs is None else f" of {epochs} epochs"
        timing = "" if elapsed is None else f", {elapsed:.1f} s of {self.max_time:g}"
        print(
            f"[CoarseToFineSearchCV] round {round_idx}: {n_candidates} "
            f"candidates{epochs}, best score so far {best:.4f}{timing}"
        )

    def _report_regression(self, results):
        """Under `verbose`, say when the last round's best trails an earlier one."""
        ranked, scores = _best_first(results, self.refit)
        rounds = np.asarray(results["round"])
        last = [i for i in ranked if rounds[i] == rounds.max()]
        if ranked and last and scores[last[0]] < scores[ranked[0]]:
            print(
                f"[CoarseToFineSearchCV] the last round's best score "
                f"{scores[last[0]]:.4f} is below {scores[ranked[0]]:.4f} of round "
                f"{rounds[ranked[0]]}, which is kept: longer fits did not pay"
            )


# A budget may be overrun by this factor before the search warns: measured
# fit times vary by about that much on a shared machine.
_OVERRUN = 1.1


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


def _as_spaces(param_distributions):
    """`param_distributions` as a list of dicts."""
    if isinstance(param_distributions, Mapping):
        return [param_distributions]
    return list(param_distributions)


def _with_own_values(estimator, spaces, candidate):
    """`candidate` with the estimator's own value of each parameter a space
    can draw (the others as drawn)."""
    own = estimator.get_params(deep=True)
    space = next(space for space in spaces if frozenset(space) == frozenset(candidate))
    merged = {}
    for name, drawn in candidate.items():
        value = own.get(name, drawn)
        if isinstance(drawn, float) and isinstance(value, numbers.Integral):
            # A continuous distribution's quantile window needs a float.
            value = float(value)
        merged[name] = value if _can_draw(space[name], drawn, value) else drawn
    return merged


def _can_draw(dist, drawn, value):
    """Whether `dist` (a distribution or a list), which drew `drawn`, can
    draw `value`."""
    if not hasattr(dist, "rvs"):
        return any(_equal(value, option) for option in dist)
    if isinstance(value, numbers.Integral) != isinstance(drawn, numbers.Integral):
        return False
    if (
        not hasattr(dist, "support")
        or not isinstance(value, numbers.Real)
        or isinstance(value, bool)
    ):
        return False
    low, high = dist.support()
    return bool(low <= value <= high)


def _equal(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # arrays, or types that do not compare
        return False


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
