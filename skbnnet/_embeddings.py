"""Numeric-feature embeddings: learned maps of the inputs before the first layer.

:class:`PeriodicEmbedding` is the "PBLD" embedding of RealMLP (Holzmüller et
al. 2024, "Better by Default"), after the periodic embeddings of Gorishniy et
al. (2022, "On Embeddings for Numerical Features in Tabular Deep Learning"):
each embedded input ``x_j`` reaches the first layer as itself and as ``k``
features ``cos(f_jt * x_j + b_jt)``, whose angular frequencies ``f`` and
phases ``b`` are trained with the network. The first layer's weights then
combine them into any smooth, or sharp, function of each input, where a
plain MLP sees only ``x_j`` and bends it with its activations. RealMLP maps
the ``k`` cosines of each input through a learned rank-3 projection first;
here the first layer is that projection, without the rank constraint.

Inputs with two distinct values or fewer (binary indicators, one-hot
columns, constants) are not embedded: every function of such an input is
affine in it, so their cosines would add width and nothing else.

Nothing here knows about scikit-learn; the network owns the parameters, in
its flat vector, and the work arrays.
"""

import numpy as np
import scipy.sparse as sp

from ._fused import periodic_backward, periodic_forward

#: Standard deviation of the initial frequencies in cycles per unit of a
#: smooth-clipped input (RealMLP's ``plr_sigma``): one input spans at most a
#: few radians at first, so the cosines start as smooth functions of it.
FREQUENCY_STD = 0.1


def embedded_columns(X, sample_weight, chunk_size=2**16):
    """Indices of the columns of ``X`` with more than two distinct values.

    Only rows of positive weight count, so that a zero weight is the same as
    leaving the row out. Sparse columns count their implicit zeros. Dense
    rows are read in chunks of about ``chunk_size`` values, so nothing of
    the size of ``X`` is allocated.
    """
    positive = sample_weight > 0
    if not positive.any():
        return np.empty(0, dtype=np.intp)
    if sp.issparse(X):
        X = sp.csr_matrix(X[np.flatnonzero(positive)])
        low = X.min(axis=0).toarray().ravel()
        high = X.max(axis=0).toarray().ravel()
        # A third value is one that is neither a column's minimum nor maximum.
        third = (X.data != low[X.indices]) & (X.data != high[X.indices])
        return np.unique(X.indices[third]).astype(np.intp)

    chunk_rows = max(1, chunk_size // max(1, X.shape[1]))

    def blocks():
        for start in range(0, X.shape[0], chunk_rows):
            rows = slice(start, start + chunk_rows)
            kept = positive[rows]
            yield X[rows] if kept.all() else X[rows][kept]

    low = np.min([block.min(axis=0) for block in blocks() if block.size], axis=0)
    high = np.max([block.max(axis=0) for block in blocks() if block.size], axis=0)
    third = np.zeros(X.shape[1], dtype=bool)
    for block in blocks():
        third |= ((block != low) & (block != high)).any(axis=0)
    return np.flatnonzero(third).astype(np.intp)


class PeriodicEmbedding:
    """Inputs followed by ``n_frequencies`` learned cosines of some of them.

    Parameters
    ----------
    n_inputs : int
        The number of inputs.
    columns : ndarray of shape (n_columns,), dtype=intp
        The inputs to embed, for example from :func:`embedded_columns`.
    n_frequencies : int
        Cosines per embedded input.

    Attributes
    ----------
    n_outputs : int
        Width of the embedded inputs: ``n_inputs + n_columns *
        n_frequencies``. The first ``n_inputs`` are the inputs; then come
        the cosines of each embedded input in turn.
    n_params : int
        Trainable parameters: the frequencies, then the phases.
    """

    def __init__(self, n_inputs, columns, n_frequencies):
        self.n_inputs = int(n_inputs)
        self.columns = np.asarray(columns, dtype=np.intp)
        self.n_frequencies = int(n_frequencies)
        self.n_outputs = self.n_inputs + self.columns.size * self.n_frequencies
        self.n_params = 2 * self.columns.size * self.n_frequencies

    def split(self, params):
        """The frequencies and phases, views of ``params``."""
        half = self.n_params // 2
        return params[:half], params[half:]

    def initialize(self, params, rng):
        """Frequencies from N(0, (2 pi FREQUENCY_STD)**2), phases uniform in
        [-pi, pi), drawn in float64 like the network's weights."""
        frequencies, phases = self.split(params)
        frequencies[:] = rng.normal(0.0, 2 * np.pi * FREQUENCY_STD, frequencies.size)
        phases[:] = rng.uniform(-np.pi, np.pi, phases.size)

    def forward(self, X, params, out, sines=None):
        """Embed the rows of ``X`` into ``out`` (m, n_outputs); return it.

        ``sines`` (m, n_columns * n_frequencies) receives what
        :meth:`backward` needs; None at inference. Sparse rows are made
        dense: cosines of zeros are not zero.
        """
        inputs = out[:, : self.n_inputs]
        if sp.issparse(X):
            inputs[...] = X.toarray()
        else:
            np.copyto(inputs, X)
        periodic_forward(out, self.n_inputs, self.columns, *self.split(params), sines)
        return out

    def __call__(self, X, params):
        """Inference-mode embedding of ``X``, in a new array."""
        out = np.empty((X.shape[0], self.n_outputs), dtype=params.dtype)
        return self.forward(X, params, out)

    def backward(self, embedded, grad_cosines, sines, grads):
        """Write the gradient of the parameters into ``grads``.

        ``embedded`` and ``sines`` are what :meth:`forward` wrote, and
        ``grad_cosines`` the gradient of the loss with respect to the
        cosines, the last ``n_columns * n_frequencies`` embedded columns.
        """
        frequencies, phases = self.split(grads)
        periodic_backward(
            grad_cosines,
            embedded,
            self.n_inputs,
            self.columns,
            sines,
            frequencies,
            phases,
        )

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_inputs={self.n_inputs}, "
            f"columns={self.columns.tolist()}, n_frequencies={self.n_frequencies})"
        )
