"""The base class of the skbnnet estimators: parameters, fit and bookkeeping.

:class:`BaseBatchNormMLP` holds what the classifier and the regressor share:
the parameters and their constraints, ``fit`` and ``partial_fit`` (one
``_fit``, as in scikit-learn's ``BaseMultilayerPerceptron``), warm starts,
the validation set of early stopping, and the fitted attributes derived from
the network. A task subclass adds its hooks only: the targets' validation
and encoding, the output head, the prior loss that bounds divergence, the
validation score, and its predict methods. The training loop itself is
:class:`skbnnet._training.Trainer`.
"""

import copy
import warnings
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from ._compat import (
    CALLBACK_FIT_ATTRIBUTES,
    CallbackSupportMixin,
    Interval,
    Options,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    has_callbacks,
    validate_data,
)
from ._embeddings import PeriodicEmbedding, embedded_columns
from ._ensemble import MemberAdapters
from ._network import Network
from ._optimizers import AdamOptimizer, RMSpropOptimizer, SGDOptimizer
from ._scaling import SmoothClip
from ._training import History, Trainer


@contextmanager
def _restore_on_failure(estimator):
    """Put back the estimator's attributes if fitting raises.

    A failed fit on a fresh estimator leaves it unfitted, and on a fitted one
    leaves the previous model working. Training never mutates the previous
    fitted objects in place (it works on copies), so a shallow snapshot is
    enough. The callbacks' state of the current fit stays, so that
    scikit-learn can still tear them down (a progress bar stops its thread).
    """
    state = estimator.__dict__.copy()
    try:
        yield
    except BaseException:
        fit_state = {
            name: estimator.__dict__[name]
            for name in CALLBACK_FIT_ATTRIBUTES
            if name in estimator.__dict__
        }
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        estimator.__dict__.update(fit_state)
        raise


class _EpochTasks:
    """The epochs of one fit as tasks of scikit-learn's callbacks (>= 1.9).

    The fit is the root task (``max_subtasks`` epochs); each epoch is a
    subtask named ``"epoch"``, told the data given to ``fit`` (``X``, ``y``
    and ``sample_weight`` as metadata) and, lazily, the attributes that make
    a copy of the estimator predict as if ``fit`` had stopped there: a copy
    of the network (with the best parameters so far under early stopping,
    and population statistics if asked for), the history and ``n_iter_``.
    The copy is built only when a callback asks for ``fitted_estimator``.
    """

    def __init__(self, estimator, context, finish, history, X, y, metadata):
        self.estimator = estimator
        self.context = context
        self.finish = finish
        self.history = history
        self.data = dict(X=X, y=y, metadata=metadata)
        self.task = None

    def begin(self, best):
        self.task = self.context.subcontext(task_name="epoch")
        self.task.call_on_fit_task_begin(
            estimator=self.estimator,
            reconstruction_attributes=lambda: self.model_attributes(best),
            **self.data,
        )

    def end(self, best):
        task, self.task = self.task, None
        return task.call_on_fit_task_end(
            estimator=self.estimator,
            reconstruction_attributes=lambda: self.model_attributes(best),
            **self.data,
        )

    def abandon(self):
        """End an epoch that did not complete, as an empty task."""
        task, self.task = self.task, None
        task.call_on_fit_task_end(estimator=self.estimator)

    def model_attributes(self, best):
        network = copy.deepcopy(self.finish.network)
        if best is not None:
            network.restore(best)
        self.finish(network)
        return {
            **_network_attributes(network),
            **_history_attributes(copy.deepcopy(self.history)),
        }


class _FinishNetwork:
    """What fit does to a trained network: population statistics if asked.

    With ``incremental`` (``partial_fit``) the statistics of this call's rows
    are merged with those of every earlier call, which training is about to
    overwrite with running averages: they are kept here.
    """

    def __init__(
        self, network, population, X, sample_weight, train_rows, batch, incremental
    ):
        self.network = network
        self.population = population
        self.X = X
        self.sample_weight = sample_weight
        self.train_rows = train_rows
        self.batch = batch
        self.previous = (
            (network.population_weight, network.stats.copy())
            if population and incremental
            else None
        )

    def __call__(self, network):
        if not self.population:
            return
        sample_weight = self.sample_weight
        if self.train_rows is not None:
            # The statistics of the training rows, without copying them:
            # held-out rows weigh 0.
            sample_weight = np.zeros_like(sample_weight)
            sample_weight[self.train_rows] = self.sample_weight[self.train_rows]
        network.set_population_stats(self.X, sample_weight, self.batch, self.previous)


