"""BatchNormMLPRegressor: a scikit-learn MLP regressor with batch norm."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin

from ._base import BaseBatchNormMLP, _restore_on_failure
from ._compat import Interval, StrOptions, _fit_context
from ._heads import (
    AbsoluteError,
    Huber,
    Poisson,
    Quantile,
    SquaredError,
    weighted_mean_and_std,
)

#: The head of each ``loss``.
_HEADS = {
    "squared_error": SquaredError,
    "absolute_error": AbsoluteError,
    "huber": Huber,
    "quantile": Quantile,
    "poisson": Poisson,
}


class BatchNormMLPRegressor(RegressorMixin, BaseBatchNormMLP):
    """Multi-layer perceptron regressor with batch normalisation.

    Each hidden layer is ``Linear (no bias) -> BatchNorm -> activation ->
    dropout``; the output layer is linear, one output per target, trained on
    the ``loss`` of (by default standardised) targets: the half squared
    error, or the absolute, Huber, quantile or Poisson loss. Trained by
    mini-batch SGD (with momentum), RMSprop or Adam.

    Parameter names follow :class:`~sklearn.neural_network.MLPRegressor`
    wherever the concept is the same, so the two can be swapped in a
    pipeline and a parameter grid. So do the defaults, but for the training
    recipe: ``learning_rate="cosine"``, ``learning_rate_init=0.01`` and
    ``weight_decay=2.0``, chosen by ``benchmarks/bench_defaults.py`` on
    bundled and generated datasets (see Notes).

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of units of the ith hidden layer.

    loss : {"squared_error", "absolute_error", "huber", "quantile", \
            "poisson"}, default="squared_error"
        The loss of the output layer, averaged over the targets; the names
        are those of :class:`~sklearn.ensemble.HistGradientBoostingRegressor`
        and :class:`~sklearn.neural_network.MLPRegressor`.

        - "squared_error": half the squared error; predicts the mean.
        - "absolute_error": the absolute error; predicts the median.
        - "huber": squared error for residuals within 1, absolute beyond
          (with ``scale_target``, 1 is one standard deviation of the
          targets): the mean, made robust to outliers.
        - "quantile": the pinball loss of ``quantile``; predicts that
          quantile.
        - "poisson": half the Poisson deviance with a log link, for counts
          and rates: the targets must be non-negative with a positive sum,
          are never standardised, and predictions are ``exp`` of the output
          layer, whose bias starts at the log of the targets' mean.

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

    weight_decay : float, default=2.0
        Decoupled weight decay, as in ``torch.optim.AdamW``: every step also
        multiplies the weight matrices (not biases, gamma or beta) by
        ``1 - lr * weight_decay``, ``lr`` being the current learning rate.
        Applies to every solver.

    batch_size : int or "auto", default="auto"
        Mini-batch size; "auto" is ``min(200, n_samples)``. A trailing batch
        of a single row is merged into the previous one.

    learning_rate : {"constant", "invscaling", "adaptive", "cosine"}, \
            default="cosine"
        Learning-rate schedule, applied to every solver.

        - "constant": ``learning_rate_init`` throughout.
        - "invscaling": ``learning_rate_init / (t + 1) ** power_t`` after each
          epoch, ``t`` being the number of samples seen.
        - "adaptive": divide by 5 each time the loss (or validation score)
          stops improving for ``n_iter_no_change`` epochs; stop below 1e-6.
        - "cosine": cosine annealing from ``learning_rate_init`` to 0 over
          ``max_iter`` epochs, updated after every mini-batch. The schedule
          sets the length of training: a training-loss plateau does not stop
          it (early stopping on validation data still does), and reaching
          ``max_iter`` raises no ConvergenceWarning. A ``partial_fit`` call
          is one epoch of the cycle: the rate anneals over ``max_iter``
          calls, then starts again (after ``fit``, at a new cycle).

    learning_rate_init : float, default=0.01
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

    early_stopping : "auto" or bool, default="auto"
        Hold out ``validation_fraction`` of the training data (or use
        ``X_val``), stop when its R² (for ``loss="squared_error"``, else its
        negative loss) has not improved by ``tol`` for ``n_iter_no_change``
        epochs, and restore the best parameters. ``"auto"`` does so in
        ``fit`` when ``X_val`` is given or the training set has from 200 to
        999 rows, waiting ``max(n_iter_no_change, max_iter // 4)`` epochs
        (50 by default), and never in ``partial_fit``: small data are where
        a full schedule overfits noisy targets (see
        ``benchmarks/TUNING_NOTES.md``, section 11). ``False`` restores the
        behaviour of 0.2.

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
        training data of the call, layer by layer; ``partial_fit`` merges
        those of its rows with those of every earlier call since ``fit``.

    dropout : float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout), in [0, 1). 0 disables dropout.

    input_scaling : {"smooth_clip"} or None, default="smooth_clip"
        Map applied to the inputs before the first layer. "smooth_clip"
        centres each feature on its weighted median, divides it by its
        interquartile range (half its range where that is 0) and maps it
        through ``x / sqrt(1 + (x / 3) ** 2)``, as
        :class:`~skbnnet.preprocessing.SmoothClipScaler` does: outliers and
        heavy tails reach the network at the scale of the bulk of the data,
        and no scaler is needed before the estimator. Sparse input is scaled
        but not centred, so zeros stay zeros. The statistics come from the
        first ``fit`` or ``partial_fit`` call and stay with the network
        through warm starts and later ``partial_fit`` calls: a first batch of
        a few rows gives rough ones (scale the data yourself and pass None
        then). None feeds the inputs as they are. Behind the tabular
        benchmark's StandardScaler it raised the classifier's mean accuracy
        by 0.14 points over 15 sets and the regressor's mean R² by 0.9 over
        7 (``benchmarks/TUNING_NOTES.md``, section 13).

    numeric_embedding : {"auto", "periodic"} or None, default="auto"
        Learned embedding of the numeric inputs before the first layer.
        "periodic" gives the first layer each scaled input ``x_j`` and
        ``n_frequencies`` features ``cos(f_jt * x_j + b_jt)`` whose
        frequencies and phases train with the network (RealMLP's "PBLD"
        embedding, the first layer acting as its per-feature projection): a
        sharp or non-monotone effect of one input then costs the first layer
        a few weights instead of many units. Inputs with two distinct values
        or fewer in the first ``fit`` (indicators, one-hot columns) are
        passed as they are, since any function of them is affine. The first
        layer's fan-in grows to ``n_features_in_ + n_embedded *
        n_frequencies``, and its cost with it; sparse input is made dense a
        mini-batch at a time. "auto" embeds when the first ``fit`` or
        ``partial_fit`` call has at least 500 rows and at most 100 inputs to
        embed: on the tabular benchmark the embedding gained on sets of 500
        training rows or more (classification +0.34 points over 10 sets,
        regression R² +1.1 over 5) and overfitted most smaller ones (-1.9 to
        -7.1 on 5 of 7), at about 5 times the fit time
        (``benchmarks/TUNING_NOTES.md``, section 14). A warm start keeps
        what the first call chose. None gives the first layer the inputs
        only (0.2's behaviour).

    n_frequencies : int, default=16
        Cosines per embedded input under ``numeric_embedding="periodic"``.

    n_members : int, default=1
        Members of a weight-sharing ensemble trained and evaluated in one
        pass (TabM-mini, Gorishniy et al. 2025): member ``i`` multiplies the
        first layer's input by its own learned vector, started at random
        signs, and shares every other parameter. Training minimises the mean
        of the members' losses, and predictions average the members' raw
        outputs (logits, or values before the inverse link). Each batch
        passes through the layers ``n_members`` times, and the cost grows
        with it. 1, the default, is a single network: on the tabular
        benchmark four members raised R² by 1.1 points in regression (not
        accuracy in classification) at three times the fit time, but they
        train more slowly and lose in short fits
        (``benchmarks/TUNING_NOTES.md``, section 15).

    scale_target : bool, default=True
        Standardise the targets internally: the network learns
        ``(y - target_mean_) / target_scale_`` (weighted mean and standard
        deviation of the first fit) and predictions are mapped back. Without
        it, targets far from unit scale (say in the hundreds) need many more
        epochs or a different learning rate. Ignored with
        ``loss="poisson"``, whose targets are not standardised.

    quantile : float, default=None
        The quantile to predict with ``loss="quantile"``, in (0, 1).

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    loss_ : float
        Training loss of the last epoch on the scaled targets (for the
        default loss half the mean squared error), plus the L2 penalty.

    best_loss_ : float or None
        Lowest training loss reached; None with early stopping.

    loss_curve_ : list of float
        Training loss of every epoch.

    validation_scores_ : list of float or None
        Validation score of every epoch with early stopping (on the held out
        fraction, or on ``X_val``), else None: R² for
        ``loss="squared_error"``, the negative validation loss for the
        others (as HistGradientBoostingRegressor's ``scoring="loss"``).

    best_validation_score_ : float or None
        Best validation R² with early stopping, else None.

    n_iter_ : int
        Number of epochs run by the last call to fit or partial_fit.

    t_ : int
        Number of training samples seen, over all calls.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of targets.

    out_activation_ : str
        Output activation, always "identity".

    target_mean_, target_scale_ : ndarray of shape (`n_outputs_`,)
        The targets' scaling: predictions are the network's outputs times
        ``target_scale_`` plus ``target_mean_`` (zeros and ones without
        ``scale_target``).

    coefs_ : list of ndarray
        Weight matrix of each layer, of shape (fan_in, fan_out). Under
        ``numeric_embedding`` the first layer's rows are the inputs, then
        the cosines of each embedded input in turn.

    intercepts_ : list of ndarray
        Biases of the layers that have one: the output layer with batch norm,
        every layer without.

    bn_gammas_, bn_betas_ : list of ndarray
        Learned batch-norm scale and shift of each hidden layer (empty
        without batch norm).

    bn_means_, bn_vars_ : list of ndarray
        Batch-norm statistics used at inference, per hidden layer (running or
        population, see ``batch_norm_stats``).

    input_center_, input_scale_ : ndarray of shape (`n_features_in_`,) or None
        Centre and divisor of each feature under ``input_scaling``, before
        its smooth clip into ``(-3, 3)``; None with ``input_scaling=None``.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : The same model without batch norm
        or target scaling.
    BatchNormMLPClassifier : The classifier of the same family.

    Notes
    -----
    Computations run in the input's floating dtype: float32 input trains a
    float32 network (faster), anything else float64.

    The squared error is ``sum_i w_i ||f(x_i) - y_i||^2 / (2 * n_outputs)``
    over the scaled targets, with ``w`` the sample weights normalised per
    mini-batch, as MLPRegressor's; the other losses are averaged over the
    targets likewise. Early stopping scores R² for the squared error, as
    :meth:`score` does (for one target it orders epochs exactly as the
    validation loss does), and the validation loss itself for the others.

    The default recipe (cosine annealing from 0.01, decoupled weight decay
    2.0) replaces MLPRegressor's constant 0.001, which stops on a
    training-loss plateau before it has fitted smooth targets; the
    measurements are in ``benchmarks/TUNING_NOTES.md`` (section 4) and
    ``benchmarks/README.md``, and ``benchmarks/bench_losses.py`` compares
    each loss with gradient boosting of the same loss.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skbnnet import BatchNormMLPRegressor
    >>> X, y = make_friedman1(n_samples=500, noise=0.5, random_state=0)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> reg = make_pipeline(
    ...     StandardScaler(),
    ...     BatchNormMLPRegressor(hidden_layer_sizes=(64,), random_state=0))
    >>> round(reg.fit(X_train, y_train).score(X_test, y_test), 1)
    0.9
    >>> reg.predict(X_test[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **BaseBatchNormMLP._parameter_constraints,
        "loss": [StrOptions(set(_HEADS))],
        "scale_target": ["boolean"],
        "quantile": [Interval(Real, 0, 1, closed="neither"), None],
        "early_stopping": ["boolean", StrOptions({"auto"})],
    }

    _y_numeric = True

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        loss="squared_error",
        solver="adam",
        alpha=0.0001,
        weight_decay=2.0,
        batch_size="auto",
        learning_rate="cosine",
        learning_rate_init=0.01,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping="auto",
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
        input_scaling="smooth_clip",
        numeric_embedding="auto",
        n_frequencies=16,
        n_members=1,
        scale_target=True,
        quantile=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            weight_decay=weight_decay,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            batch_norm=batch_norm,
            batch_norm_momentum=batch_norm_momentum,
            batch_norm_epsilon=batch_norm_epsilon,
            batch_norm_stats=batch_norm_stats,
            dropout=dropout,
            input_scaling=input_scaling,
            numeric_embedding=numeric_embedding,
            n_frequencies=n_frequencies,
            n_members=n_members,
        )
        self.loss = loss
        self.scale_target = scale_target
        self.quantile = quantile

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values. The first call fixes the target scaling.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        with _restore_on_failure(self):
            return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, sample_weight, first_pass, incremental):
        """The targets as a 2-D array in X's dtype, scaled.

        The scaling is computed and applied in float64 whatever X's dtype:
        float32 cannot standardise ``1e8 + signal`` (the signal is below its
        resolution) nor hold targets beyond about 3e38.
        """
        y = self._as_float64_columns(y, "y")
        if self.loss == "poisson" and (
            (y[sample_weight > 0] < 0).any() or not (sample_weight @ y > 0).all()
        ):
            raise ValueError(
                "loss='poisson' requires non-negative y and sum(y) > 0 for "
                "every target."
            )
        if first_pass:
            if self.scale_target and _HEADS[self.loss].affine_targets:
                mean, scale = weighted_mean_and_std(y, sample_weight)
                # A constant target keeps its scale (nothing to standardise).
                scale[scale == 0] = 1.0
            else:
                mean, scale = np.zeros(y.shape[1]), np.ones(y.shape[1])
            self.target_mean_, self.target_scale_ = mean, scale
        else:
            self._check_n_outputs(y, "y")
        return self._scale(y, sample_weight.dtype, "y"), sample_weight

    def _as_float64_columns(self, y, name):
        """Numeric targets as a float64 array of one column per target."""
        if y.dtype.kind not in "biuf":
            raise ValueError(
                f"{type(self).__name__} needs numeric targets, got {name} of "
                f"dtype {y.dtype}. Convert them to numbers first (for dates, "
                "for example, to a number of days)."
            )
        return y.reshape(y.shape[0], -1).astype(np.float64)

    def _scale(self, y, dtype, name):
        """``(y - target_mean_) / target_scale_`` in float64, cast to dtype."""
        # Divided first, so that targets near float64's limit do not overflow.
        scaled = y / self.target_scale_ - self.target_mean_ / self.target_scale_
        limit = np.finfo(dtype).max
        if not np.all(np.abs(scaled) <= limit):
            hint = (
                "Set scale_target=True"
                if not self.scale_target
                else "Pass X as float64"
            )
            raise ValueError(
                f"{name} is too large for the network's {np.dtype(dtype)} "
                f"after scaling (largest magnitude {np.abs(scaled).max():.3g}, "
                f"the dtype holds {limit:.3g}). {hint}, or rescale {name}."
            )
        return scaled.astype(dtype)

    def _check_n_outputs(self, y, name):
        if y.shape[1] != self.target_mean_.shape[0]:
            raise ValueError(
                f"{name} has {y.shape[1]} targets, but this "
                f"{type(self).__name__} was fitted with "
                f"{self.target_mean_.shape[0]}."
            )

    def _encode_validation_targets(self, y_val, dtype):
        y_val = self._as_float64_columns(y_val, "y_val")
        self._check_n_outputs(y_val, "y_val")
        return self._scale(y_val, dtype, "y_val")

    def _make_head(self, target):
        if self.loss == "quantile":
            if self.quantile is None:
                raise ValueError(
                    "loss='quantile' needs the quantile to predict: set "
                    "quantile to a number in (0, 1)."
                )
            return Quantile(target.shape[1], self.quantile)
        return _HEADS[self.loss](target.shape[1])

    def predict(self, X, return_std=False):
        """Predict using the network, from the stored statistics only.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        return_std : bool, default=False
            Also return the standard deviation of the ensemble members'
            predictions, a measure of the model's uncertainty; needs
            ``n_members > 1``.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted values, float64 whatever the network's dtype (unlike
            MLPRegressor's): float32 holds neither targets beyond about 3e38
            nor the signal of ``1e8 + signal``. One-dimensional for a single
            target.

        y_std : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The members' spread, shaped like ``y``; only with
            ``return_std=True``.
        """
        # Mapped back in float64: targets of float32 networks may lie beyond
        # float32's range or resolution.
        y_pred = self._forward(X) * self.target_scale_ + self.target_mean_
        if not return_std:
            return self._shape_like_y(y_pred)
        if self._network.n_members == 1:
            raise ValueError(
                "return_std=True needs an ensemble: this model was fitted with "
                "n_members=1, whose members' spread is always 0. Fit with "
                "n_members > 1."
            )
        members = self._member_forward(X) * self.target_scale_
        return self._shape_like_y(y_pred), self._shape_like_y(members.std(axis=1))

    @staticmethod
    def _shape_like_y(values):
        """One-dimensional for a single target."""
        return values.ravel() if values.shape[1] == 1 else values

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.positive_only = self.loss == "poisson"
        return tags
