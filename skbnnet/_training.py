"""The training loop shared by the skbnnet estimators.

:class:`Trainer` owns everything between validated data and a trained
:class:`~skbnnet._network.Network`: the epochs and mini-batches, the
optimiser steps, dropout (its rate and generator live in the one
:class:`~skbnnet._network.Workspace` it allocates per call), the divergence
guard, Ctrl-C, timings, and snapshots of the best parameters through
:meth:`Network.state` and :meth:`Network.restore`. The bookkeeping a fitted
estimator exposes (loss curve, validation scores, plateau counter, samples
seen) is a :class:`History`, carried from call to call by the estimator.

When to stop is not decided here: the divergence bound, the plateau rule
and the test of a fit that learned nothing are the objects of
:mod:`skbnnet._stopping`, and whether the schedule alone sets the length of
training is the optimiser's (``runs_to_end``). On divergence the best
parameters seen are restored: those of the best validation score with early
stopping, else those of the epoch with the lowest training loss, else those
training started from. A fresh fit whose very first loss is not finite has
no model to restore and raises scikit-learn's ``ValueError`` instead.
"""

import math
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches

from ._network import Workspace
from ._stopping import LossBounds, Plateau


@contextmanager
def _interrupt_after_batch():
    """Turn Ctrl-C during training into a flag checked after each mini-batch.

    The parameters are then never left half-updated. A second Ctrl-C raises
    ``KeyboardInterrupt`` as usual. Signal handlers can only be installed from
    the main thread; elsewhere (thread-based parallelism) nothing changes.
    """
    interrupted = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield interrupted
        return

    def handler(signum, frame):
        if interrupted.is_set():
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        interrupted.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class History:
    """Per-epoch bookkeeping, carried across warm-started calls.

    Attributes
    ----------
    loss_curve : list of float
        Training loss of every epoch.
    validation_scores : list of float or None
        Validation score of every epoch, None without early stopping.
    best_loss : float or None
        Lowest training loss, None with early stopping.
    best_validation_score : float or None
        Best validation score, None without early stopping.
    no_improvement_count : int
        Epochs since the loss (or validation score) last improved by ``tol``.
    t : int
        Training samples seen over all calls.
    n_iter : int
        Epochs completed by the last call.
    loss : float
        Training loss of the last epoch (NaN before any).
    """

    early_stopping: bool = False
    loss_curve: list = field(default_factory=list)
    validation_scores: list | None = None
    best_loss: float | None = None
    best_validation_score: float | None = None
    no_improvement_count: int = 0
    t: int = 0
    n_iter: int = 0
    loss: float = np.nan

    def __post_init__(self):
        if self.early_stopping:
            if self.validation_scores is None:
                self.validation_scores = []
                self.best_validation_score = -np.inf
        elif self.best_loss is None:
            self.best_loss = np.inf

    def record_loss(self, loss, tol):
        """Append an epoch's training loss; return whether it is the best."""
        self.loss = loss
        self.loss_curve.append(loss)
        if self.early_stopping:
            return False
        self._count(loss > self.best_loss - tol)
        improved = loss < self.best_loss
        self.best_loss = min(self.best_loss, loss)
        return improved

    def record_validation(self, score, tol):
        """Append an epoch's validation score; return whether it is the best."""
        self.validation_scores.append(score)
        self._count(score < self.best_validation_score + tol)
        if score > self.best_validation_score:
            self.best_validation_score = score
            return True
        return False

    def _count(self, stalled):
        self.no_improvement_count = self.no_improvement_count + 1 if stalled else 0


