"""Rounds of a coarse-to-fine search planned within a time budget.

Successive halving of epochs, with costs measured as the search goes:

- round 0 trains many random candidates for ``max_epochs / 3**(R - 1)``
  epochs (``R = n_rungs``): first one candidate per worker, to measure the
  cost of a fit, then as many as fit in its share of the budget;
- round ``r`` retrains the best third of round ``r - 1`` for three times as
  many epochs, then fills the rest of its share with new candidates drawn
  near the ``top_k`` best (the coarse-to-fine step);
- after round ``R - 1`` (full ``max_epochs``), rounds of new candidates near
  the best go on while one more fits in the budget.

A round's share is the time left (less the refit's estimated time) divided
by the rounds left. A candidate's time is predicted from its own measured
seconds per epoch, or for a new one from those of the candidates it was
drawn near (or of all of round 0), and a batch's wall time from the ratio of
fit seconds to wall seconds of the last batch. No batch is launched whose
predicted end is past the deadline. When the budget cannot afford
``max_epochs`` for the best candidate, the later rounds' epoch budgets
shrink to what it can.

:class:`BudgetPlanner` knows seconds and epochs only. It asks its owner,
through the callables it is given, to evaluate, draw and rank candidates,
and returns what it ran as a :class:`BudgetPlan`; it reads and writes no
attribute of the search.
"""

import math
import time
from dataclasses import dataclass, field

import numpy as np

# Successive halving: from one round to the next, the epoch budget grows and
# the number of promoted candidates shrinks by this factor.
FACTOR = 3

# Predicted times are stretched by this factor before they are checked
# against the time left: measured fit times vary by about that much from one
# fit to the next on a busy machine.
_MARGIN = 1.2


@dataclass
class BudgetPlan:
    """What a budgeted search ran, one entry per round.

    Attributes
    ----------
    n_candidates : list of int
        Candidates evaluated in each round.
    n_resources : list of int or None
        Epochs each round trained for (None where epochs are not the
        resource).
    """

    n_candidates: list = field(default_factory=list)
    n_resources: list = field(default_factory=list)

    @property
    def n_rounds(self):
        """Number of rounds run."""
        return len(self.n_candidates)

    def record(self, round_idx, n_candidates, epochs):
        """Count `n_candidates` more in round `round_idx` (a new or the last)."""
        if round_idx == self.n_rounds - 1:
            self.n_candidates[-1] += n_candidates
        else:
            self.n_candidates.append(n_candidates)
            self.n_resources.append(epochs)


