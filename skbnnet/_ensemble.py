"""Weight-sharing ensembles: k members of one network in one batched pass.

:class:`MemberAdapters` is the ensemble of TabM-mini (Gorishniy, Kotelnikov
and Babenko, ICLR 2025, "TabM: Advancing Tabular Deep Learning with
Parameter-Efficient Ensembling"), itself BatchEnsemble's (Wen et al. 2020)
with one adapter: member ``i`` of ``k`` multiplies the first layer's input
by its own vector ``r_i`` and shares every weight after it. Each row of a
mini-batch then passes through the network ``k`` times, once per member, as
``k`` rows of one batch: row ``j * k + i`` is row ``j`` as member ``i`` sees
it. Training minimises the mean of the members' losses; inference averages
their raw outputs (logits, or values before the inverse link).

The adapters start as random signs, so the members start as ``k`` different
networks (member ``i``'s first layer is ``diag(r_i) W``) and stay distinct:
nothing in the loss pulls them together. They are neither decayed nor
penalised.

Nothing here knows about scikit-learn; the network owns the parameters, in
its flat vector, and the work arrays.
"""

import numpy as np
import scipy.sparse as sp


class MemberAdapters:
    """Per-member multiplicative adapters of the first layer's input.

    Parameters
    ----------
    n_members : int
        The number of members, ``k``.
    n_inputs : int
        Width of the first layer's input, ``d``.

    Attributes
    ----------
    n_params : int
        Trainable parameters: ``k * d``, the adapters row by row.
    """

    def __init__(self, n_members, n_inputs):
        self.n_members = int(n_members)
        self.n_inputs = int(n_inputs)
        self.n_params = self.n_members * self.n_inputs

    def adapters(self, params):
        """The adapters as a (k, d) view of ``params``."""
        return params.reshape(self.n_members, self.n_inputs)

    def initialize(self, params, rng):
        """Random signs, drawn like the network's weights."""
        params[:] = rng.choice([-1.0, 1.0], size=self.n_params)

    def forward(self, A, params, out):
        """Write every member's copy of the rows of ``A`` (m, d) into
        ``out`` (m * k, d); return it."""
        if sp.issparse(A):
            A = A.toarray()
        np.multiply(
            A[:, None, :],
            self.adapters(params),
            out=out.reshape(A.shape[0], self.n_members, self.n_inputs),
        )
        return out

    def __call__(self, A, params):
        """Inference-mode copies of ``A``, in a new array."""
        out = np.empty((A.shape[0] * self.n_members, self.n_inputs), params.dtype)
        return self.forward(A, params, out)

    def backward(self, A, grad_out, params, grads, grad_inputs=None):
        """Gradients through :meth:`forward`.

        ``grad_out`` (m * k, d) is the gradient of the loss with respect to
        :meth:`forward`'s output. The adapters' gradient is written into
        ``grads``; ``grad_inputs``, if given as an (m, d') array, receives
        that of the last ``d'`` columns of ``A`` (the columns upstream
        parameters act on).
        """
        m = A.shape[0]
        G = grad_out.reshape(m, self.n_members, self.n_inputs)
        grad_adapters = self.adapters(grads)
        if sp.issparse(A):
            # Only the stored values contribute: no dense copy of A again.
            A = sp.csr_matrix(A)
            for i, grad in enumerate(grad_adapters):
                grad[:] = A.multiply(G[:, i, :]).sum(axis=0)
        else:
            np.einsum("jid,jd->id", G, A, out=grad_adapters)
        if grad_inputs is not None:
            first = self.n_inputs - grad_inputs.shape[1]
            np.einsum(
                "jid,id->jd",
                G[:, :, first:],
                self.adapters(params)[:, first:],
                out=grad_inputs,
            )

    def repeat(self, values):
        """Per-row values (targets, weights) repeated for every member."""
        return np.repeat(values, self.n_members, axis=0)

    def average(self, output):
        """The mean of the members' outputs (m * k, c), shape (m, c)."""
        return output.reshape(-1, self.n_members, output.shape[1]).mean(axis=1)

    def fold_first(self, W, b, params):
        """The first layer of every member side by side, ``(d, k * n)`` and
        ``(k * n,)``: member ``i``'s columns are ``diag(r_i) W``. Its output
        of shape (m, k * n) reshapes to the (m * k, n) of :meth:`forward`."""
        R = np.asarray(self.adapters(params), dtype=W.dtype)
        wide = R[:, :, None] * W[None, :, :]
        return np.concatenate(wide, axis=1), np.tile(b, self.n_members)

    def fold_last(self, W, b):
        """The output layer on the members' inputs side by side, ``(k * n,
        c)``: it averages the members' outputs in its product."""
        return np.tile(W, (self.n_members, 1)) / self.n_members, b

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_members={self.n_members}, "
            f"n_inputs={self.n_inputs})"
        )
