"""ONNX export of skbnnet's estimators through skl2onnx (extra ``onnx``).

Importing this module registers converters and shape calculators (and, for
the classifier, the usual classifier options) with
:func:`skl2onnx.update_registered_converter`, so that
:func:`skl2onnx.to_onnx` converts a fitted
:class:`~skbnnet.BatchNormMLPClassifier` or
:class:`~skbnnet.BatchNormMLPRegressor`, alone or as the last step of a
:class:`~sklearn.pipeline.Pipeline`, and a fitted
:class:`~skbnnet.preprocessing.SmoothClipScaler` anywhere in one::

    import skbnnet.onnx  # noqa: F401  (registers the converters)
    from skl2onnx import to_onnx

    onx = to_onnx(pipeline, X[:1].astype("float32"),
                  options={"zipmap": False})

The graph is the estimator's inference pass: stored batch-norm statistics
only, no dropout, so a row's output does not depend on the other rows. With
``input_scaling="smooth_clip"`` (the default) the nodes of the fitted
smooth clip come first, as the converter of ``SmoothClipScaler`` writes
them. With ``numeric_embedding="periodic"`` the embedding follows:
``Gather`` of the embedded columns, each repeated ``n_frequencies`` times,
then ``Mul`` by the frequencies, ``Add`` of the phases, ``Cos``, and a
``Concat`` of the inputs and the cosines, which the first layer reads. In
a double graph the cosines are computed in float (older onnxruntime
releases have no double ``Cos``), so an embedded model's double graph
matches ``predict`` to about float32 precision.

An ensemble (``n_members=k``) exports as one network: its first layer is
every member's side by side (member ``i``'s weights scaled row-wise by its
adapter, ``k * n`` units), each shared hidden layer after it reads the
members as rows of their own (a ``Reshape`` before and after), and the
output layer reads the members side by side with its weights repeated ``k``
times and divided by ``k``, which averages their outputs.

Folding batch norm into the weights
-----------------------------------
In inference mode a hidden layer with batch norm computes, for its input
``A`` and weights ``W`` (no bias before batch norm),

    ``Y = gamma * (A @ W - mean) / sqrt(var + eps) + beta = (A @ W) * s + t``

with ``s = gamma / sqrt(var + eps)`` and ``t = beta - mean * s``
(:meth:`skbnnet._network.Network.inference_layers`, the fold predict
applies, from the fitted network rather than the estimator's current
hyperparameters). Scaling column ``j``
of ``A @ W`` by ``s_j`` is scaling column ``j`` of ``W``, so

    ``Y = A @ W' + b'``  with  ``W' = W * s[None, :]``  and  ``b' = t``,

and every layer exports as one ``MatMul`` and one ``Add``, followed by the
hidden activation (``Sigmoid``, ``Tanh``, ``Relu``, or nothing for
``identity``). A layer without batch norm exports its own weights and bias.
The output layer is ``MatMul`` + ``Add`` + ``Softmax`` (``Sigmoid`` for
multilabel targets, clipped to ``[eps, 1 - eps]`` as ``predict_proba``
does). The folding is done in float64 and rounded once to the export dtype.

The regressor's output layer has no activation; its target scaling
``y = z * target_scale_ + target_mean_`` is folded into it as well:
``W' = W * target_scale_[None, :]``, ``b' = b * target_scale_ +
target_mean_``. With ``loss="poisson"`` (a log link, unscaled targets) an
``Exp`` follows the output layer instead.

Classifier outputs, as skl2onnx's ``MLPClassifier`` converter:

* ``label``: ``classes_[argmax(proba)]`` (int64 for integer, boolean or
  integral float classes, string otherwise); for multilabel targets the
  int64 indicator matrix ``proba > 0.5``, like :meth:`predict`;
* ``probabilities``: the ``predict_proba`` matrix (a list of dicts unless
  ``zipmap=False``); options ``zipmap``, ``nocl`` and
  ``output_class_labels`` behave as for ``MLPClassifier``.

Regressor output, as skl2onnx's ``MLPRegressor`` converter: ``variable``, of
shape ``[N, n_outputs_]`` (``[N, 1]`` for a single target, which
:meth:`~skbnnet.BatchNormMLPRegressor.predict` returns as a 1-D array).

Data types
----------
As skl2onnx does for ``MLPClassifier``, the graph computes in double when
the input tensor is double (``to_onnx(model, X[:1])`` with a float64 ``X``,
or ``initial_types=[("X", DoubleTensorType([None, n]))]``) and in float
otherwise. A model fitted on float32 data is reproduced to about 1e-6 by a
float graph; a model fitted on float64 data is reproduced to rounding error
by a double graph, and to about float32 precision by a float graph (its
parameters are rounded to float32), where a row whose two best classes are
within that precision may get the other label. The same holds for the
regressor's predictions.
"""

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