class Trainer:
    """Mini-batch training of a network.

    Parameters
    ----------
    network : Network
        The network to train, in place.
    optimizer : BaseOptimizer
        Steps over ``network.params``.
    batch_size : int
        Rows per mini-batch (clipped to the number of training rows; a
        trailing single row joins the previous batch).
    max_iter : int
        Maximum number of epochs of a call (one with ``incremental``).
    alpha : float, default=0.0
        L2 penalty on the weight matrices.
    shuffle : bool, default=True
        Shuffle the rows at every epoch.
    dropout : float, default=0.0
        Dropout rate of the hidden units.
    batch_norm_momentum : float, default=0.9
        Momentum of the running batch-norm statistics.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    n_iter_no_change : int or inf, default=10
        Epochs without improvement before the optimizer decides to stop.
    verbose : int, default=0
        1 prints a line per epoch, 2 adds the forward/backward/update split.
    """

    def __init__(
        self,
        network,
        optimizer,
        *,
        batch_size,
        max_iter,
        alpha=0.0,
        shuffle=True,
        dropout=0.0,
        batch_norm_momentum=0.9,
        tol=1e-4,
        n_iter_no_change=10,
        verbose=0,
    ):
        self.network = network
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.alpha = alpha
        self.shuffle = shuffle
        self.dropout = dropout
        self.batch_norm_momentum = batch_norm_momentum
        self.tol = tol
        self.plateau = Plateau(tol, n_iter_no_change)
        self.verbose = verbose

    def fit(
        self,
        X,
        target,
        sample_weight,
        history,
        rng,
        *,
        train_rows=None,
        validation=None,
        incremental=False,
        epoch_tasks=None,
    ):
        """Train on ``X[train_rows]`` (all of ``X`` if None).

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Training data in the network's dtype.
        target : ndarray
            Encoded targets (see :meth:`Network.forward`).
        sample_weight : ndarray of shape (n_samples,)
            Positive sample weights.
        history : History
            Updated in place.
        rng : numpy.random.RandomState
            Shuffles the rows and seeds the dropout generator.
        train_rows : ndarray of int, default=None
            The rows to train on.
        validation : tuple, default=None
            ``(X_val, target_val, sample_weight_val)`` for early stopping:
            the parameters of the best validation score are kept.
        incremental : bool, default=False
            Run a single epoch (``partial_fit``).
        epoch_tasks : object, default=None
            Told of every epoch, for scikit-learn's callbacks:
            ``epoch_tasks.begin(best)`` before it, ``epoch_tasks.end(best)``
            after its bookkeeping (a true result stops training there), and
            ``epoch_tasks.abandon()`` instead of ``end`` for an epoch cut
            short by divergence or Ctrl-C. ``best`` is the state that would
            be kept if training stopped then: that of the best validation
            score with early stopping (None before one), else None (the
            current parameters). None costs nothing per epoch.
        """
        network = self.network
        n_samples = X.shape[0] if train_rows is None else train_rows.size
        batch_size = min(self.batch_size, n_samples)
        # min_batch_size=2: a trailing single row joins the previous batch, so
        # no batch-norm statistic is ever computed from one row of a batch
        # that has others.
        batches = list(gen_batches(n_samples, batch_size, min_batch_size=2))
        n_rows = max(batch.stop - batch.start for batch in batches)
        dropout_rng = (
            np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
            if self.dropout > 0
            else None
        )
        self._workspace = Workspace(
            network.layer_units,
            n_rows,
            X.dtype,
            self.dropout,
            dropout_rng,
            network.embedding,
            network.members,
        )
        self._grads = np.empty_like(network.params)
        self._weights = np.empty(n_rows, dtype=X.dtype)
        gather = not sp.issparse(X) and (self.shuffle or train_rows is not None)
        X_buffer = np.empty((n_rows, X.shape[1]), X.dtype) if gather else None
        rows_weight = sample_weight if train_rows is None else sample_weight[train_rows]
        total_weight = float(rows_weight.sum())
        self.bounds = LossBounds.of(
            network.head,
            target if train_rows is None else target[train_rows],
            rows_weight,
            self.optimizer.learning_rate_init,
        )
        self._batch_fraction = 1.0 / (len(batches) * self.max_iter)

        start = network.state()
        best = None
        self._n_steps = 0
        history.n_iter = 0
        finished = max_iter_reached = False
        data_losses = []
        start_time = time.perf_counter()
        with (
            _interrupt_after_batch() as interrupted,
            np.errstate(
                over="ignore", invalid="ignore", divide="ignore", under="ignore"
            ),
        ):
            for _ in range(self.max_iter):
                if epoch_tasks is not None:
                    epoch_tasks.begin(best if validation is not None else None)
                order = rng.permutation(n_samples) if self.shuffle else None
                if train_rows is not None:
                    order = train_rows if order is None else train_rows[order]
                timings = np.zeros(3)
                epoch_loss = epoch_data_loss = 0.0
                diverged = False
                for batch in batches:
                    rows = batch if order is None else order[batch]
                    if gather:
                        X_batch = np.take(
                            X, rows, axis=0, out=X_buffer[: batch.stop - batch.start]
                        )
                    else:
                        X_batch = X[rows]
                    sw_batch = sample_weight[rows]
                    data_loss, penalty, weight_sum = self._step(
                        X_batch, target[rows], sw_batch, timings
                    )
                    if self.bounds.exploded(data_loss):
                        diverged = True
                        break
                    epoch_loss += (data_loss + penalty) * weight_sum
                    epoch_data_loss += data_loss * weight_sum
                    if interrupted.is_set():
                        break

                failed = diverged or not network.is_finite()
                if epoch_tasks is not None and (failed or interrupted.is_set()):
                    epoch_tasks.abandon()
                if failed:
                    self._diverged(
                        network, best or start, history, data_loss if diverged else None
                    )
                    break
                if interrupted.is_set():
                    warnings.warn(
                        "Training interrupted by user: the model keeps the "
                        "parameters of the last completed mini-batch.",
                        stacklevel=5,
                    )
                    break
                history.n_iter += 1
                history.t += n_samples
                data_losses.append(epoch_data_loss / total_weight)
                improved = history.record_loss(epoch_loss / total_weight, self.tol)
                if validation is not None:
                    improved = history.record_validation(
                        network.score(*validation), self.tol
                    )
                if improved:
                    best = network.state(best)
                if self.verbose:
                    self._print_epoch(
                        history, time.perf_counter() - start_time, timings, self.verbose
                    )

                self.optimizer.iteration_ends(history.t)
                stop = self._plateau_stops(history, validation is not None)
                finished = stop
                if epoch_tasks is not None and epoch_tasks.end(
                    best if validation is not None else None
                ):
                    # A callback asked to stop: no ConvergenceWarning.
                    stop = True
                if stop or incremental:
                    break
            else:
                finished = max_iter_reached = True
        # One ConvergenceWarning at most: a model that learned nothing says so
        # rather than that it ran out of epochs.
        if finished and self.bounds.learned_nothing(data_losses):
            warnings.warn(
                "Training ended with a loss of "
                f"{data_losses[-1]:.3g}, within 1% of that of "
                f"predicting the prior ({self.bounds.prior_loss:.3g}): the model "
                f"has learned nothing. {self.bounds.advice('or less regularisation')}",
                ConvergenceWarning,
                stacklevel=5,
            )
        elif max_iter_reached and not self.optimizer.runs_to_end:
            # (A schedule that ran to its end did as planned.)
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                "reached and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=5,
            )
        if validation is not None and best is not None:
            network.restore(best)
        del self._workspace, self._grads, self._weights

    def _step(self, X, target, sample_weight, timings):
        """One optimiser step on a mini-batch.

        Returns its loss without the L2 penalty, the penalty, and the batch's
        total sample weight. The parameters are left untouched when the loss
        has exploded.
        """
        network = self.network
        weight_sum = float(sample_weight.sum())
        weights = np.divide(sample_weight, weight_sum, out=self._weights[: X.shape[0]])
        tick = time.perf_counter()
        data_loss = network.forward(X, target, weights, self._workspace)
        tock = time.perf_counter()
        timings[0] += tock - tick
        if self.bounds.exploded(data_loss):
            return data_loss, 0.0, weight_sum
        penalty = network.backward(
            X, self._grads, self._workspace, self.alpha / weight_sum
        )
        tick = time.perf_counter()
        timings[1] += tick - tock
        self.optimizer.update_params(network.params, self._grads)
        self._n_steps += 1
        self.optimizer.batch_ends(self._batch_fraction)
        if network.batch_norm:
            network.update_running_stats(
                self._workspace.batch_stats, self.batch_norm_momentum
            )
        timings[2] += time.perf_counter() - tick
        return data_loss, penalty, weight_sum

    def _plateau_stops(self, history, validating):
        """Whether a plateau ends training (the optimiser may lower its rate
        instead). A schedule that sets the length of training itself is not
        cut short by a training-loss plateau while its rate is still high,
        where it gains most; a validation plateau still stops."""
        if not self.plateau.reached(history.no_improvement_count) or (
            self.optimizer.runs_to_end and not validating
        ):
            return False
        stop = self.optimizer.trigger_stopping(
            self.plateau.message(validating), self.verbose
        )
        if not stop:
            history.no_improvement_count = 0
        return stop

    def _diverged(self, network, best, history, loss):
        """Restore the best parameters seen and warn; ``loss`` is the batch
        loss that exploded, None if the parameters did."""
        untrained = self._n_steps == 0 and history.t == 0
        if untrained and loss is not None and not math.isfinite(loss):
            # Nothing was learned and the initial parameters cannot map these
            # inputs to finite outputs: there is no model to return.
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data "
                "may contain large values and need to be preprocessed (the "
                "loss of the first mini-batch was not finite)."
            )
        network.restore(best)
        cause = self.bounds.divergence_cause(loss)
        if self._n_steps == 0:
            advice = (
                "This happened before the first step: scale the features (for "
                "example with StandardScaler)."
            )
        else:
            advice = self.bounds.advice()
        warnings.warn(
            f"Training diverged at epoch {len(history.loss_curve) + 1}: {cause}. "
            f"The best parameters seen were restored. {advice}",
            ConvergenceWarning,
            stacklevel=6,
        )

    @staticmethod
    def _print_epoch(history, elapsed, timings, verbose):
        line = f"Epoch {len(history.loss_curve)}, loss = {history.loss:.8f}"
        if history.validation_scores:
            line += f", validation score = {history.validation_scores[-1]:.6f}"
        line += f", time = {elapsed:.2f}s"
        if verbose >= 2:
            forward, backward, update = timings
            line += (
                f" (epoch: forward {forward:.3f}s, backward {backward:.3f}s, "
                f"update {update:.3f}s)"
            )
        print(line)
