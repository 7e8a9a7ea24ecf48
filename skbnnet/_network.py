"""The layer stack of a batch-normalised MLP: parameters, forward and backward.

A hidden layer is ``Linear (no bias) -> BatchNorm -> activation -> dropout``,
or ``Linear (with bias) -> activation -> dropout`` without batch norm; the
output layer is ``Linear (with bias)`` followed by a head of
:mod:`skbnnet._heads`, which owns the loss, its gradient and the inverse link.
An optional numeric embedding of :mod:`skbnnet._embeddings` maps the inputs
before the first layer, whose fan-in is then the embedding's width. With
member adapters of :mod:`skbnnet._ensemble` every row passes through the
layers once per ensemble member, as that many rows of the batch, and the
members' outputs are averaged at inference.

All trainable parameters live in one flat vector, laid out as every weight
matrix first (so L2 weight decay is one slice), then each hidden layer's
``gamma`` and ``beta`` (or bias), then the output bias, then the
embedding's parameters, then the member adapters of
:mod:`skbnnet._ensemble` (neither decayed nor penalised). The batch-norm
statistics used at inference live in a second flat vector: every layer's
mean, then every layer's variance. Per-layer arrays are views into these
vectors; views do not survive pickling, so the network pickles the flat
vectors only and rebuilds its views on load.

Nothing here knows about scikit-learn: validation and bookkeeping live in the
estimator.
"""

from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from ._fused import (
    activation_backward,
    axpy,
    batch_norm_backward,
    batch_norm_forward,
)
from ._layers import ACTIVATIONS, batch_norm_inference_params, dropout_mask

#: Values of the first layer's inputs computed at once at inference when an
#: embedding or ensemble members widen them (4 MiB in float32).
EMBEDDED_CHUNK = 2**20


def _dot(X, W, out=None):
    """``X @ W`` for dense or sparse ``X``, optionally into ``out``."""
    if sp.issparse(X):
        if out is None:
            return np.asarray(X @ W)
        out[...] = X @ W
        return out
    return np.matmul(X, W, out=out)


class ParameterViews:
    """Per-layer views into a flat vector laid out like the parameters.

    Attributes
    ----------
    coefs : list of ndarray
        Weight matrix of each layer, shape (fan_in, fan_out).
    gammas, betas : list of ndarray
        Batch-norm scale and shift of each hidden layer (empty lists without
        batch norm).
    intercepts : list of ndarray
        Bias of each layer that has one: every layer without batch norm, the
        output layer only with it.
    embedding : ndarray
        The embedding's parameters (empty without one).
    members : ndarray
        The member adapters (empty without them).
    """

    def __init__(self, flat, layer_units, batch_norm, n_embedding_params=0):
        offset = 0
        self.coefs = []
        for fan_in, fan_out in pairwise(layer_units):
            size = fan_in * fan_out
            self.coefs.append(flat[offset : offset + size].reshape(fan_in, fan_out))
            offset += size
        self.n_coef_params = offset

        def take(size):
            nonlocal offset
            offset += size
            return flat[offset - size : offset]

        hidden = layer_units[1:-1]
        self.gammas, self.betas, self.intercepts = [], [], []
        for units in hidden:
            if batch_norm:
                self.gammas.append(take(units))
                self.betas.append(take(units))
            else:
                self.intercepts.append(take(units))
        self.intercepts.append(take(layer_units[-1]))
        self.embedding = take(n_embedding_params)
        self.members = flat[offset:]


def split_by_layer(flat, hidden_units):
    """Consecutive views of ``flat``, one per hidden layer's units."""
    bounds = np.cumsum([0, *hidden_units])
    return [flat[a:b] for a, b in pairwise(bounds)]


def n_parameters(layer_units, batch_norm):
    """Length of the flat parameter vector of a network."""
    n_weights = sum(a * b for a, b in pairwise(layer_units))
    n_hidden = sum(layer_units[1:-1])
    return n_weights + (2 if batch_norm else 1) * n_hidden + layer_units[-1]