try:
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier
    from skl2onnx.common._apply_operation import apply_cast, apply_identity
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
        guess_proto_type,
    )
    from skl2onnx.common.utils_classifier import get_label_classes
    from skl2onnx.proto import onnx_proto
except ImportError as exc:
    raise ImportError(
        "skbnnet.onnx needs skl2onnx (and onnxruntime to run the models): "
        'pip install "skbnnet[onnx]"'
    ) from exc

from .classifier import BatchNormMLPClassifier
from .preprocessing import SmoothClipScaler
from .regressor import BatchNormMLPRegressor

__all__ = ["fold_batch_norm"]

_ONNX_ACTIVATIONS = {
    "identity": None,
    "logistic": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
}


def fold_batch_norm(estimator):
    """Inference-mode layers of a fitted estimator, batch norm folded in.

    Parameters
    ----------
    estimator : BatchNormMLPClassifier or BatchNormMLPRegressor
        A fitted estimator.

    Returns
    -------
    layers : list of (ndarray, ndarray)
        ``(W, b)`` of every layer in float64, hidden layers first: layer
        ``i`` maps ``A`` to ``A @ W + b``, followed by the hidden activation
        for every layer but the last. ``W`` has shape (fan_in, fan_out) and
        ``b`` shape (fan_out,). The output layer gives the network's output
        before its head (softmax, logistic, or a regressor's target
        scaling). The first layer takes the inputs after the estimator's
        ``input_scaling``: with "smooth_clip", ``x = (X - input_center_) /
        input_scale_`` mapped to ``3 * x / sqrt(9 + x**2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbnnet import BatchNormMLPClassifier
    >>> from skbnnet.onnx import fold_batch_norm
    >>> X = np.random.default_rng(0).normal(size=(40, 3))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> clf = BatchNormMLPClassifier(hidden_layer_sizes=(4,), max_iter=5,
    ...                              random_state=0).fit(X, y)
    >>> [W.shape for W, b in fold_batch_norm(clf)]
    [(3, 4), (4, 2)]
    """
    check_is_fitted(estimator)
    return estimator._fitted_network().inference_layers()


def _export_dtype(operator):
    """(proto dtype, numpy dtype) of the graph: double input -> double."""
    if guess_proto_type(operator.inputs[0].type) == onnx_proto.TensorProto.DOUBLE:
        return onnx_proto.TensorProto.DOUBLE, np.float64
    return onnx_proto.TensorProto.FLOAT, np.float32


def _network_output(scope, container, operator, model, dtype, output_map=None):
    """Add the nodes of the fitted network's layers; return the name of the
    output layer's logits.

    What was fitted is exported, whatever the hyperparameters say now
    (``set_params`` after fit changes them, not the network). ``output_map``,
    a ``(scale, shift)`` pair such as a regressor's target scaling, is folded
    into the output layer.
    """
    network = model._fitted_network()
    if network.activation not in _ONNX_ACTIVATIONS:
        raise ValueError(f"Cannot export activation={network.activation!r}.")
    layers = network.inference_layers()
    if output_map is not None:
        scale, shift = (np.asarray(v, dtype=np.float64) for v in output_map)
        W, b = layers[-1]
        layers[-1] = (W * scale, b * scale + shift)
    proto_dtype, np_dtype = dtype
    name = scope.get_unique_variable_name("cast_input")
    apply_cast(scope, operator.inputs[0].full_name, name, container, to=proto_dtype)
    input_map = network.input_map
    if input_map is not None:
        name = _smooth_clip_nodes(
            scope,
            container,
            name,
            (input_map.center, input_map.scale, input_map.clip),
            dtype,
        )
    if network.embedding is not None:
        name = _periodic_nodes(
            scope, container, name, network.embedding, network.views.embedding, dtype
        )
    members = network.members
    if members is not None:
        layers = _fold_members(layers, members, network.views.members)
    for i, (W, b) in enumerate(layers):
        # Layers between the first and the output layer are shared: they
        # read each member's row as a row of its own.
        shared = members is not None and 0 < i < len(layers) - 1
        if shared:
            name = _reshape(scope, container, name, [-1, W.shape[0]])
        coef = scope.get_unique_variable_name("coefficient")
        bias = scope.get_unique_variable_name("intercepts")
        container.add_initializer(
            coef, proto_dtype, W.shape, W.astype(np_dtype).ravel()
        )
        container.add_initializer(bias, proto_dtype, [1, b.size], b.astype(np_dtype))
        product = scope.get_unique_variable_name("mul_result")
        container.add_node(
            "MatMul",
            [name, coef],
            product,
            name=scope.get_unique_operator_name("MatMul"),
        )
        name = scope.get_unique_variable_name("add_result")
        container.add_node(
            "Add", [product, bias], name, name=scope.get_unique_operator_name("Add")
        )
        if shared:
            name = _reshape(scope, container, name, [-1, members.n_members * b.size])
        op_type = _ONNX_ACTIVATIONS[network.activation]
        if i < len(layers) - 1 and op_type is not None:
            activated = scope.get_unique_variable_name("next_activations")
            container.add_node(
                op_type, name, activated, name=scope.get_unique_operator_name(op_type)
            )
            name = activated
    return name