def _network_attributes(network):
    """The fitted attributes derived from a trained network."""
    return {
        "_network": network,
        "n_layers_": len(network.layer_units),
        "n_outputs_": network.layer_units[-1],
        "out_activation_": network.out_activation,
    }


def _history_attributes(history):
    """The fitted attributes derived from the training history."""
    return {
        "loss_": history.loss,
        "loss_curve_": history.loss_curve,
        "best_loss_": history.best_loss,
        "validation_scores_": history.validation_scores,
        "best_validation_score_": history.best_validation_score,
        "_no_improvement_count": history.no_improvement_count,
        "t_": history.t,
        "n_iter_": history.n_iter,
    }


def _plain(value):
    """A NumPy scalar as the Python scalar it holds; anything else as is.

    Values drawn from ``np.array([...])`` (a search grid, say) are NumPy
    scalars; the compiled kernels take Python strings.
    """
    return value.item() if isinstance(value, np.generic) else value


# Callbacks need scikit-learn >= 1.9; before it the estimators have no
# set_callbacks.
#: ``early_stopping="auto"`` holds out a validation set for training sets of
#: at least 200 rows (a validation set of 20 or more: fewer measure R² too
#: noisily to choose an epoch) and fewer than 1,000 (above that, stopping
#: early measured no gain): benchmarks/TUNING_NOTES.md, section 11.
AUTO_EARLY_STOPPING_ROWS = (200, 1000)

#: ``numeric_embedding="auto"`` embeds the inputs of a first fit on at least
#: this many rows (below, the embedding's capacity overfitted: 5 of the 7
#: tabular sets under 500 training rows lost 1.9 to 7.1 points, 12 of the 15
#: at 500 or more gained or kept their score; TUNING_NOTES section 14) and
#: at most this many inputs to embed (the first layer grows by
#: n_frequencies units of fan-in per embedded input).
AUTO_EMBEDDING_MIN_ROWS = 500
AUTO_EMBEDDING_MAX_COLUMNS = 100

_CALLBACK_SUPPORT = () if CallbackSupportMixin is None else (CallbackSupportMixin,)