class Workspace:
    """Per-batch work arrays, allocated once per fit and sliced per batch.

    Parameters
    ----------
    layer_units : list of int
        Units of every layer, input and output included.
    n_rows : int
        The largest mini-batch.
    dtype : numpy dtype
        Computation dtype.
    dropout : float, default=0.0
        Dropout rate of the hidden units; masks and post-dropout outputs are
        kept only when > 0. The workspace is the one place that holds it.
    dropout_rng : numpy.random.Generator, default=None
        Draws the dropout masks; needed when ``dropout > 0``.
    embedding : PeriodicEmbedding, default=None
        The network's input embedding, whose outputs, sines and gradients
        need room per batch.
    members : MemberAdapters, default=None
        The network's ensemble members: the layers' arrays hold
        ``n_members`` rows per row of the batch, and the members' inputs and
        their gradient need room.
    """

    def __init__(
        self,
        layer_units,
        n_rows,
        dtype,
        dropout=0.0,
        dropout_rng=None,
        embedding=None,
        members=None,
    ):
        hidden = layer_units[1:-1]
        n_batch_rows = n_rows if members is None else n_rows * members.n_members

        def buffers():
            return [np.empty((n_batch_rows, units), dtype=dtype) for units in hidden]

        self.dropout = dropout
        self.dropout_rng = dropout_rng
        self.x_hat = buffers()
        self.activations = buffers()
        self.deltas = buffers()
        if dropout > 0:
            self.masks = buffers()
            self.outputs = buffers()
        else:
            self.masks = None
            self.outputs = self.activations
        self.logits = np.empty((n_batch_rows, layer_units[-1]), dtype=dtype)
        self.inv_stds = [np.empty(units, dtype=dtype) for units in hidden]
        # Batch means then batch variances, laid out like Network.stats, and
        # per-layer views of each half.
        self.batch_stats = np.empty(2 * sum(hidden), dtype=dtype)
        self.batch_means, self.batch_vars = (
            split_by_layer(half, hidden) for half in np.split(self.batch_stats, 2)
        )
        self.batch_weights = None
        if embedding is not None:
            n_cosines = embedding.n_outputs - embedding.n_inputs
            self.embedded = np.empty((n_rows, embedding.n_outputs), dtype=dtype)
            self.sines = np.empty((n_rows, n_cosines), dtype=dtype)
            self.grad_cosines = np.empty((n_rows, n_cosines), dtype=dtype)
        if members is not None:
            shape = (n_batch_rows, layer_units[0])
            self.member_inputs = np.empty(shape, dtype=dtype)
            self.grad_member_inputs = np.empty(shape, dtype=dtype)
        self._grads = self._grad_views = None

    def gradient_views(self, grads, network):
        """Per-layer views of ``grads``, built once per gradient array.

        A fit passes the same gradient vector to every batch; rebuilding its
        views per batch cost a few percent of a small network's fit.
        """
        if grads is not self._grads:
            self._grads, self._grad_views = grads, network.unpack(grads)
        return self._grad_views