def _fold_members(layers, members, params):
    """The inference layers of an ensemble, for one row per sample.

    The first layer becomes every member's side by side (``k * n`` units:
    member ``i``'s weights are ``diag(r_i) W``) and the output layer reads
    them side by side, averaging the members' outputs in its product;
    between them the shared layers see one row per member. A network
    without hidden layers is linear in its adapters: one layer scaled by
    their mean.
    """
    layers = list(layers)
    if len(layers) == 1:
        W, b = layers[0]
        mean = members.adapters(params).mean(axis=0).astype(np.float64)
        return [(W * mean[:, None], b)]
    layers[0] = members.fold_first(*layers[0], params)
    layers[-1] = members.fold_last(*layers[-1])
    return layers


def _reshape(scope, container, X, shape):
    """Add a ``Reshape`` of the tensor named `X` to `shape`; return its
    output's name."""
    target = scope.get_unique_variable_name("shape")
    container.add_initializer(target, onnx_proto.TensorProto.INT64, [len(shape)], shape)
    return _node(scope, container, "Reshape", [X, target], "reshaped")


def _label_classes(scope, model):
    """Class labels as exported, and their proto type.

    Numeric and boolean classes become int64, as skl2onnx does (a classifier
    only accepts integral float labels), anything else strings.
    """
    classes = np.asarray(get_label_classes(scope, model))
    if classes.dtype.kind in "biuf":
        return classes.astype(np.int64), onnx_proto.TensorProto.INT64
    return (
        np.array([str(c).encode("utf-8") for c in classes]),
        onnx_proto.TensorProto.STRING,
    )


def _is_multilabel(model):
    return model.out_activation_ == "logistic"


def convert_batch_norm_mlp_classifier(scope, operator, container):
    """skl2onnx converter of :class:`~skbnnet.BatchNormMLPClassifier`.

    Writes ``label`` (``operator.outputs[0]``) and ``probabilities``
    (``operator.outputs[1]``); see the module docstring for the graph.
    """
    model = operator.raw_operator
    dtype = _export_dtype(operator)
    proto_dtype, np_dtype = dtype
    logits = _network_output(scope, container, operator, model, dtype)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name

    if _is_multilabel(model):
        sigmoid = scope.get_unique_variable_name("sigmoid")
        container.add_node(
            "Sigmoid", logits, sigmoid, name=scope.get_unique_operator_name("Sigmoid")
        )
        tiny = float(np.finfo(np_dtype).eps)
        low = scope.get_unique_variable_name("clip_min")
        high = scope.get_unique_variable_name("clip_max")
        container.add_initializer(low, proto_dtype, [], [tiny])
        container.add_initializer(high, proto_dtype, [], [1.0 - tiny])
        container.add_node(
            "Clip",
            [sigmoid, low, high],
            proba,
            name=scope.get_unique_operator_name("Clip"),
        )
        half = scope.get_unique_variable_name("half")
        container.add_initializer(half, proto_dtype, [], [0.5])
        above = scope.get_unique_variable_name("above_half")
        container.add_node(
            "Greater",
            [proba, half],
            above,
            name=scope.get_unique_operator_name("Greater"),
        )
        apply_cast(scope, above, label, container, to=onnx_proto.TensorProto.INT64)
        return

    container.add_node(
        "Softmax", logits, proba, axis=1, name=scope.get_unique_operator_name("Softmax")
    )
    argmax = scope.get_unique_variable_name("argmax_output")
    container.add_node(
        "ArgMax",
        proba,
        argmax,
        axis=1,
        keepdims=0,
        name=scope.get_unique_operator_name("ArgMax"),
    )
    classes, class_type = _label_classes(scope, model)
    classes_name = scope.get_unique_variable_name("classes")
    container.add_initializer(classes_name, class_type, classes.shape, classes)
    container.add_node(
        "Gather",
        [classes_name, argmax],
        label,
        axis=0,
        name=scope.get_unique_operator_name("Gather"),
    )


