"""BatchNormMLPClassifier: a scikit-learn MLP classifier with batch norm."""

import copy
import signal
import threading
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
)

from ._compat import Interval, Options, StrOptions, _fit_context, validate_data
from ._network import Network, Workspace
from ._optimizers import AdamOptimizer, RMSpropOptimizer, SGDOptimizer


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


@contextmanager
def _restore_on_failure(estimator):
    """Put back the estimator's attributes if fitting raises.

    A failed fit on a fresh estimator leaves it unfitted, and on a fitted one
    leaves the previous model working. Training never mutates the previous
    fitted objects in place (it works on copies), so a shallow snapshot is
    enough.
    """
    state = estimator.__dict__.copy()
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(state)
        raise


class BatchNormMLPClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier with batch normalisation.

    Each hidden layer is ``Linear (no bias) -> BatchNorm -> activation ->
    dropout``; the output layer is ``Linear -> softmax`` with a cross-entropy
    loss (independent logistic outputs and binary cross-entropy for multilabel
    targets). Trained by mini-batch SGD (with momentum), RMSprop or Adam.

    Parameter names and defaults follow
    :class:`~sklearn.neural_network.MLPClassifier` wherever the concept is the
    same, so the two can be swapped in a pipeline and a parameter grid.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units of the ith hidden layer.

    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers.

    solver : {"sgd", "adam", "rmsprop"}, default="adam"
        Optimiser. "sgd" uses ``momentum`` and ``nesterovs_momentum``;
        "adam" uses ``beta_1``, ``beta_2`` and ``epsilon``; "rmsprop" keeps
        an average of squared gradients with decay ``beta_2`` and divides by
        its root plus ``epsilon``.

    alpha : float, default=0.0001
        Strength of the L2 penalty on the weight matrices (not on biases,
        gamma or beta), divided by the mini-batch's total sample weight as in
        MLPClassifier.

    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is ``min(200, n_samples)``. A trailing batch
        of a single row is merged into the previous one.

    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule, applied to every solver.

        - "constant": ``learning_rate_init`` throughout.
        - "invscaling": ``learning_rate_init / (t + 1) ** power_t`` after each
          epoch, ``t`` being the number of samples seen.
        - "adaptive": divide by 5 each time the loss (or validation score)
          stops improving for ``n_iter_no_change`` epochs; stop below 1e-6.

    learning_rate_init : float, default=0.001
        Initial learning rate.

    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.

    max_iter : int, default=200
        Maximum number of epochs.

    shuffle : bool, default=True
        Whether to shuffle the samples at every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the early-stopping split and
        dropout. Pass an int for reproducible fits.

    tol : float, default=1e-4
        Improvement of the loss (or validation score) below which an epoch
        counts as no improvement.

    verbose : int, default=0
        0 prints nothing; 1 prints one line per epoch (loss, validation
        score, elapsed time); 2 adds the epoch's seconds spent in the
        forward pass, the backward pass and the parameter update.

    warm_start : bool, default=False
        Continue from the current weights and statistics on ``fit``.

    momentum : float, default=0.9
        Momentum of "sgd", in [0, 1].

    nesterovs_momentum : bool, default=True
        Whether "sgd" uses Nesterov's momentum.

    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data,
        stop when its accuracy has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the best parameters.

    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping, in (0, 1).

    beta_1 : float, default=0.9
        Decay of Adam's first-moment average, in [0, 1).

    beta_2 : float, default=0.999
        Decay of Adam's and RMSprop's second-moment average, in [0, 1).

    epsilon : float, default=1e-8
        Numerical stability term of Adam and RMSprop.

    n_iter_no_change : int, default=10
        Number of epochs without improvement before stopping.

    batch_norm : bool, default=True
        Whether hidden layers are batch-normalised. Without batch norm their
        linear maps have a bias.

    batch_norm_momentum : float, default=0.9
        Weight of the old value in the exponentially weighted running
        statistics: ``running = m * running + (1 - m) * batch``, in (0, 1).
        The running statistics start from the first batch's.

    batch_norm_epsilon : float, default=1e-5
        Added to the variance before taking its square root.

    batch_norm_stats : {"running", "population"}, default="running"
        Statistics used at inference. "running": the exponentially weighted
        averages of the mini-batch statistics. "population": after training,
        each layer's weighted mean and variance recomputed over the whole
        training data of the call, layer by layer.

    dropout : float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout), in [0, 1). 0 disables dropout.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    loss_ : float
        Training loss of the last epoch.

    best_loss_ : float or None
        Lowest training loss reached; None with early stopping.

    loss_curve_ : list of float
        Training loss of every epoch.

    validation_scores_ : list of float or None
        Validation accuracy of every epoch with early stopping, else None.

    best_validation_score_ : float or None
        Best validation accuracy with early stopping, else None.

    n_iter_ : int
        Number of epochs run by the last call to fit or partial_fit.

    t_ : int
        Number of training samples seen, over all calls.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of output units: the number of classes (two for binary
        targets) or of labels for multilabel targets.

    out_activation_ : {"softmax", "logistic"}
        Output activation: "logistic" for multilabel targets.

    coefs_ : list of ndarray
        Weight matrix of each layer, of shape (fan_in, fan_out).

    intercepts_ : list of ndarray
        Biases of the layers that have one: the output layer with batch norm,
        every layer without.

    bn_gammas_, bn_betas_ : list of ndarray
        Learned batch-norm scale and shift of each hidden layer (empty
        without batch norm).

    bn_means_, bn_vars_ : list of ndarray
        Batch-norm statistics used at inference, per hidden layer (running or
        population, see ``batch_norm_stats``).

    See Also
    --------
    sklearn.neural_network.MLPClassifier : The same model without batch norm.

    Notes
    -----
    Computations run in the input's floating dtype: float32 input trains a
    float32 network (faster), anything else float64.

    ``sample_weight`` weights both the loss and the batch-norm statistics, so
    an integer weight is equivalent to repeating the row. A loss that becomes
    non-finite stops training, restores the last parameters seen to give
    a finite loss and warns. Ctrl-C stops training after the current mini-batch and
    keeps the model.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skbnnet import BatchNormMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(
    ...     X, y, stratify=y, random_state=0)
    >>> clf = make_pipeline(
    ...     StandardScaler(),
    ...     BatchNormMLPClassifier(hidden_layer_sizes=(32,), batch_size=16,
    ...                            learning_rate_init=0.01, random_state=0))
    >>> clf.fit(X_train, y_train).score(X_test, y_test)
    1.0
    >>> clf.predict_proba(X_test[:1]).shape
    (1, 3)
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam", "rmsprop"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
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
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        batch_norm=True,
        batch_norm_momentum=0.9,
        batch_norm_epsilon=1e-5,
        batch_norm_stats="running",
        dropout=0.0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
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

    def _fitted_network(self):
        try:
            return self.__dict__["_network"]
        except KeyError:
            raise AttributeError(
                f"This {type(self).__name__} instance is not fitted yet."
            ) from None

    def __sklearn_is_fitted__(self):
        return "_network" in self.__dict__

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data X and targets y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels, or a label indicator matrix for multilabel targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights. They weight the loss and the
            batch-norm statistics.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        with _restore_on_failure(self):
            return self._fit(X, y, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels, or a label indicator matrix for multilabel targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        classes : array-like of shape (n_classes,), default=None
            All the classes over all calls. Required on the first call
            (unless the model was fitted before), ignored for multilabel
            targets.

        Returns
        -------
        self : object
            The updated estimator.
        """
        with _restore_on_failure(self):
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)
            return self._fit(X, y, sample_weight, incremental=True)

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

    def _validate_input(self, X, y, incremental, reset):
        """Validate X and y; return X and the encoded targets.

        The targets are class indices for the softmax head and an indicator
        matrix for the multilabel (logistic) head.
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)

        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return X, self._label_binarizer.transform(y).astype(X.dtype)
        return X, np.searchsorted(self.classes_, y)

    def _fit(self, X, y, sample_weight, incremental):
        hidden_layer_sizes = self._hidden_layer_sizes()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "_network") or (
            not self.warm_start and not incremental
        )
        X, target = self._validate_input(X, y, incremental, reset=first_pass)
        if not first_pass:
            X = X.astype(self._network.params.dtype, copy=False)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        if not sample_weight.sum() > 0:
            raise ValueError("The sample weights sum to zero: nothing to fit.")
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        if not multilabel and len(self.classes_) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {self.classes_[0]}."
            )

        rng = check_random_state(self.random_state)
        if first_pass:
            self.n_outputs_ = target.shape[1] if multilabel else len(self.classes_)
            self.out_activation_ = "logistic" if multilabel else "softmax"
            layer_units = [X.shape[1], *hidden_layer_sizes, self.n_outputs_]
            self.n_layers_ = len(layer_units)
            network = Network(
                layer_units,
                self.activation,
                self.out_activation_,
                self.batch_norm,
                self.batch_norm_epsilon,
                X.dtype,
            )
            network.initialize(rng)
            self.loss_curve_ = []
            self.t_ = 0
            self._no_improvement_count = 0
            self.best_loss_ = None if self.early_stopping else np.inf
            self.validation_scores_ = [] if self.early_stopping else None
            self.best_validation_score_ = -np.inf if self.early_stopping else None
        else:
            network = copy.deepcopy(self._network)
            self._check_architecture(network, hidden_layer_sizes)
            self.loss_curve_ = list(self.loss_curve_)
            if self.validation_scores_ is not None:
                self.validation_scores_ = list(self.validation_scores_)

        if incremental and hasattr(self, "_optimizer"):
            optimizer = copy.deepcopy(self._optimizer)
        else:
            optimizer = self._make_optimizer(network.params)

        if self.early_stopping:
            train_rows, validation = self._split_validation(
                X, target, sample_weight, rng
            )
        else:
            train_rows, validation = None, None
        self._fit_stochastic(
            network,
            optimizer,
            X,
            target,
            sample_weight,
            train_rows,
            validation,
            rng,
            incremental,
        )
        if self.batch_norm and self.batch_norm_stats == "population":
            if train_rows is not None:
                # The statistics of the training rows: held-out rows weigh 0.
                population_weight = np.zeros_like(sample_weight)
                population_weight[train_rows] = sample_weight[train_rows]
                sample_weight = population_weight
            network.set_population_stats(X, sample_weight, self._batch_size(X.shape[0]))
        self._network = network
        return self

    def _check_architecture(self, network, hidden_layer_sizes):
        if network.layer_units[1:-1] != hidden_layer_sizes or any(
            getattr(network, name) != value
            for name, value in [
                ("activation", self.activation),
                ("batch_norm", self.batch_norm),
                ("epsilon", self.batch_norm_epsilon),
            ]
        ):
            raise ValueError(
                "warm_start and partial_fit continue the fitted network, so "
                "hidden_layer_sizes, activation, batch_norm and "
                "batch_norm_epsilon cannot change between calls."
            )

    def _make_optimizer(self, params):
        schedule = dict(
            learning_rate_init=self.learning_rate_init,
            lr_schedule=self.learning_rate,
            power_t=self.power_t,
        )
        if self.solver == "sgd":
            return SGDOptimizer(
                params,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
                **schedule,
            )
        if self.solver == "adam":
            return AdamOptimizer(
                params,
                beta_1=self.beta_1,
                beta_2=self.beta_2,
                epsilon=self.epsilon,
                **schedule,
            )
        return RMSpropOptimizer(
            params, beta_2=self.beta_2, epsilon=self.epsilon, **schedule
        )

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                f"Got `batch_size`={self.batch_size} larger than the number of "
                f"training samples ({n_samples}). It is clipped to {n_samples}."
            )
        return min(self.batch_size, n_samples)

    def _split_validation(self, X, target, sample_weight, rng):
        """Hold out a stratified validation set for early stopping.

        Returns the training rows as indices, so that X is not copied, and
        the (small) validation set itself.
        """
        stratify = target if target.ndim == 1 else None
        try:
            train_rows, val_rows = train_test_split(
                np.arange(X.shape[0]),
                random_state=rng,
                test_size=self.validation_fraction,
                stratify=stratify,
            )
        except ValueError as exc:
            raise ValueError(
                "early_stopping=True could not hold out a stratified "
                f"validation_fraction={self.validation_fraction} of the data: "
                f"{str(exc).rstrip('.')}. Use more samples, a larger "
                "validation_fraction or "
                "early_stopping=False."
            ) from exc
        if val_rows.size < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        validation = X[val_rows], target[val_rows], sample_weight[val_rows]
        return train_rows, validation

    def _fit_stochastic(
        self,
        network,
        optimizer,
        X,
        target,
        sample_weight,
        train_rows,
        validation,
        rng,
        incremental,
    ):
        """Run the epochs over ``X[train_rows]`` (all of X if None)."""
        if train_rows is None:
            n_samples = X.shape[0]
            total_weight = float(sample_weight.sum())
        else:
            n_samples = train_rows.size
            total_weight = float(sample_weight[train_rows].sum())
        batch_size = self._batch_size(n_samples)
        # min_batch_size=2: a trailing single row joins the previous batch, so
        # no batch-norm statistic is ever computed from one row of a batch
        # that has others.
        batches = list(gen_batches(n_samples, batch_size, min_batch_size=2))
        n_rows = max(batch.stop - batch.start for batch in batches)
        workspace = Workspace(network.layer_units, n_rows, X.dtype, self.dropout)
        grads = np.empty_like(network.params)
        weights = np.empty(n_rows, dtype=X.dtype)
        gather = not sp.issparse(X) and (self.shuffle or train_rows is not None)
        X_batch_buffer = np.empty((n_rows, X.shape[1]), X.dtype) if gather else None
        dropout_rng = (
            np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
            if self.dropout > 0
            else None
        )
        # The parameters an epoch starts from, and the last ones whose loss was
        # seen to be finite: an epoch's start is promoted once its first batch
        # loss is finite, so a divergence never restores the very parameters
        # that produced it.
        epoch_start = (network.params.copy(), network.stats.copy())
        last_finite = (network.params.copy(), network.stats.copy())
        best = None
        self.n_iter_ = 0
        start_time = time.perf_counter()

        with (
            _interrupt_after_batch() as interrupted,
            np.errstate(
                over="ignore", invalid="ignore", divide="ignore", under="ignore"
            ),
        ):
            for _ in range(self.max_iter):
                order = rng.permutation(n_samples) if self.shuffle else None
                if train_rows is not None:
                    order = train_rows if order is None else train_rows[order]
                np.copyto(epoch_start[0], network.params)
                np.copyto(epoch_start[1], network.stats)
                start_verified = False
                accumulated_loss = 0.0
                timings = np.zeros(3) if self.verbose >= 2 else None
                diverged = False
                for batch in batches:
                    m = batch.stop - batch.start
                    rows = batch if order is None else order[batch]
                    if gather:
                        X_batch = np.take(X, rows, axis=0, out=X_batch_buffer[:m])
                    else:
                        X_batch = X[rows]
                    sw_batch = sample_weight[rows]
                    weight_sum = sw_batch.sum()
                    if weight_sum == 0:
                        continue
                    w = np.divide(sw_batch, weight_sum, out=weights[:m])
                    loss = network.train_batch(
                        X_batch,
                        target[rows],
                        w,
                        weight_sum,
                        self.alpha,
                        grads,
                        workspace,
                        optimizer,
                        self.batch_norm_momentum,
                        self.dropout,
                        dropout_rng,
                        timings,
                    )
                    if not np.isfinite(loss):
                        diverged = True
                        break
                    if not start_verified:
                        epoch_start, last_finite = last_finite, epoch_start
                        start_verified = True
                    accumulated_loss += loss * weight_sum
                    if interrupted.is_set():
                        break

                if diverged:
                    self._handle_divergence(network, last_finite)
                    break
                if interrupted.is_set():
                    warnings.warn(
                        "Training interrupted by user: the model keeps the "
                        "parameters of the last completed mini-batch."
                    )
                    break
                self.n_iter_ += 1
                self.t_ += n_samples
                self.loss_ = accumulated_loss / total_weight
                self.loss_curve_.append(self.loss_)
                if self.early_stopping:
                    improved = self._update_validation(network, validation)
                    if improved:
                        best = (network.params.copy(), network.stats.copy())
                else:
                    self._update_loss_plateau()
                if self.verbose:
                    self._print_epoch(time.perf_counter() - start_time, timings)

                optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    if self.early_stopping:
                        msg = (
                            "Validation score did not improve more than "
                            f"tol={self.tol:f} for {self.n_iter_no_change} "
                            "consecutive epochs."
                        )
                    else:
                        msg = (
                            f"Training loss did not improve more than tol="
                            f"{self.tol:f} for {self.n_iter_no_change} "
                            "consecutive epochs."
                        )
                    if optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
            else:
                warnings.warn(
                    f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                    "reached and the optimization hasn't converged yet.",
                    ConvergenceWarning,
                )

        if not hasattr(self, "loss_"):
            self.loss_ = np.nan
        if best is not None:
            network.params[:], network.stats[:] = best
        self._optimizer = optimizer

    def _handle_divergence(self, network, last_finite):
        """Restore the last finite parameters after a non-finite loss."""
        network.params[:], network.stats[:] = last_finite
        warnings.warn(
            f"Training diverged at epoch {self.n_iter_ + 1}: the loss became "
            "non-finite. The last parameters seen to give a finite loss were "
            "restored. "
            f"Try a lower learning_rate_init (got {self.learning_rate_init}).",
            ConvergenceWarning,
        )

    def _update_loss_plateau(self):
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])

    def _update_validation(self, network, validation):
        """Score the held-out data; return whether it is the best so far."""
        X_val, target_val, sw_val = validation
        score = accuracy_score(
            target_val,
            self._decode(network.predict_proba(X_val), encoded=True),
            sample_weight=sw_val,
        )
        self.validation_scores_.append(score)
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if score > self.best_validation_score_:
            self.best_validation_score_ = score
            return True
        return False

    def _print_epoch(self, elapsed, timings):
        line = f"Epoch {len(self.loss_curve_)}, loss = {self.loss_:.8f}"
        if self.validation_scores_:
            line += f", validation score = {self.validation_scores_[-1]:.6f}"
        line += f", time = {elapsed:.2f}s"
        if timings is not None:
            forward, backward, update = timings
            line += (
                f" (epoch: forward {forward:.3f}s, backward {backward:.3f}s, "
                f"update {update:.3f}s)"
            )
        print(line)

    def _decode(self, proba, encoded=False):
        """Turn probabilities into labels (class indices if ``encoded``)."""
        if self.out_activation_ == "logistic":
            return (proba > 0.5).astype(int)
        indices = np.argmax(proba, axis=1)
        return indices if encoded else self.classes_[indices]

    def predict_proba(self, X):
        """Probability estimates, from the stored batch-norm statistics only.

        A sample's prediction does not depend on the other rows passed with
        it.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_outputs)
            Class probabilities in the order of ``classes_`` (rows sum to
            one), or per-label probabilities for multilabel targets.
        """
        check_is_fitted(self)
        with np.errstate(over="ignore", under="ignore"):
            return self._network.predict_proba(self._validate_X_predict(X))

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

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_outputs)
            ``log(predict_proba(X))``.
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted classes, or a label indicator matrix for multilabel
            targets.
        """
        return self._decode(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_label = True
        return tags