class Network:
    """Parameters, statistics and passes of a batch-normalised MLP.

    Parameters
    ----------
    layer_units : list of int
        ``[n_features, *hidden_layer_sizes, n_outputs]``.
    activation : {"identity", "logistic", "tanh", "relu"}
        Hidden activation.
    head : BaseHead
        Output head (:mod:`skbnnet._heads`): the loss and the inverse link.
    batch_norm : bool
        Whether hidden layers are batch-normalised.
    epsilon : float
        Batch-norm epsilon.
    dtype : numpy dtype
        Dtype of parameters and computations.
    input_map : callable, default=None
        Fixed map of the inputs before the first layer, such as a fitted
        :class:`~skbnnet._scaling.SmoothClip`; None for none. The caller
        applies it with :meth:`map_inputs`, once per dataset: every other
        method takes mapped inputs.
    embedding : PeriodicEmbedding, default=None
        Learned map of the mapped inputs into the first layer, trained with
        the network; ``layer_units[0]`` is then its ``n_outputs``.
    members : MemberAdapters, default=None
        Ensemble members sharing every weight, each with its own adapter of
        the first layer's input; None for a single network.
    """

    def __init__(
        self,
        layer_units,
        activation,
        head,
        batch_norm,
        epsilon,
        dtype,
        input_map=None,
        embedding=None,
        members=None,
    ):
        self.layer_units = list(layer_units)
        self.input_map = input_map
        self.embedding = embedding
        self.members = members
        self.activation = activation
        self.head = head
        self.batch_norm = batch_norm
        self.epsilon = epsilon
        n_params = n_parameters(self.layer_units, batch_norm)
        for extra in (embedding, members):
            if extra is not None:
                n_params += extra.n_params
        self.params = np.zeros(n_params, dtype)
        n_hidden_units = sum(self.layer_units[1:-1])
        self.stats = np.zeros(2 * n_hidden_units if batch_norm else 0, dtype)
        self.stats[n_hidden_units:] = 1.0
        self.n_stat_updates = 0
        self.population_weight = 0.0
        self._bind()

    def _bind(self):
        self.views = self.unpack(self.params)
        self.means = self.unpack_stats(self.stats[: self.stats.size // 2])
        self.vars = self.unpack_stats(self.stats[self.stats.size // 2 :])

    def unpack(self, flat):
        """Per-layer views into ``flat``, laid out like the parameters."""
        n_embedding = 0 if self.embedding is None else self.embedding.n_params
        return ParameterViews(flat, self.layer_units, self.batch_norm, n_embedding)

    def unpack_stats(self, flat):
        """Per-hidden-layer views into one half of the statistics layout."""
        if not self.batch_norm:
            return []
        return split_by_layer(flat, self.layer_units[1:-1])

    def __getstate__(self):
        state = self.__dict__.copy()
        for key in ("views", "means", "vars"):
            del state[key]
        return state

    def __setstate__(self, state):
        # Copy: joblib may hand over read-only memory maps, which a later
        # partial_fit or warm start would fail to update in place.
        state["params"] = np.array(state["params"])
        state["stats"] = np.array(state["stats"])
        self.__dict__.update(state)
        self._bind()

    def state(self, out=None):
        """A copy of the parameters and statistics, for :meth:`restore`.

        Parameters
        ----------
        out : tuple, default=None
            A previous state to overwrite instead of allocating a new one.
        """
        if out is None:
            return self.params.copy(), self.stats.copy(), self.n_stat_updates
        np.copyto(out[0], self.params)
        np.copyto(out[1], self.stats)
        return out[0], out[1], self.n_stat_updates

    def restore(self, state):
        """Put back parameters and statistics saved by :meth:`state`."""
        params, stats, self.n_stat_updates = state
        np.copyto(self.params, params)
        np.copyto(self.stats, stats)

    def map_inputs(self, X):
        """``X`` through :attr:`input_map`, as every other method expects."""
        return X if self.input_map is None else self.input_map(X)

    def embed(self, X):
        """Inference-mode input of the first layer: mapped ``X`` through
        :attr:`embedding`, then copied for every member of :attr:`members`."""
        if self.embedding is not None:
            X = self.embedding(X, self.views.embedding)
        if self.members is not None:
            X = self.members(X, self.views.members)
        return X

    @property
    def n_members(self):
        """Rows of the layers' batches per row of the data."""
        return 1 if self.members is None else self.members.n_members

    def is_finite(self):
        """Whether the parameters are finite and no statistic is NaN.

        An infinite running variance (features near the dtype's limit) only
        scales its unit to zero at inference; NaN would spread.
        """
        return bool(np.isfinite(self.params).all() and not np.isnan(self.stats).any())

    @property
    def out_activation(self):
        """Name of the head's inverse link."""
        return self.head.out_activation

    @property
    def n_layers(self):
        return len(self.layer_units) - 1

    def initialize(self, rng):
        """Draw weights (He for relu, Glorot otherwise); gamma 1, shifts 0.

        Weights are drawn in float64, then cast, so float32 and float64 fits
        with the same seed start from the same point.
        """
        self.params[:] = 0.0
        for layer, coef in enumerate(self.views.coefs):
            fan_in, fan_out = coef.shape
            if self.activation == "relu" and layer < self.n_layers - 1:
                bound = np.sqrt(6.0 / fan_in)
            else:
                bound = np.sqrt(6.0 / (fan_in + fan_out))
            coef[...] = rng.uniform(-bound, bound, size=coef.shape)
        for gamma in self.views.gammas:
            gamma[:] = 1.0
        if self.embedding is not None:
            embedding = np.zeros(self.embedding.n_params)
            self.embedding.initialize(embedding, rng)
            self.views.embedding[:] = embedding
        if self.members is not None:
            members = np.zeros(self.members.n_params)
            self.members.initialize(members, rng)
            self.views.members[:] = members

    def forward(self, X, target, weights, workspace):
        """Training-mode forward pass of one mini-batch; returns its loss.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (m, n_features)
            The mini-batch.
        target : ndarray
            Class indices of shape (m,) for the softmax head; a matrix of
            shape (m, n_outputs) for the logistic (indicator) and regression
            heads.
        weights : ndarray of shape (m,)
            Sample weights normalised to sum to one.
        workspace : Workspace
            Work arrays with at least ``m`` rows, and the dropout rate and
            generator. Afterwards its ``batch_stats`` hold the batch means
            and variances and its ``logits`` the gradient of the loss with
            respect to the output layer's pre-activations.

        Returns
        -------
        loss : float
            Weighted mean loss of the batch, without the L2 penalty.
        """
        m = X.shape[0]
        ws = workspace
        views = self.views
        activate = ACTIVATIONS[self.activation]

        layer_input = X
        if self.embedding is not None:
            layer_input = self.embedding.forward(
                X, views.embedding, ws.embedded[:m], ws.sines[:m]
            )
        if self.members is not None:
            # Every member's copy of a row is a row of the batch, of 1 / k of
            # its weight: the loss is the mean of the members' losses.
            members = self.members
            m *= members.n_members
            layer_input = members.forward(
                layer_input, views.members, ws.member_inputs[:m]
            )
            target = members.repeat(target)
            weights = members.repeat(weights) / members.n_members
        ws.batch_weights = weights
        for i in range(self.n_layers - 1):
            activations = ws.activations[i][:m]
            if self.batch_norm:
                x_hat = ws.x_hat[i][:m]
                _dot(layer_input, views.coefs[i], out=x_hat)
                batch_norm_forward(
                    x_hat,
                    weights,
                    views.gammas[i],
                    views.betas[i],
                    self.epsilon,
                    activations,
                    ws.batch_means[i],
                    ws.batch_vars[i],
                    ws.inv_stds[i],
                )
            else:
                _dot(layer_input, views.coefs[i], out=activations)
                activations += views.intercepts[i]
            activate(activations)
            if ws.masks is not None:
                mask = ws.masks[i][:m]
                dropout_mask(ws.dropout_rng, ws.dropout, mask)
                layer_input = np.multiply(activations, mask, out=ws.outputs[i][:m])
            else:
                layer_input = activations

        logits = ws.logits[:m]
        np.matmul(layer_input, views.coefs[-1], out=logits)
        logits += views.intercepts[-1]
        return self.head.loss_gradient(logits, target, weights)

    def backward(self, X, grads, workspace, l2_scale=0.0):
        """Backward pass after :meth:`forward` on the same mini-batch.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (m, n_features)
            The mini-batch given to :meth:`forward`.
        grads : ndarray of shape (n_params,)
            Receives the gradient of the loss.
        workspace : Workspace
            The workspace :meth:`forward` filled.
        l2_scale : float, default=0.0
            ``alpha / weight_sum``: the L2 penalty
            ``l2_scale / 2 * ||W||^2`` on the weight matrices is added to the
            loss, as in MLPClassifier.

        Returns
        -------
        penalty : float
            The L2 penalty, to add to the loss :meth:`forward` returned.
        """
        ws = workspace
        n_rows = X.shape[0]
        m = n_rows * self.n_members
        views = self.views
        grad_views = ws.gradient_views(grads, self)
        delta = ws.logits[:m]
        np.sum(delta, axis=0, out=grad_views.intercepts[-1])
        inputs = X if self.embedding is None else ws.embedded[:n_rows]
        first_input = inputs if self.members is None else ws.member_inputs[:m]
        for layer in range(self.n_layers - 1, -1, -1):
            layer_input = first_input if layer == 0 else ws.outputs[layer - 1][:m]
            if layer == 0 and sp.issparse(layer_input):
                grad_views.coefs[0][...] = layer_input.T @ delta
            else:
                np.matmul(layer_input.T, delta, out=grad_views.coefs[layer])
            if layer == 0:
                break
            # Back through hidden layer h = layer - 1: dropout, activation, BN.
            h = layer - 1
            previous = ws.deltas[h][:m]
            np.matmul(delta, views.coefs[layer].T, out=previous)
            if ws.masks is not None:
                previous *= ws.masks[h][:m]
            activation_backward(previous, ws.activations[h][:m], self.activation)
            if self.batch_norm:
                batch_norm_backward(
                    previous,
                    ws.x_hat[h][:m],
                    ws.batch_weights,
                    views.gammas[h],
                    ws.inv_stds[h],
                    grad_views.gammas[h],
                    grad_views.betas[h],
                )
            else:
                np.sum(previous, axis=0, out=grad_views.intercepts[h])
            delta = previous
        grad_cosines = None if self.embedding is None else ws.grad_cosines[:n_rows]
        if self.members is not None:
            grad_member_inputs = ws.grad_member_inputs[:m]
            np.matmul(delta, views.coefs[0].T, out=grad_member_inputs)
            self.members.backward(
                inputs,
                grad_member_inputs,
                views.members,
                grad_views.members,
                grad_cosines,
            )
        elif self.embedding is not None:
            n_inputs = self.embedding.n_inputs
            np.matmul(delta, views.coefs[0][n_inputs:].T, out=grad_cosines)
        if self.embedding is not None:
            self.embedding.backward(
                inputs, grad_cosines, ws.sines[:n_rows], grad_views.embedding
            )

        if l2_scale == 0:
            return 0.0
        n_coef = grad_views.n_coef_params
        coef_params = self.params[:n_coef]
        axpy(grads[:n_coef], coef_params, float(l2_scale))
        return 0.5 * float(l2_scale) * float(coef_params @ coef_params)

    def loss_and_gradient(self, X, target, weights, grads, workspace, l2_scale=0.0):
        """Loss of one mini-batch (L2 penalty included) and its gradient.

        :meth:`forward` then :meth:`backward`; see them for the parameters.
        """
        loss = self.forward(X, target, weights, workspace)
        return loss + self.backward(X, grads, workspace, l2_scale)

    def update_running_stats(self, batch_stats, momentum):
        """Exponentially weighted average of the batch statistics.

        ``stats = momentum * stats + (1 - momentum) * batch_stats``, starting
        from the first batch's statistics rather than from (0, 1), so a short
        training run does not predict with statistics biased to the start.
        """
        if self.n_stat_updates == 0:
            self.stats[:] = batch_stats
        else:
            self.stats *= momentum
            self.stats += (1 - momentum) * batch_stats
        self.n_stat_updates += 1

    def _hidden_output(self, X, n_layers):
        """Inference-mode output of the first ``n_layers`` hidden layers."""
        activate = ACTIVATIONS[self.activation]
        A = self.embed(X)
        for i in range(n_layers):
            A = self._pre_activation(A, i)
            activate(A)
        return A

    def _pre_activation(self, A, i):
        """Inference-mode input of hidden layer ``i``'s activation."""
        Z = _dot(A, self.views.coefs[i])
        if self.batch_norm:
            scale, shift = batch_norm_inference_params(
                self.views.gammas[i],
                self.views.betas[i],
                self.means[i],
                self.vars[i],
                self.epsilon,
            )
            Z *= scale
            Z += shift
        else:
            Z += self.views.intercepts[i]
        return Z

    def inference_layers(self):
        """The inference-mode layers as ``(W, b)`` pairs in float64.

        Batch norm, with the stored statistics and this network's epsilon,
        is folded into each hidden layer's weights: layer ``i`` maps ``A`` to
        ``A @ W + b``, followed by :attr:`activation` for every layer but the
        last, whose output goes to the head (:attr:`out_activation`). This is
        what exporters write; the fold is the one :meth:`infer` applies.
        """
        views = self.views
        as64 = [np.asarray(W, dtype=np.float64) for W in views.coefs]
        layers = []
        for i, W in enumerate(as64[:-1]):
            if self.batch_norm:
                scale, shift = batch_norm_inference_params(
                    *(
                        np.asarray(values[i], dtype=np.float64)
                        for values in (views.gammas, views.betas, self.means, self.vars)
                    ),
                    self.epsilon,
                )
                layers.append((W * scale, shift))
            else:
                layers.append((W, views.intercepts[i].astype(np.float64)))
        layers.append((as64[-1], views.intercepts[-1].astype(np.float64)))
        return layers

    def raw_output(self, X):
        """The output layer's values in inference mode (stored statistics
        only), before the head's inverse link; the mean of the members'
        with ensemble members."""
        if self.members is None:
            return self._chunked(self._raw_output, X)
        return self._chunked(lambda X: self.members.average(self._raw_output(X)), X)

    def member_outputs(self, X):
        """Each member's raw outputs, shape (n_samples, n_members,
        n_outputs); a single network is one member."""
        outputs = self._chunked(self._raw_output, X)
        return outputs.reshape(X.shape[0], self.n_members, -1)

    def _chunked(self, function, X):
        """``function`` of the rows of ``X``, in chunks of rows whose first
        layer inputs hold about EMBEDDED_CHUNK values when an embedding
        (up to n_frequencies + 1 times the inputs' width) or members widen
        them."""
        if self.embedding is None and self.members is None:
            return function(X)
        rows = max(1, EMBEDDED_CHUNK // (self.layer_units[0] * self.n_members))
        if X.shape[0] <= rows:
            return function(X)
        return np.concatenate(
            [function(X[start : start + rows]) for start in range(0, X.shape[0], rows)]
        )

    def _raw_output(self, X):
        """The output layer's values of every member's rows."""
        A = self._hidden_output(X, self.n_layers - 1)
        logits = _dot(A, self.views.coefs[-1])
        logits += self.views.intercepts[-1]
        return logits

    def infer(self, X):
        """Predictions in inference mode: probabilities for the
        classification heads, values for the regression heads."""
        output = self.raw_output(X)
        self.head.inverse_link(output)
        return output

    def score(self, X, target, sample_weight):
        """The head's early-stopping score of encoded targets."""
        return self.head.score(self.raw_output(X), target, sample_weight)

    def set_population_stats(self, X, sample_weight, batch_size, previous=None):
        """Replace the statistics by weighted ones over all of ``X``.

        Layer by layer, in chunks of ``batch_size`` rows: the statistics of
        layer ``l`` are computed with layers ``< l`` already normalised by
        their population statistics. Sums are shifted by the current mean
        and accumulated in float64 for accuracy.

        ``previous``, a ``(weight, stats)`` pair of earlier population
        statistics and the total sample weight they were computed over,
        merges them with those of ``X`` (each layer before the next is
        computed), so that ``partial_fit`` keeps the statistics of every row
        seen. :attr:`population_weight` is the total weight afterwards.
        """
        n_samples = X.shape[0]
        total = float(np.sum(sample_weight, dtype=np.float64))
        old_weight, old_stats = (0.0, None) if previous is None else previous
        if old_weight > 0:
            old_means, old_vars = (
                self.unpack_stats(half) for half in np.split(old_stats, 2)
            )
        for layer in range(self.n_layers - 1):
            shift = self.means[layer].astype(np.float64)
            first = np.zeros_like(shift)
            second = np.zeros_like(shift)
            for start in range(0, n_samples, batch_size):
                rows = slice(start, start + batch_size)
                A = self._hidden_output(X[rows], layer)
                Z = _dot(A, self.views.coefs[layer]).astype(np.float64)
                Z -= shift
                w = sample_weight[rows].astype(np.float64)
                if self.members is not None:
                    w = self.members.repeat(w) / self.members.n_members
                first += w @ Z
                np.multiply(Z, Z, out=Z)
                second += w @ Z
            mean = first / total
            var = second / total - mean**2
            mean += shift
            if old_weight > 0:
                # Chan et al.'s pooled mean and variance of two groups.
                new_share = total / (old_weight + total)
                delta = mean - old_means[layer]
                mean = old_means[layer] + new_share * delta
                var = (
                    (1 - new_share) * old_vars[layer]
                    + new_share * var
                    + new_share * (1 - new_share) * delta**2
                )
            # Clipped to the dtype's range: features of magnitude 1e30 make
            # float64 variances that a float32 network cannot hold.
            limit = np.finfo(self.stats.dtype).max
            self.means[layer][:] = np.clip(mean, -limit, limit)
            self.vars[layer][:] = np.clip(var, 0.0, limit)
        self.population_weight = old_weight + total