def _check_arity(operator, n_outputs):
    """Refuse an operator that has not one input and `n_outputs` outputs."""
    if len(operator.inputs) != 1 or len(operator.outputs) != n_outputs:
        words = "one output" if n_outputs == 1 else "two outputs"
        raise RuntimeError(
            f"{type(operator.raw_operator).__name__} takes one input and "
            f"gives {words}, got {len(operator.inputs)} and "
            f"{len(operator.outputs)}."
        )


def calculate_batch_norm_mlp_classifier_output_shapes(operator):
    """Declare ``label`` and ``probabilities`` types and shapes.

    ``label`` is ``[N]`` (int64 or string), ``[N, n_outputs]`` int64 for
    multilabel targets; ``probabilities`` is ``[N, n_outputs]`` in the
    graph's float type.
    """
    _check_arity(operator, n_outputs=2)
    model = operator.raw_operator
    N = operator.inputs[0].get_first_dimension()
    if _is_multilabel(model):
        label_type = Int64TensorType([N, model.n_outputs_])
    else:
        classes = get_label_classes(operator.scope_inst, model)
        numeric = all(isinstance(c, (numbers.Real, np.bool_)) for c in classes)
        label_type = (Int64TensorType if numeric else StringTensorType)([N])
    operator.outputs[0].type = label_type
    operator.outputs[1].type = _float_tensor_type(operator)([N, model.n_outputs_])