class BudgetPlanner:
    """Plan and run the rounds of a search so that it ends within `max_time`.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(candidates, round_idx, epochs)`` fits and scores the
        candidates (parameter dicts without the epochs) for `epochs` epochs
        (None: the estimator's own) and returns the results of every
        candidate so far, in the format of ``cv_results_``.
    sample : callable
        ``sample(centres, round_idx)``: an endless iterator of new
        candidates for round `round_idx`, drawn from the whole space when
        `centres` is None, else near those parameter dicts.
    rank : callable
        ``rank(results, indices)``: those of `indices` with a finite score,
        best first.
    report : callable
        ``report(results, round_idx, n_candidates, epochs)``, after each
        round.
    start : float
        ``time.perf_counter()`` when the budget started.
    max_time : float
        The budget in seconds, the refit included.
    n_rungs : int
        Rounds of the successive halving of epochs.
    top_k : int
        Candidates each round draws new ones near.
    n_workers : int
        Fits that run at once.
    n_splits : int
        Cross-validation splits per candidate.
    max_epochs : int or None
        Epochs of the longest fits; None where the epochs are not the
        resource (every round then fits the estimator as it is).
    refit : bool
        Whether the search refits the best candidate within the budget.
    """

    def __init__(
        self,
        evaluate,
        sample,
        rank,
        report,
        *,
        start,
        max_time,
        n_rungs,
        top_k,
        n_workers,
        n_splits,
        max_epochs,
        refit,
    ):
        self.evaluate = evaluate
        self.sample = sample
        self.rank = rank
        self.report = report
        self.start = start
        self.deadline = start + max_time
        self.n_rungs = n_rungs
        self.top_k = top_k
        self.n_workers = n_workers
        self.n_splits = n_splits
        self.max_epochs = max_epochs
        self.refit = refit
        self.results = None
        self.plan = BudgetPlan()
        # Fit seconds (summed over workers) per wall second, of the last batch.
        self.throughput = float(n_workers)
        self.reserve = 0.0  # predicted seconds of the refit
        self.base_params = []  # each candidate's params, without the epochs
        self.epochs = []  # each candidate's epochs (1 without a resource)

    # -- bookkeeping ------------------------------------------------------

    def _left(self):
        return self.deadline - time.perf_counter() - self.reserve

    def _cost(self, index):
        """Measured (seconds per epoch, score seconds) of one split's fit."""
        fit = float(self.results["mean_fit_time"][index])
        score = float(self.results["mean_score_time"][index])
        return fit / self.epochs[index], score

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
        return list(self.rank(self.results, indices))

    def _evaluate(self, candidates, round_idx, epochs):
        """Evaluate a batch; return the indices of its candidates."""
        n = len(candidates)
        started = time.perf_counter()
        self.results = self.evaluate(candidates, round_idx, epochs)
        wall = time.perf_counter() - started
        self.base_params.extend(candidates)
        self.epochs.extend([1 if epochs is None else epochs] * n)
        self.plan.record(round_idx, n, epochs)
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
        return list(range(len(self.base_params) - n, len(self.base_params)))

    def _update_reserve(self, ranked, epochs):
        """Predicted refit time of the best candidate so far at `epochs`."""
        if not self.refit or not ranked:
            self.reserve = 0.0
            return
        (seconds,) = self._predict([self._cost(ranked[0])], epochs)
        self.reserve = _MARGIN * seconds * self._refit_scale()

    def _refit_scale(self):
        """A refit's rows per rows of one cross-validation training set."""
        return self.n_splits / max(self.n_splits - 1, 1)

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

    def _planned_epochs(self, round_idx, final_epochs):
        if self.max_epochs is None:
            return None
        steps = max(self.n_rungs - 1 - round_idx, 0)
        return max(1, round(final_epochs / FACTOR**steps))

    # -- the rounds -------------------------------------------------------

    def run(self):
        """Run every round the budget affords; return the :class:`BudgetPlan`."""
        previous, epochs = self._first_round()
        round_idx = 1
        while True:
            ranked = self._to_promote(previous, round_idx)
            if not ranked:
                # No finite score yet: sample the whole space again.
                rounds_left = max(self.n_rungs - round_idx, 1)
                share = 0.95 * self._left() / rounds_left
                n = self._fill(self._mean_cost(previous), epochs, share)
                if n < 1:
                    break
                sampler = self.sample(None, round_idx)
                previous = self._evaluate(
                    [next(sampler) for _ in range(n)], round_idx, epochs
                )
                self.report(self.results, round_idx, n, epochs)
                round_idx += 1
                continue
            epochs, share = self._epochs_and_share(ranked, round_idx)
            candidates = self._next_round(ranked, previous, round_idx, epochs, share)
            if not candidates:
                break
            previous = self._evaluate(candidates, round_idx, epochs)
            self.report(self.results, round_idx, len(candidates), epochs)
            round_idx += 1
        return self.plan

    def _first_round(self):
        """Round 0: one candidate per worker to measure costs, then as many
        as fit in the round's share, in batches that double."""
        epochs = self._planned_epochs(0, self.max_epochs)
        sampler = self.sample(None, 0)
        round_start = time.perf_counter()
        share = self._left() / self.n_rungs
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
        self.report(self.results, 0, len(indices), epochs)
        return indices, epochs

    def _to_promote(self, previous, round_idx):
        """The candidates a round starts from, best first."""
        if round_idx >= self.n_rungs and self.max_epochs is not None:
            # Extra rounds: zoom on the best of the longest fits.
            top = max(self.epochs)
            longest = [i for i, e in enumerate(self.epochs) if e == top]
            ranked = self._ranked(longest)
        else:
            ranked = self._ranked(previous)
        return ranked or self._ranked(range(len(self.base_params)))

    def _epochs_and_share(self, ranked, round_idx):
        """This round's epochs and its share of the time left."""
        rounds_left = max(self.n_rungs - round_idx, 1)
        epochs = None
        best_epochs = self.epochs[ranked[0]]
        if self.max_epochs is not None:
            # Shrink the final epoch budget to what the best candidate can
            # afford: one cross-validation per round left, plus the refit.
            per_epoch, _ = self._cost(ranked[0])
            per_round = per_epoch * self.n_splits / min(self.throughput, self.n_splits)
            refit = per_epoch * self._refit_scale() if self.refit else 0.0
            left = self.deadline - time.perf_counter()
            affordable = int(left / (rounds_left * per_round + refit))
            final_epochs = min(self.max_epochs, max(affordable, 1))
            epochs = self._planned_epochs(round_idx, final_epochs)
            if epochs < 2 * best_epochs:
                # The ladder left is too short for the steps to be worth a
                # retraining each: one last step, to as many epochs as the
                # time left affords the best (or, if that is no longer than
                # it was trained for, explore near it).
                jump = int(left / (_MARGIN * (per_round + refit)))
                epochs = max(min(self.max_epochs, jump), best_epochs)
                if epochs > best_epochs:
                    rounds_left = 1
            self._update_reserve(ranked, epochs)
        share = self._left() / rounds_left
        if epochs is not None and epochs > best_epochs:
            # If the best alone overruns the share, take the whole time
            # left, then fewer epochs.
            one = self._wall(self._predict([self._cost(ranked[0])], epochs))
            if one > share:
                share = max(share, self._left())
            if one > share:
                epochs = max(int(epochs * share / one), best_epochs)
        return epochs, share

    def _next_round(self, ranked, previous, round_idx, epochs, share):
        """The best of the previous round promoted to `epochs`, then new
        candidates near the best, as many as fit in `share`."""
        grows = epochs is not None and epochs > self.epochs[ranked[0]]
        promoted = []
        if grows:
            cap = max(1, math.ceil(len(previous) / FACTOR))
            for index in ranked[:cap]:
                trial = promoted + [index]
                seconds = self._predict([self._cost(i) for i in trial], epochs)
                if self._wall(seconds) > share:
                    break
                promoted = trial
        candidates = [self.base_params[i] for i in promoted]
        seconds = self._predict([self._cost(i) for i in promoted], epochs)
        spent = self._wall(seconds)

        centres = ranked[: self.top_k]
        # At full epochs, new candidates go in small batches: a wrong
        # prediction then costs little, and the next batch is re-planned.
        cap = None if grows and round_idx < self.n_rungs - 1 else 2 * self.n_workers
        room = 0.95 * (share - spent)
        n_new = self._fill(self._mean_cost(centres), epochs, room, cap)
        if n_new >= 1:
            sampler = self.sample([self.base_params[i] for i in centres], round_idx)
            candidates += [next(sampler) for _ in range(n_new)]
        return candidates