class BaseBatchNormMLP(*_CALLBACK_SUPPORT, BaseEstimator, metaclass=ABCMeta):
    """Base class of the batch-normalised MLP estimators.

    Not to be used directly: use :class:`~skbnnet.BatchNormMLPClassifier` or
    :class:`~skbnnet.BatchNormMLPRegressor`.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam", "rmsprop"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "cosine"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "batch_norm": ["boolean"],
        "batch_norm_momentum": [Interval(Real, 0, 1, closed="neither")],
        "batch_norm_epsilon": [Interval(Real, 0, None, closed="neither")],
        "batch_norm_stats": [StrOptions({"running", "population"})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "input_scaling": [StrOptions({"smooth_clip"}), None],
        "numeric_embedding": [StrOptions({"auto", "periodic"}), None],
        "n_frequencies": [Interval(Integral, 1, None, closed="left")],
        "n_members": [Interval(Integral, 1, None, closed="left")],
    }

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes,
        activation,
        *,
        solver,
        alpha,
        weight_decay,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        batch_norm,
        batch_norm_momentum,
        batch_norm_epsilon,
        batch_norm_stats,
        dropout,
        input_scaling,
        numeric_embedding,
        n_frequencies,
        n_members,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.batch_norm = batch_norm
        self.batch_norm_momentum = batch_norm_momentum
        self.batch_norm_epsilon = batch_norm_epsilon
        self.batch_norm_stats = batch_norm_stats
        self.dropout = dropout
        self.input_scaling = input_scaling
        self.numeric_embedding = numeric_embedding
        self.n_frequencies = n_frequencies
        self.n_members = n_members

    # Task hooks ------------------------------------------------------------

    @abstractmethod
    def _encode_targets(self, y, sample_weight, first_pass, incremental):
        """Validate ``y`` against earlier calls and encode it for the head.

        Returns the encoded targets and the sample weights to train with
        (the classifier folds its class weights in).
        """

    @abstractmethod
    def _encode_validation_targets(self, y_val, dtype):
        """Encode a user-given validation target like the training one."""

    @abstractmethod
    def _make_head(self, target):
        """The output head (:mod:`skbnnet._heads`) for encoded targets."""

    def _stratify(self, target):
        """Labels to stratify the validation split by, or None."""
        return None

    # Fitted attributes -----------------------------------------------------

    # Per-layer views of the flat parameter vector are derived on access, so
    # they stay attached to it after pickling, deepcopy or joblib transfer.

    @property
    def coefs_(self):
        return self._fitted_network().views.coefs

    @property
    def intercepts_(self):
        return self._fitted_network().views.intercepts

    @property
    def bn_gammas_(self):
        return self._fitted_network().views.gammas

    @property
    def bn_betas_(self):
        return self._fitted_network().views.betas

    @property
    def bn_means_(self):
        return self._fitted_network().means

    @property
    def bn_vars_(self):
        return self._fitted_network().vars

    @property
    def input_center_(self):
        input_map = self._fitted_network().input_map
        return None if input_map is None else input_map.center

    @property
    def input_scale_(self):
        input_map = self._fitted_network().input_map
        return None if input_map is None else input_map.scale

    def _fitted_network(self):
        try:
            return self.__dict__["_network"]
        except KeyError:
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet."
            ) from None

    def __sklearn_is_fitted__(self):
        return "_network" in self.__dict__

    # Fitting ---------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Fit the model to data X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values: class labels (or a label indicator matrix) for
            classification, real numbers for regression.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights. They weight the loss and the
            batch-norm statistics; a zero weight is the same as leaving the
            row out.

        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
                default=None
            A validation set of your own for early stopping, instead of
            holding out ``validation_fraction`` of X. Needs
            ``early_stopping=True``.

        y_val : array-like of shape (n_val,) or (n_val, n_outputs), \
                default=None
            Targets of ``X_val``.

        sample_weight_val : array-like of shape (n_val,), default=None
            Sample weights of the validation score.

        Returns
        -------
        self : object
            The fitted estimator.

        Notes
        -----
        **Searches.** ``X_val``, ``y_val`` and ``sample_weight_val`` can be
        passed through a search (``GridSearchCV(...).fit(X, y, X_val=X_val,
        y_val=y_val)``), with metadata routing too: request them with
        ``set_fit_request(X_val=True, y_val=True)``. Every cross-validation
        fit and the refit then stop early on that same set, and the test
        folds score the models. One trap comes from scikit-learn's
        cross-validation: it cuts every fit parameter with as many rows as
        ``X`` by the fold's training indices, as it does ``sample_weight``.
        A validation set of exactly ``len(X)`` rows therefore reaches each
        fold cut to the rows at that fold's training indices (still
        matching pairs, as all three are cut alike, but fewer of them).
        Give a validation set of another length to validate every fold on
        all of it. In a :class:`~sklearn.pipeline.Pipeline`, use
        ``Pipeline(..., transform_input=["X_val"])`` so that ``X_val`` is
        transformed like ``X``.

        **Callbacks** (scikit-learn >= 1.9, experimental): see
        ``set_callbacks``. The fit is a task and each epoch a subtask named
        ``"epoch"``, given the data passed to ``fit``; its
        ``fitted_estimator`` predicts as ``fit`` would have if it had
        stopped after that epoch (with early stopping, from the best
        parameters so far). A callback whose ``on_fit_task_end`` returns
        True for an epoch stops training after it, without a
        ``ConvergenceWarning``; with early stopping the best parameters are
        still restored. A callback that raises leaves the estimator as it
        was before ``fit`` (unfitted if it was).
        """
        with _restore_on_failure(self):
            return self._fit(
                X,
                y,
                sample_weight,
                X_val=X_val,
                y_val=y_val,
                sample_weight_val=sample_weight_val,
            )

    def _fit(
        self,
        X,
        y,
        sample_weight=None,
        *,
        incremental=False,
        X_val=None,
        y_val=None,
        sample_weight_val=None,
    ):
        """Train on (X, y): ``fit``, or one epoch of ``partial_fit``.

        Prepare the data, build a network (or continue the fitted one), plan
        the validation, train, then publish the fitted attributes: nothing is
        set on the estimator before training has ended.
        """
        hidden_layer_sizes = self._hidden_layer_sizes()
        self._check_fit_arguments(incremental, X_val, y_val, sample_weight_val)
        first_pass = not hasattr(self, "_network") or (
            not self.warm_start and not incremental
        )
        X, target, sample_weight, fit_data = self._prepare(
            X, y, sample_weight, first_pass, incremental
        )
        early_stopping = self._early_stopping(X.shape[0], incremental, X_val)
        rng = check_random_state(self.random_state)
        network, history = self._build_or_continue(
            X,
            target,
            sample_weight,
            hidden_layer_sizes,
            first_pass,
            rng,
            early_stopping,
        )
        X = network.map_inputs(X)
        train_rows, validation, batch_size = self._plan_validation(
            network,
            X,
            target,
            sample_weight,
            rng,
            X_val,
            y_val,
            sample_weight_val,
            early_stopping,
        )
        if incremental and hasattr(self, "_optimizer"):
            optimizer = copy.deepcopy(self._optimizer)
        else:
            optimizer = self._make_optimizer(network)
        trainer = Trainer(
            network,
            optimizer,
            batch_size=batch_size,
            max_iter=self.max_iter,
            alpha=self.alpha,
            shuffle=self.shuffle,
            dropout=self.dropout,
            batch_norm_momentum=self.batch_norm_momentum,
            tol=self.tol,
            n_iter_no_change=self._patience(early_stopping),
            verbose=self.verbose,
        )
        finish = _FinishNetwork(
            network,
            self.batch_norm and self.batch_norm_stats == "population",
            X,
            sample_weight,
            train_rows,
            batch_size,
            incremental,
        )
        fit_task = epoch_tasks = None
        if has_callbacks(self):
            fit_task = self._init_callback_context(
                max_subtasks=1 if incremental else self.max_iter
            )
            fit_task.call_on_fit_task_begin(estimator=self, **fit_data)
            epoch_tasks = _EpochTasks(self, fit_task, finish, history, **fit_data)
        trainer.fit(
            X,
            target,
            sample_weight,
            history,
            rng,
            train_rows=train_rows,
            validation=validation,
            incremental=incremental,
            epoch_tasks=epoch_tasks,
        )
        finish(network)
        self._publish(network, history, optimizer)
        if fit_task is not None:
            fit_task.call_on_fit_task_end(
                estimator=self, reconstruction_attributes={}, **fit_data
            )
        return self

    def _check_fit_arguments(self, incremental, X_val, y_val, sample_weight_val):
        """The rules between fit's arguments and the parameters."""
        # "auto" is decided from the data by _early_stopping.
        explicit = not isinstance(self.early_stopping, str)
        if explicit and self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        if explicit and X_val is not None and not self.early_stopping:
            raise ValueError(
                "X_val is given but early_stopping=False: the validation set "
                "is used only for early stopping. Set early_stopping=True."
            )
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val must be given together.")
        if sample_weight_val is not None and X_val is None:
            raise ValueError("sample_weight_val is given without X_val and y_val.")

    def _prepare(self, X, y, sample_weight, first_pass, incremental):
        """Validate the data and encode the targets; drop zero-weight rows.

        Returns X, the encoded targets, the sample weights and the data the
        callbacks are told of.
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=self._y_numeric,
            dtype=(np.float64, np.float32),
            reset=first_pass,
        )
        if not first_pass:
            X = X.astype(self._network.params.dtype, copy=False)
        metadata = None if sample_weight is None else {}
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        if metadata is not None:
            metadata["sample_weight"] = sample_weight
        fit_data = dict(X=X, y=y, metadata=metadata)
        target, sample_weight = self._encode_targets(
            y, sample_weight, first_pass, incremental
        )
        # A zero weight means the row is absent: dropping it keeps its values
        # (say 1e20, or inf once squared) out of every weighted sum.
        kept = np.flatnonzero(sample_weight)
        if kept.size == 0:
            raise ValueError(
                "Sample weights must contain at least one non-zero number."
            )
        if kept.size < X.shape[0]:
            X, target, sample_weight = X[kept], target[kept], sample_weight[kept]
        if not np.isfinite(sample_weight.sum(dtype=np.float64)) or (
            sample_weight.sum(dtype=np.float64) > np.finfo(X.dtype).max
        ):
            # Mini-batch weights are normalised by their sum: an infinite sum
            # would zero them all and silently train nothing.
            raise ValueError(
                f"The sample weights sum to more than {X.dtype}'s largest "
                f"number ({np.finfo(X.dtype).max:.3g}). Scale them down: only "
                "their ratios matter, apart from the L2 penalty alpha, which "
                "is divided by the mini-batch's weight sum."
            )
        return X, target, sample_weight, fit_data

    def _early_stopping(self, n_samples, incremental, X_val):
        """Whether this fit stops early: ``early_stopping``, with ``"auto"``
        on for ``fit`` with ``X_val`` or with a training set of
        ``AUTO_EARLY_STOPPING_ROWS`` (see the regressor's docstring)."""
        if not isinstance(self.early_stopping, str):
            return bool(self.early_stopping)
        if incremental:
            return False
        low, high = AUTO_EARLY_STOPPING_ROWS
        return X_val is not None or low <= n_samples < high

    def _patience(self, early_stopping):
        """Epochs without improvement before stopping. Under ``"auto"`` the
        validation score still improves late in a cosine cycle, so it waits
        a quarter of ``max_iter`` if that is longer."""
        if early_stopping and isinstance(self.early_stopping, str):
            return max(self.n_iter_no_change, self.max_iter // 4)
        return self.n_iter_no_change

    def _build_or_continue(
        self,
        X,
        target,
        sample_weight,
        hidden_layer_sizes,
        first_pass,
        rng,
        early_stopping,
    ):
        """A new network and history, or copies of the fitted ones."""
        head = self._make_head(target)
        if not first_pass:
            network = copy.deepcopy(self._network)
            self._check_architecture(network, hidden_layer_sizes, head)
            # Settings of the loss (label smoothing) may change between calls.
            network.head = head
            return network, self._history(early_stopping)
        embedding = self._embedding(X, sample_weight)
        n_inputs = X.shape[1] if embedding is None else embedding.n_outputs
        layer_units = [n_inputs, *hidden_layer_sizes, head.n_outputs]
        network = Network(
            layer_units,
            _plain(self.activation),
            head,
            self.batch_norm,
            self._batch_norm_epsilon(X.dtype),
            X.dtype,
            input_map=(
                None if self.input_scaling is None else SmoothClip.fit(X, sample_weight)
            ),
            embedding=embedding,
            members=(
                None
                if self.n_members == 1
                else MemberAdapters(self.n_members, n_inputs)
            ),
        )
        network.initialize(rng)
        bias = head.initial_bias(target, sample_weight)
        if bias is not None:
            network.views.intercepts[-1][:] = bias
        return network, History(early_stopping=early_stopping)

    def _embedding(self, X, sample_weight):
        """The input embedding of a new network, or None."""
        # Rows of zero weight do not count, as if left out.
        n_rows = np.count_nonzero(sample_weight > 0)
        if self.numeric_embedding is None or (
            self.numeric_embedding == "auto" and n_rows < AUTO_EMBEDDING_MIN_ROWS
        ):
            return None
        columns = embedded_columns(X, sample_weight)
        if self.numeric_embedding == "auto" and (
            columns.size == 0 or columns.size > AUTO_EMBEDDING_MAX_COLUMNS
        ):
            return None
        return PeriodicEmbedding(X.shape[1], columns, self.n_frequencies)

    def _plan_validation(
        self,
        network,
        X,
        target,
        sample_weight,
        rng,
        X_val,
        y_val,
        sample_weight_val,
        early_stopping,
    ):
        """The training rows (None: all), the validation set (None: no early
        stopping) and the batch size. ``X`` is mapped by the network's input
        map already; a given ``X_val`` is mapped here."""
        if X_val is not None:
            train_rows = None
            X_val, y_val, sample_weight_val = self._validation_set(
                X_val, y_val, sample_weight_val, X.dtype
            )
            validation = network.map_inputs(X_val), y_val, sample_weight_val
        elif early_stopping:
            train_rows, validation = self._split_validation(
                X, target, sample_weight, rng
            )
        else:
            train_rows, validation = None, None
        n_train = X.shape[0] if train_rows is None else train_rows.size
        batch_size = self._batch_size(n_train)
        if self.batch_norm and batch_size < 2:
            raise ValueError(
                "Batch norm needs at least 2 rows per mini-batch, but "
                f"batch_size={self.batch_size} with n_samples={n_train} "
                "gives 1: each single row would normalise to zero and no "
                "gradient would reach the hidden layers. Use batch_size >= 2, "
                "more samples or batch_norm=False."
            )
        return train_rows, validation, batch_size

    def _publish(self, network, history, optimizer):
        """Set the fitted attributes, once training has ended."""
        for name, value in _history_attributes(history).items():
            setattr(self, name, value)
        self._optimizer = optimizer
        for name, value in _network_attributes(network).items():
            setattr(self, name, value)

    def _history(self, early_stopping):
        return History(
            early_stopping=early_stopping,
            loss_curve=list(self.loss_curve_),
            validation_scores=(
                None
                if self.validation_scores_ is None
                else list(self.validation_scores_)
            ),
            best_loss=self.best_loss_,
            best_validation_score=self.best_validation_score_,
            no_improvement_count=self._no_improvement_count,
            t=self.t_,
        )

    def _hidden_layer_sizes(self):
        # The "array-like" constraint does not look inside the array.
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if np.iterable(sizes) else [sizes]
        if not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(
                f"hidden_layer_sizes must contain positive integers, got {sizes}."
            )
        return [int(s) for s in sizes]

    def _batch_norm_epsilon(self, dtype):
        # An epsilon below the dtype's smallest normal number rounds to 0, and
        # a constant unit then normalises by 1 / sqrt(0).
        return max(float(self.batch_norm_epsilon), float(np.finfo(dtype).tiny))

    def _check_architecture(self, network, hidden_layer_sizes, head):
        if (
            network.layer_units[1:-1] != hidden_layer_sizes
            or any(
                getattr(network, name) != value
                for name, value in [
                    ("activation", self.activation),
                    ("batch_norm", self.batch_norm),
                    ("epsilon", self._batch_norm_epsilon(network.params.dtype)),
                    ("out_activation", head.out_activation),
                ]
            )
            or (network.input_map is None) != (self.input_scaling is None)
            or (network.embedding is not None and self.numeric_embedding is None)
            or (network.embedding is None and self.numeric_embedding == "periodic")
            or (
                network.embedding is not None
                and network.embedding.n_frequencies != self.n_frequencies
            )
            or network.n_members != self.n_members
        ):
            raise ValueError(
                "warm_start and partial_fit continue the fitted network, so "
                "hidden_layer_sizes, activation, batch_norm, "
                "batch_norm_epsilon, input_scaling, numeric_embedding, "
                "n_frequencies, n_members and the loss's link cannot change "
                "between calls."
            )

    def _make_optimizer(self, network):
        common = dict(
            learning_rate_init=self.learning_rate_init,
            lr_schedule=_plain(self.learning_rate),
            power_t=self.power_t,
            weight_decay=self.weight_decay,
            n_decayed=network.views.n_coef_params,
        )
        if self.solver == "sgd":
            return SGDOptimizer(
                network.params,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
                **common,
            )
        if self.solver == "adam":
            return AdamOptimizer(
                network.params,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
                **common,
            )
        return RMSpropOptimizer(
            network.params, beta_2=self.beta_2, epsilon=self.epsilon, **common
        )

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"Got `batch_size`={self.batch_size} larger than the number of "
                f"training samples ({n_samples}). It is clipped to {n_samples}.",
                stacklevel=6,
            )
        return min(self.batch_size, n_samples)

    def _split_validation(self, X, target, sample_weight, rng):
        """Hold out a (stratified) validation set for early stopping.

        Returns the training rows as indices, so that X is not copied, and
        the (small) validation set itself.
        """
        stratify = self._stratify(target)
        try:
            train_rows, val_rows = train_test_split(
                np.arange(X.shape[0]),
                random_state=rng,
                test_size=self.validation_fraction,
                stratify=stratify,
            )
        except ValueError as exc:
            kind, few = "", ""
            if stratify is not None:
                kind = "stratified "
                labels, counts = np.unique(stratify, return_counts=True)
                # scikit-learn >= 1.7 names them itself.
                if "Classes with too few members" not in str(exc):
                    few = (
                        " Classes with too few members are: "
                        f"{labels[counts < 2].tolist()}."
                    )
            raise ValueError(
                f"early_stopping=True could not hold out a {kind}"
                f"validation_fraction={self.validation_fraction} of the data: "
                f"{str(exc).rstrip('.')}.{few} Use more samples, a larger "
                "validation_fraction, a validation set of your own (X_val, "
                "y_val) or early_stopping=False."
            ) from exc
        if val_rows.size < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        validation = X[val_rows], target[val_rows], sample_weight[val_rows]
        return train_rows, validation

    def _validation_set(self, X_val, y_val, sample_weight_val, dtype):
        """Validate a user-given validation set and encode its targets."""
        # validate_data calls them X and y: name NaN and infinities here.
        check_array(X_val, accept_sparse=["csr", "csc"], dtype=None, input_name="X_val")
        check_array(y_val, ensure_2d=False, dtype=None, input_name="y_val")
        X_val, y_val = validate_data(
            self,
            X_val,
            y_val,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=self._y_numeric,
            dtype=(np.float64, np.float32),
            reset=False,
        )
        X_val = X_val.astype(dtype, copy=False)
        sample_weight_val = _check_sample_weight(
            sample_weight_val, X_val, dtype=dtype, ensure_non_negative=True
        )
        if not sample_weight_val.sum() > 0:
            raise ValueError("sample_weight_val sums to zero: nothing to validate on.")
        return X_val, self._encode_validation_targets(y_val, dtype), sample_weight_val

    _y_numeric = False

    # Prediction ------------------------------------------------------------

    def _network_inputs(self, X):
        """``X`` validated and mapped as the fitted network's methods take it."""
        check_is_fitted(self)
        return self._network.map_inputs(self._validate_X_predict(X))

    def _forward(self, X):
        """Inference-mode outputs of the head (probabilities or values)."""
        with np.errstate(over="ignore", under="ignore"):
            X = self._network_inputs(X)
            return self._network.infer(X)

    def _member_forward(self, X):
        """Each ensemble member's outputs of the head, shape (n_samples,
        n_members, n_outputs)."""
        with np.errstate(over="ignore", under="ignore"):
            X = self._network_inputs(X)
            network = self._network
            raw = network.member_outputs(X)
            flat = raw.reshape(-1, raw.shape[2])
            network.head.inverse_link(flat)
            return flat.reshape(raw.shape)

    def _validate_X_predict(self, X):
        """Validate X for prediction, cast to the network's dtype.

        ``validate_data`` costs about 100 us, more than predicting a few rows;
        an ndarray already of the right dtype and width, with no feature names
        to compare, needs only its finiteness checked (a sum is non-finite if
        any element is, and then the full validation decides).
        """
        dtype = self._network.params.dtype
        if (
            type(X) is np.ndarray
            and X.dtype == dtype
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
            and np.isfinite(X.sum())
        ):
            return X
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=(np.float64, np.float32),
            reset=False,
        )
        return X.astype(dtype, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