def _parse_classifier(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser (options ``zipmap``, ``nocl``...),
    after checking that the model is fitted."""
    check_is_fitted(model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers)


update_registered_converter(
    BatchNormMLPClassifier,
    "SkbnnetBatchNormMLPClassifier",
    calculate_batch_norm_mlp_classifier_output_shapes,
    convert_batch_norm_mlp_classifier,
    options={
        "zipmap": [True, False, "columns"],
        "output_class_labels": [False, True],
        "nocl": [True, False],
    },
    parser=_parse_classifier,
)


def convert_batch_norm_mlp_regressor(scope, operator, container):
    """skl2onnx converter of :class:`~skbnnet.BatchNormMLPRegressor`.

    Writes ``variable`` (``operator.outputs[0]``), the network's output with
    the target scaling folded into the output layer.
    """
    model = operator.raw_operator
    exp_link = model._fitted_network().out_activation == "exp"
    output = _network_output(
        scope,
        container,
        operator,
        model,
        _export_dtype(operator),
        # A log link's targets are not scaled (the map is the identity).
        None if exp_link else (model.target_scale_, model.target_mean_),
    )
    if exp_link:
        mean = scope.get_unique_variable_name("mean")
        container.add_node(
            "Exp", output, mean, name=scope.get_unique_operator_name("Exp")
        )
        output = mean
    container.add_node(
        "Identity",
        output,
        operator.outputs[0].full_name,
        name=scope.get_unique_operator_name("Identity"),
    )


def _float_tensor_type(operator):
    """The tensor type of the graph's float dtype."""
    if _export_dtype(operator)[1] is np.float64:
        return DoubleTensorType
    return FloatTensorType


def _declare_single_output(operator, width_attribute):
    """Declare the one output as ``[N, width]`` in the graph's float type,
    the width read from the fitted model's `width_attribute`."""
    _check_arity(operator, n_outputs=1)
    model = operator.raw_operator
    check_is_fitted(model)
    N = operator.inputs[0].get_first_dimension()
    width = getattr(model, width_attribute)
    operator.outputs[0].type = _float_tensor_type(operator)([N, width])


def calculate_batch_norm_mlp_regressor_output_shapes(operator):
    """Declare ``variable`` as ``[N, n_outputs]`` in the graph's float type."""
    _declare_single_output(operator, "n_outputs_")


update_registered_converter(
    BatchNormMLPRegressor,
    "SkbnnetBatchNormMLPRegressor",
    calculate_batch_norm_mlp_regressor_output_shapes,
    convert_batch_norm_mlp_regressor,
)


def _constant(scope, container, name, value, dtype):
    """Add an initializer of ``value`` in the export dtype; return its name."""
    proto_dtype, np_dtype = dtype
    value = np.asarray(value, dtype=np_dtype)
    full = scope.get_unique_variable_name(name)
    container.add_initializer(full, proto_dtype, list(value.shape), value.ravel())
    return full


def _node(scope, container, op, inputs, name, **attributes):
    """Add one node of type ``op``; return the name of its output."""
    output = scope.get_unique_variable_name(name)
    container.add_node(
        op, inputs, output, name=scope.get_unique_operator_name(op), **attributes
    )
    return output


def _periodic_nodes(scope, container, X, embedding, params, dtype):
    """Add the nodes of a periodic embedding of the tensor named `X`; return
    the name of its output, the inputs followed by the cosines."""
    if embedding.columns.size == 0:
        return X
    frequencies, phases = (
        _constant(scope, container, name, values[None, :], dtype)
        for name, values in zip(("frequencies", "phases"), embedding.split(params))
    )
    indices = scope.get_unique_variable_name("embedded_columns")
    repeated = np.repeat(embedding.columns, embedding.n_frequencies)
    container.add_initializer(
        indices, onnx_proto.TensorProto.INT64, [repeated.size], repeated.tolist()
    )
    gathered = _node(scope, container, "Gather", [X, indices], "gathered", axis=1)
    scaled = _node(scope, container, "Mul", [gathered, frequencies], "scaled")
    angles = _node(scope, container, "Add", [scaled, phases], "angles")
    float_type, proto_dtype = onnx_proto.TensorProto.FLOAT, dtype[0]
    if proto_dtype != float_type:
        # onnxruntime 1.23 (CI's oldest setup) has no double Cos kernel.
        angles = _node(scope, container, "Cast", [angles], "angles32", to=float_type)
    cosines = _node(scope, container, "Cos", [angles], "cosines")
    if proto_dtype != float_type:
        cosines = _node(
            scope, container, "Cast", [cosines], "cosines64", to=proto_dtype
        )
    return _node(scope, container, "Concat", [X, cosines], "embedded", axis=1)


def _smooth_clip_nodes(scope, container, X, smooth_clip, dtype):
    """Add the nodes of a smooth clip of the tensor named `X`; return the
    name of its output.

    ``x = (X - center) / scale``, then ``c * x / sqrt(c**2 + x**2)``
    computed as ``c * t / sqrt((c / m)**2 + t**2)`` with ``m = max(|x|, c)``
    and ``t = x / m``: nothing is squared beyond 1, so far outliers clip to
    ``+-c`` instead of overflowing (ONNX has no ``hypot``). NaN stays NaN.
    """
    center, scale, clip = smooth_clip

    def constant(name, value):
        return _constant(scope, container, name, value, dtype)

    def node(op, inputs, name):
        return _node(scope, container, op, inputs, name)

    centred = node("Sub", [X, constant("center", center[None, :])], "centred")
    x = node("Div", [centred, constant("scale", scale[None, :])], "x")
    clip = constant("clip", clip)
    m = node("Max", [node("Abs", [x], "abs_x"), clip], "m")
    t = node("Div", [x, m], "t")
    ratio = node("Div", [clip, m], "ratio")
    squares = node(
        "Add",
        [node("Mul", [ratio, ratio], "ratio2"), node("Mul", [t, t], "t2")],
        "squares",
    )
    unit = node("Div", [t, node("Sqrt", [squares], "root")], "unit")
    return node("Mul", [unit, clip], "clipped")


def convert_smooth_clip_scaler(scope, operator, container):
    """skl2onnx converter of :class:`~skbnnet.preprocessing.SmoothClipScaler`
    (see :func:`_smooth_clip_nodes`)."""
    model = operator.raw_operator
    dtype = _export_dtype(operator)
    X = operator.inputs[0].full_name
    if guess_proto_type(operator.inputs[0].type) != dtype[0]:
        cast = scope.get_unique_variable_name("cast")
        apply_cast(scope, X, cast, container, to=dtype[0])
        X = cast
    clipped = _smooth_clip_nodes(
        scope, container, X, (model.center_, model.scale_, model.clip), dtype
    )
    apply_identity(scope, clipped, operator.outputs[0].full_name, container)


def calculate_smooth_clip_scaler_output_shapes(operator):
    """Declare the output as ``[N, n_features]`` in the graph's float type."""
    _declare_single_output(operator, "n_features_in_")


update_registered_converter(
    SmoothClipScaler,
    "SkbnnetSmoothClipScaler",
    calculate_smooth_clip_scaler_output_shapes,
    convert_smooth_clip_scaler,
)
