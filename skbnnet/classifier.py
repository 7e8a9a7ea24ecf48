"""BatchNormMLPClassifier: a scikit-learn MLP classifier with batch norm."""

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import type_of_target, unique_labels
from sklearn.utils.validation import column_or_1d

from ._base import BaseBatchNormMLP, _restore_on_failure
from ._compat import (
    Interval,
    InvalidParameterError,
    StrOptions,
    _check_partial_fit_first_call,
    _fit_context,
)
from ._heads import LogisticCrossEntropy, SoftmaxCrossEntropy


def _balanced(indices, n_classes, sample_weight):
    """scikit-learn's ``n_samples / (n_classes * count)`` per class, from
    weighted counts (its compute_class_weight takes weights only from 1.7);
    0 for a class without rows."""
    counts = np.bincount(indices, weights=sample_weight, minlength=n_classes)
    return np.divide(
        counts.sum(), n_classes * counts, out=np.zeros_like(counts), where=counts > 0
    )


class BatchNormMLPClassifier(ClassifierMixin, BaseBatchNormMLP):
    """Multi-layer perceptron classifier with batch normalisation.

    Each hidden layer is ``Linear (no bias) -> BatchNorm -> activation ->
    dropout``; the output layer is ``Linear -> softmax`` with a cross-entropy
    loss (independent logistic outputs and binary cross-entropy for multilabel
    targets). Trained by mini-batch SGD (with momentum), RMSprop or Adam.

    Parameter names follow :class:`~sklearn.neural_network.MLPClassifier`
    wherever the concept is the same, so the two can be swapped in a
    pipeline and a parameter grid. So do the defaults, but for the training
    recipe: ``learning_rate="cosine"``, ``learning_rate_init=0.01`` and
    ``weight_decay=0.3``, chosen by ``benchmarks/bench_defaults.py`` on
    bundled and generated datasets (see Notes).

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

    weight_decay : float, default=0.3
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

    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data
        (or use ``X_val``), stop when its accuracy has not improved by ``tol``
        for ``n_iter_no_change`` epochs, and restore the best parameters.

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

    label_smoothing : float, default=0.0
        In [0, 1). The softmax target of a row of class ``k`` becomes
        ``(1 - label_smoothing) * onehot(k) + label_smoothing / n_classes``,
        as in ``torch.nn.CrossEntropyLoss``; for multilabel targets each
        label's target becomes ``(1 - label_smoothing) * y +
        label_smoothing / 2``.

    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplying ``sample_weight`` as in
        scikit-learn's linear models, so they reach both the loss and the
        batch-norm statistics. "balanced" weighs each class by
        ``total_weight / (n_classes * class_weight_sum)`` from the sample
        weights. For multilabel targets only "balanced" (each label on its
        own, the weights multiplied); ``partial_fit`` takes a dict only.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    loss_ : float
        Training loss of the last epoch.

    best_loss_ : float or None
        Lowest training loss reached; None with early stopping.

    loss_curve_ : list of float
        Training loss of every epoch.

    validation_scores_ : list of float or None
        Validation accuracy of every epoch with early stopping (on the held
        out fraction, or on ``X_val``), else None.

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
    sklearn.neural_network.MLPClassifier : The same model without batch norm.
    BatchNormMLPRegressor : The regressor of the same family.

    Notes
    -----
    Computations run in the input's floating dtype: float32 input trains a
    float32 network (faster), anything else float64.

    ``sample_weight`` weights both the loss and the batch-norm statistics, so
    an integer weight is equivalent to repeating the row. A diverging fit
    (a non-finite loss or parameter, or a mini-batch loss over 1e4 times
    that of predicting the class prior) stops at once, restores the best
    parameters seen and warns. Ctrl-C stops training after the current
    mini-batch and keeps the model.

    The default recipe (cosine annealing from 0.01, decoupled weight decay
    0.3) replaces MLPClassifier's constant 0.001, which with batch norm
    stopped early and scored below MLPClassifier itself; the measurements
    are in ``benchmarks/TUNING_NOTES.md`` (section 4) and
    ``benchmarks/README.md``. Cosine runs all ``max_iter`` epochs; set
    ``learning_rate="constant"``, ``learning_rate_init=0.001`` and
    ``weight_decay=0`` for MLPClassifier's recipe, which stops on a
    training-loss plateau.

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
        **BaseBatchNormMLP._parameter_constraints,
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        weight_decay=0.3,
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
        input_scaling="smooth_clip",
        numeric_embedding="auto",
        n_frequencies=16,
        n_members=1,
        label_smoothing=0.0,
        class_weight=None,
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
        self.label_smoothing = label_smoothing
        self.class_weight = class_weight

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
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight 'balanced' is not supported for partial_fit: the "
                "class frequencies of one call are not those of the data. Pass "
                "a dict, for example from sklearn.utils.class_weight."
                "compute_class_weight('balanced', classes=classes, y=y) on a "
                "large enough sample of the targets."
            )
        with _restore_on_failure(self):
            if _check_partial_fit_first_call(self, classes):
                self._label_binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    self._label_binarizer.fit(y)
                else:
                    self._label_binarizer.fit(classes)
            return self._fit(X, y, sample_weight, incremental=True)

    def _encode_targets(self, y, sample_weight, first_pass, incremental):
        """Class indices for the softmax head, an indicator matrix for the
        multilabel (logistic) head; class weights fold into the weights."""
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or first_pass and not incremental:
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
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        if not multilabel and len(self.classes_) < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {self.classes_[0]}."
            )
        if self.class_weight is not None:
            sample_weight = sample_weight * self._class_sample_weight(
                y, sample_weight, multilabel
            )
        return self._encode(y, sample_weight.dtype), sample_weight

    def _class_sample_weight(self, y, sample_weight, multilabel):
        """Each row's class weight; "balanced" from the weighted class counts,
        so that integer sample weights still equal repeated rows."""
        if multilabel:
            if self.class_weight != "balanced":
                raise ValueError(
                    "class_weight for multilabel targets can only be "
                    "'balanced' (each label balanced on its own, the weights "
                    "multiplied); weight the rows with sample_weight instead."
                )
            weights = np.ones_like(sample_weight)
            for column in y.T:
                classes, indices = np.unique(column, return_inverse=True)
                weights *= _balanced(indices, len(classes), sample_weight)[indices]
            return weights
        # Against every class of the model, not only those of this call: a
        # partial_fit batch or a cross-validation fold may lack some.
        indices = np.searchsorted(self.classes_, y)
        if self.class_weight == "balanced":
            per_class = _balanced(indices, len(self.classes_), sample_weight)
        else:
            per_class = self._class_weight_dict()
        return per_class[indices]

    def _class_weight_dict(self):
        """The weight of each class of ``classes_`` from a class_weight dict.

        As scikit-learn's ``compute_class_weight``: keys of classes not in
        ``classes_`` are allowed when every class is weighted (a fold without
        one of the classes), and a class without a key weighs 1.
        """
        name = f"The 'class_weight' parameter of {type(self).__name__}"
        for label, weight in self.class_weight.items():
            if (
                not isinstance(weight, Real)
                or isinstance(weight, bool)
                or not 0 <= weight < np.inf
            ):
                raise InvalidParameterError(
                    f"{name} must map classes to non-negative finite numbers, "
                    f"got {weight!r} for class {label!r}."
                )
        missing = [c for c in self.classes_.tolist() if c not in self.class_weight]
        unknown = set(self.class_weight) - set(self.classes_.tolist())
        if missing and unknown:
            raise InvalidParameterError(
                f"{name} names classes not in the data: "
                f"{sorted(unknown, key=str)}, and leaves out {missing}. The "
                f"classes are {self.classes_.tolist()}."
            )
        return np.array([self.class_weight.get(c, 1.0) for c in self.classes_.tolist()])

    def _encode(self, y, dtype):
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return self._label_binarizer.transform(y).astype(dtype)
        return np.searchsorted(self.classes_, y)

    def _encode_validation_targets(self, y_val, dtype):
        if y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = column_or_1d(y_val, warn=True)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            if y_val.ndim != 2 or y_val.shape[1] != len(self.classes_):
                raise ValueError(
                    "y_val must be a label indicator matrix of "
                    f"{len(self.classes_)} columns, like y; got shape "
                    f"{y_val.shape}."
                )
        elif y_val.ndim != 1:
            raise ValueError(
                "y_val must be one-dimensional (class labels), like y; got "
                f"shape {y_val.shape}."
            )
        unseen = np.setdiff1d(unique_labels(y_val), self.classes_)
        if len(unseen):
            raise ValueError(
                f"y_val has classes not in the training targets: {unseen}. "
                f"The classes are {self.classes_}."
            )
        return self._encode(y_val, dtype)

    def _make_head(self, target):
        """Softmax over the classes, or independent logistic outputs for
        multilabel (indicator) targets."""
        if target.ndim == 2:
            return LogisticCrossEntropy(target.shape[1], self.label_smoothing)
        return SoftmaxCrossEntropy(len(self.classes_), self.label_smoothing)

    def _stratify(self, target):
        # The labels, not their indices: a split that fails names them.
        return self.classes_[target] if target.ndim == 1 else None

    def _decode(self, proba):
        """Turn probabilities into labels."""
        if self.out_activation_ == "logistic":
            return (proba > 0.5).astype(int)
        return self.classes_[np.argmax(proba, axis=1)]

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
        return self._forward(X)

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
        tags.classifier_tags.multi_label = True
        return tags
