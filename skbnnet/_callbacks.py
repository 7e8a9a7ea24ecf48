"""The rounds of a coarse-to-fine search as tasks of scikit-learn's callbacks.

scikit-learn >= 1.9 gives ``BaseSearchCV._run_search`` the context of the
search's root task, and its ``evaluate_candidates`` makes one task per
(candidate, fold) fit under the context it is given. :class:`RoundTasks`
wraps ``evaluate_candidates`` so that each call (a round, or with a time
budget a batch of one) is a task of its own. The tree a ``ProgressBar`` or
a ``ScoringMonitor`` set on a :class:`~skbnnet.CoarseToFineSearchCV` sees::

    fit
      search                   one subtask per round (or batch)
        round r                one subtask per (candidate, fold)
          candidate-split-evaluation | BatchNormMLP*.fit
            epoch              (callbacks propagated to the estimator)
      refit-with-best-params | BatchNormMLP*.fit
        epoch

Candidates and folds are one level, as in scikit-learn's own searches:
task ``i`` of a round is candidate ``i // n_splits``, fold ``i % n_splits``.
"""


class RoundTasks:
    """``evaluate_candidates`` making each of its calls a task of the search.

    Parameters
    ----------
    search : BaseSearchCV
        The search being fitted (``n_splits_`` set).
    evaluate_candidates : callable
        The one ``BaseSearchCV.fit`` hands to ``_run_search``.
    callback_ctx : CallbackContext
        The search's root task.
    n_rounds : int or None
        How many calls will be made, None if not known in advance.
    """

    def __init__(self, search, evaluate_candidates, callback_ctx, n_rounds):
        self.search = search
        self.evaluate_candidates = evaluate_candidates
        self.task = callback_ctx.subcontext(task_name="search", max_subtasks=n_rounds)
        self.task.call_on_fit_task_begin(estimator=search)

    def __call__(self, candidate_params, cv=None, more_results=None):
        candidates = list(candidate_params)
        rounds = (more_results or {}).get("round")
        name = f"round {rounds[0]}" if rounds else "round"
        task = self.task.subcontext(
            task_name=name,
            max_subtasks=len(candidates) * self.search.n_splits_,
            sequential_subtasks=False,
        )
        task.call_on_fit_task_begin(estimator=self.search)
        results = self.evaluate_candidates(
            candidates, cv=cv, more_results=more_results, callback_ctx=task
        )
        task.call_on_fit_task_end(estimator=self.search)
        return results

    def close(self):
        """End the search task, after the last round."""
        self.task.call_on_fit_task_end(estimator=self.search)
