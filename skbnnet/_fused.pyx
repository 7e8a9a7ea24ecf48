# cython: language_level=3, boundscheck=False, wraparound=False
"""Fused training kernels: one pass over memory where NumPy needs several.

Thin wrappers around the C kernels of ``_kernels.h`` for float32 and float64
arrays. Each checks that its arrays agree in size, because the kernels index
raw memory, then runs without the GIL so that threads (joblib's threading
backend, dask's threaded workers) can train in parallel.
"""

from cython cimport floating


cdef extern from "_kernels.h" nogil:
    enum:
        SKB_IDENTITY
        SKB_LOGISTIC
        SKB_TANH
        SKB_RELU

    void adam_step_f32(float*, const float*, float*, float*, Py_ssize_t,
                       float, float, float, float)
    void adam_step_f64(double*, const double*, double*, double*, Py_ssize_t,
                       double, double, double, double)
    void rmsprop_step_f32(float*, const float*, float*, Py_ssize_t,
                          float, float, float)
    void rmsprop_step_f64(double*, const double*, double*, Py_ssize_t,
                          double, double, double)
    void sgd_step_f32(float*, const float*, float*, Py_ssize_t,
                      float, float, int)
    void sgd_step_f64(double*, const double*, double*, Py_ssize_t,
                      double, double, int)
    void axpy_f32(float*, const float*, Py_ssize_t, float)
    void axpy_f64(double*, const double*, Py_ssize_t, double)
    void batch_norm_forward_f32(float*, Py_ssize_t, Py_ssize_t, const float*,
                                const float*, const float*, float, float*,
                                float*, float*, float*)
    void batch_norm_forward_f64(double*, Py_ssize_t, Py_ssize_t, const double*,
                                const double*, const double*, double, double*,
                                double*, double*, double*)
    void batch_norm_backward_f32(float*, const float*, Py_ssize_t, Py_ssize_t,
                                 const float*, const float*, const float*,
                                 float*, float*)
    void batch_norm_backward_f64(double*, const double*, Py_ssize_t, Py_ssize_t,
                                 const double*, const double*, const double*,
                                 double*, double*)
    void activation_backward_f32(float*, const float*, Py_ssize_t, int)
    void activation_backward_f64(double*, const double*, Py_ssize_t, int)
    double softmax_cross_entropy_f32(float*, Py_ssize_t, Py_ssize_t,
                                     const Py_ssize_t*, const float*, double)
    double softmax_cross_entropy_f64(double*, Py_ssize_t, Py_ssize_t,
                                     const Py_ssize_t*, const double*, double)
    void smooth_clip_f32(const float*, Py_ssize_t, Py_ssize_t, const float*,
                         const float*, float, float, float*)
    void smooth_clip_f64(const double*, Py_ssize_t, Py_ssize_t, const double*,
                         const double*, double, double, double*)
    void periodic_forward_f32(float*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                              const Py_ssize_t*, Py_ssize_t, Py_ssize_t,
                              const float*, const float*, float*)
    void periodic_forward_f64(double*, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                              const Py_ssize_t*, Py_ssize_t, Py_ssize_t,
                              const double*, const double*, double*)
    void periodic_backward_f32(const float*, const float*, Py_ssize_t,
                               Py_ssize_t, const Py_ssize_t*, Py_ssize_t,
                               Py_ssize_t, const float*, float*, float*)
    void periodic_backward_f64(const double*, const double*, Py_ssize_t,
                               Py_ssize_t, const Py_ssize_t*, Py_ssize_t,
                               Py_ssize_t, const double*, double*, double*)


ACTIVATION_CODES = {
    "identity": SKB_IDENTITY,
    "logistic": SKB_LOGISTIC,
    "tanh": SKB_TANH,
    "relu": SKB_RELU,
}


cdef inline void _check(Py_ssize_t size, Py_ssize_t expected, str name) except *:
    if size != expected:
        raise ValueError(f"{name} has {size} elements, expected {expected}.")


cdef inline void _check_shape(Py_ssize_t[8] shape, Py_ssize_t rows,
                              Py_ssize_t cols, str name) except *:
    if shape[0] != rows or shape[1] != cols:
        raise ValueError(
            f"{name} has shape ({shape[0]}, {shape[1]}), "
            f"expected ({rows}, {cols})."
        )


def adam_step(floating[::1] params, const floating[::1] grads,
              floating[::1] ms, floating[::1] vs,
              double beta_1, double beta_2, double learning_rate,
              double epsilon):
    """Adam step on scaled moments, in place.

    ``ms = beta_1 * ms + g``, ``vs = beta_2 * vs + g**2`` and
    ``params -= learning_rate * ms / (sqrt(vs) + epsilon)``; see
    :class:`skbnnet._optimizers.AdamOptimizer` for the scaling.
    """
    cdef Py_ssize_t n = params.shape[0]
    _check(grads.shape[0], n, "grads")
    _check(ms.shape[0], n, "ms")
    _check(vs.shape[0], n, "vs")
    with nogil:
        if floating is float:
            adam_step_f32(&params[0], &grads[0], &ms[0], &vs[0], n,
                          beta_1, beta_2, learning_rate, epsilon)
        else:
            adam_step_f64(&params[0], &grads[0], &ms[0], &vs[0], n,
                          beta_1, beta_2, learning_rate, epsilon)


def rmsprop_step(floating[::1] params, const floating[::1] grads,
                 floating[::1] ss, double beta_2, double learning_rate,
                 double epsilon):
    """RMSprop step in place.

    ``ss = beta_2 * ss + (1 - beta_2) * g**2`` and
    ``params -= learning_rate * g / (sqrt(ss) + epsilon)``.
    """
    cdef Py_ssize_t n = params.shape[0]
    _check(grads.shape[0], n, "grads")
    _check(ss.shape[0], n, "ss")
    with nogil:
        if floating is float:
            rmsprop_step_f32(&params[0], &grads[0], &ss[0], n,
                             beta_2, learning_rate, epsilon)
        else:
            rmsprop_step_f64(&params[0], &grads[0], &ss[0], n,
                             beta_2, learning_rate, epsilon)


def sgd_step(floating[::1] params, const floating[::1] grads,
             floating[::1] velocity, double momentum, double learning_rate,
             bint nesterov):
    """Momentum SGD step in place.

    ``velocity = momentum * velocity - learning_rate * g``, then
    ``params += velocity``, or with Nesterov's momentum
    ``params += momentum * velocity - learning_rate * g``.
    """
    cdef Py_ssize_t n = params.shape[0]
    _check(grads.shape[0], n, "grads")
    _check(velocity.shape[0], n, "velocity")
    with nogil:
        if floating is float:
            sgd_step_f32(&params[0], &grads[0], &velocity[0], n,
                         momentum, learning_rate, nesterov)
        else:
            sgd_step_f64(&params[0], &grads[0], &velocity[0], n,
                         momentum, learning_rate, nesterov)


def axpy(floating[::1] y, const floating[::1] x, double a):
    """``y += a * x`` in place, in one pass and without a temporary."""
    cdef Py_ssize_t n = y.shape[0]
    _check(x.shape[0], n, "x")
    with nogil:
        if floating is float:
            axpy_f32(&y[0], &x[0], n, a)
        else:
            axpy_f64(&y[0], &x[0], n, a)


def batch_norm_forward(floating[:, ::1] Z, const floating[::1] weights,
                       const floating[::1] gamma, const floating[::1] beta,
                       double epsilon, floating[:, ::1] out,
                       floating[::1] mean, floating[::1] var,
                       floating[::1] inv_std):
    """Training-mode batch normalisation with per-sample weights.

    Parameters
    ----------
    Z : ndarray of shape (m, units)
        Pre-activations. Overwritten with the normalised
        ``X_hat = (Z - mean) * inv_std``, which the backward pass needs.
    weights : ndarray of shape (m,)
        Non-negative sample weights summing to one.
    gamma, beta : ndarray of shape (units,)
        Learned scale and shift.
    epsilon : float
        Added to the variance for numerical stability; with it a batch of
        one row normalises to zero instead of dividing by zero.
    out : ndarray of shape (m, units)
        Receives ``gamma * X_hat + beta``.
    mean, var, inv_std : ndarray of shape (units,)
        Receive the weighted batch mean ``weights @ Z``, the biased weighted
        variance ``weights @ (Z - mean)**2`` and ``1 / sqrt(var + epsilon)``.
    """
    cdef Py_ssize_t m = Z.shape[0], u = Z.shape[1]
    _check(weights.shape[0], m, "weights")
    _check(gamma.shape[0], u, "gamma")
    _check(beta.shape[0], u, "beta")
    _check(mean.shape[0], u, "mean")
    _check(var.shape[0], u, "var")
    _check(inv_std.shape[0], u, "inv_std")
    _check_shape(out.shape, m, u, "out")
    if m == 0 or u == 0:
        return
    with nogil:
        if floating is float:
            batch_norm_forward_f32(&Z[0, 0], m, u, &weights[0], &gamma[0],
                                   &beta[0], epsilon, &out[0, 0], &mean[0],
                                   &var[0], &inv_std[0])
        else:
            batch_norm_forward_f64(&Z[0, 0], m, u, &weights[0], &gamma[0],
                                   &beta[0], epsilon, &out[0, 0], &mean[0],
                                   &var[0], &inv_std[0])


def batch_norm_backward(floating[:, ::1] delta, const floating[:, ::1] X_hat,
                        const floating[::1] weights,
                        const floating[::1] gamma,
                        const floating[::1] inv_std,
                        floating[::1] grad_gamma, floating[::1] grad_beta):
    """Backward pass of :func:`batch_norm_forward`, in its fused form.

    With ``dY`` the gradient of the (weighted-mean) loss with respect to the
    layer's output, ``grad_beta = sum(dY)``, ``grad_gamma = sum(dY * X_hat)``
    and::

        dZ = gamma * inv_std * (dY - w * (grad_beta + X_hat * grad_gamma))

    which for ``w = 1/m`` is the textbook
    ``gamma / sigma * (dY - mean(dY) - X_hat * mean(dY * X_hat))``
    once the ``1/m`` of the loss is taken out of ``dY``.

    Parameters
    ----------
    delta : ndarray of shape (m, units)
        ``dY`` on input, overwritten with ``dZ``.
    X_hat : ndarray of shape (m, units)
        Normalised pre-activations from the forward pass.
    weights : ndarray of shape (m,)
        The sample weights of the forward pass, summing to one.
    gamma, inv_std : ndarray of shape (units,)
        Scale, and ``1 / sqrt(var + epsilon)`` from the forward pass.
    grad_gamma, grad_beta : ndarray of shape (units,)
        Receive the gradients of gamma and beta.
    """
    cdef Py_ssize_t m = delta.shape[0], u = delta.shape[1]
    _check_shape(X_hat.shape, m, u, "X_hat")
    _check(weights.shape[0], m, "weights")
    _check(gamma.shape[0], u, "gamma")
    _check(inv_std.shape[0], u, "inv_std")
    _check(grad_gamma.shape[0], u, "grad_gamma")
    _check(grad_beta.shape[0], u, "grad_beta")
    if m == 0 or u == 0:
        return
    with nogil:
        if floating is float:
            batch_norm_backward_f32(&delta[0, 0], &X_hat[0, 0], m, u,
                                    &weights[0], &gamma[0], &inv_std[0],
                                    &grad_gamma[0], &grad_beta[0])
        else:
            batch_norm_backward_f64(&delta[0, 0], &X_hat[0, 0], m, u,
                                    &weights[0], &gamma[0], &inv_std[0],
                                    &grad_gamma[0], &grad_beta[0])


def activation_backward(floating[:, ::1] delta, const floating[:, ::1] A,
                        str activation):
    """Multiply ``delta`` in place by the derivative of the activation.

    The derivative is computed from the activation's *output* ``A`` (its
    input is not kept): one for ``"identity"``, ``A * (1 - A)`` for
    ``"logistic"``, ``1 - A**2`` for ``"tanh"`` and ``A > 0`` for ``"relu"``.
    """
    cdef Py_ssize_t n = delta.shape[0] * delta.shape[1]
    cdef int kind = ACTIVATION_CODES[activation]
    _check_shape(A.shape, delta.shape[0], delta.shape[1], "A")
    if n == 0:
        return
    with nogil:
        if floating is float:
            activation_backward_f32(&delta[0, 0], &A[0, 0], n, kind)
        else:
            activation_backward_f64(&delta[0, 0], &A[0, 0], n, kind)


def softmax_cross_entropy(floating[:, ::1] logits, const Py_ssize_t[::1] y,
                          const floating[::1] weights, double smoothing=0.0):
    """Weighted cross-entropy of the softmax of ``logits``, and its gradient.

    Parameters
    ----------
    logits : ndarray of shape (m, n_classes)
        Output-layer pre-activations. Overwritten with
        ``weights[:, None] * (softmax(logits) - onehot(y))``.
    y : ndarray of shape (m,), dtype=intp
        Class indices.
    weights : ndarray of shape (m,)
        Non-negative sample weights summing to one.
    smoothing : float, default=0.0
        Label smoothing ``s`` in [0, 1): the target of row ``i`` is
        ``(1 - s) * onehot(y_i) + s / n_classes``, as in
        ``torch.nn.CrossEntropyLoss(label_smoothing=s)``.

    Returns
    -------
    loss : float
        ``-sum_i weights_i * sum_j target_ij * log softmax(logits)_ij``.
    """
    cdef Py_ssize_t m = logits.shape[0], k = logits.shape[1], i
    cdef double loss
    _check(y.shape[0], m, "y")
    _check(weights.shape[0], m, "weights")
    for i in range(m):
        if y[i] < 0 or y[i] >= k:
            raise ValueError(f"class index {y[i]} is not in [0, {k}).")
    if m == 0:
        return 0.0
    with nogil:
        if floating is float:
            loss = softmax_cross_entropy_f32(&logits[0, 0], m, k, &y[0],
                                             &weights[0], smoothing)
        else:
            loss = softmax_cross_entropy_f64(&logits[0, 0], m, k, &y[0],
                                             &weights[0], smoothing)
    return loss


cdef Py_ssize_t _periodic_width(Py_ssize_t[8] shape, Py_ssize_t n_inputs,
                                const Py_ssize_t[::1] columns,
                                Py_ssize_t n_values) except -1:
    """The number of frequencies per embedded column, after checking that
    ``columns`` index the inputs and that E's width is that of the inputs
    and ``n_values`` periodic features."""
    cdef Py_ssize_t n_e = columns.shape[0], e
    if n_inputs < 0 or shape[1] != n_inputs + n_values:
        raise ValueError(
            f"E has {shape[1]} columns, expected {n_inputs} inputs and "
            f"{n_values} periodic features."
        )
    if (n_e == 0) != (n_values == 0) or (n_e > 0 and n_values % n_e != 0):
        raise ValueError(
            f"{n_values} frequencies do not divide among {n_e} columns."
        )
    for e in range(n_e):
        if columns[e] < 0 or columns[e] >= n_inputs:
            raise ValueError(f"column {columns[e]} is not in [0, {n_inputs}).")
    return n_values // n_e if n_e > 0 else 0


def periodic_forward(floating[:, ::1] E, Py_ssize_t n_inputs,
                     const Py_ssize_t[::1] columns,
                     const floating[::1] frequencies,
                     const floating[::1] phases, floating[:, ::1] sines=None):
    """Periodic features of the inputs, written beside them.

    Parameters
    ----------
    E : ndarray of shape (m, n_inputs + n_columns * k)
        Its first ``n_inputs`` columns hold the inputs; the rest receive
        ``cos(frequencies[e * k + t] * E[:, columns[e]] + phases[e * k + t])``
        in the order of ``columns``, then of ``t < k``.
    n_inputs : int
        The number of inputs.
    columns : ndarray of shape (n_columns,), dtype=intp
        The embedded inputs.
    frequencies, phases : ndarray of shape (n_columns * k,)
        Angular frequencies and phases of each periodic feature.
    sines : ndarray of shape (m, n_columns * k), default=None
        Receives the sines of the same angles, which the backward pass
        needs; None at inference.
    """
    cdef Py_ssize_t m = E.shape[0], nk = frequencies.shape[0], k
    k = _periodic_width(E.shape, n_inputs, columns, nk)
    _check(phases.shape[0], nk, "phases")
    if sines is not None:
        _check_shape(sines.shape, m, nk, "sines")
    if m == 0 or nk == 0:
        return
    cdef floating *sines_ptr = NULL if sines is None else &sines[0, 0]
    with nogil:
        if floating is float:
            periodic_forward_f32(&E[0, 0], m, E.shape[1], n_inputs, &columns[0],
                                 columns.shape[0], k, &frequencies[0],
                                 &phases[0], sines_ptr)
        else:
            periodic_forward_f64(&E[0, 0], m, E.shape[1], n_inputs, &columns[0],
                                 columns.shape[0], k, &frequencies[0],
                                 &phases[0], sines_ptr)


def periodic_backward(const floating[:, ::1] G, const floating[:, ::1] E,
                      Py_ssize_t n_inputs, const Py_ssize_t[::1] columns,
                      const floating[:, ::1] sines,
                      floating[::1] grad_frequencies, floating[::1] grad_phases):
    """Gradients of :func:`periodic_forward`'s frequencies and phases.

    ``G`` (m, n_columns * k) is the gradient of the loss with respect to the
    periodic features, ``E`` and ``sines`` what the forward pass wrote. The
    gradients are overwritten, not accumulated.
    """
    cdef Py_ssize_t m = E.shape[0], nk = grad_frequencies.shape[0], k
    k = _periodic_width(E.shape, n_inputs, columns, nk)
    _check(grad_phases.shape[0], nk, "grad_phases")
    _check_shape(G.shape, m, nk, "G")
    _check_shape(sines.shape, m, nk, "sines")
    if nk == 0:
        return
    if m == 0:
        grad_frequencies[:] = 0
        grad_phases[:] = 0
        return
    with nogil:
        if floating is float:
            periodic_backward_f32(&G[0, 0], &E[0, 0], m, E.shape[1],
                                  &columns[0], columns.shape[0], k, &sines[0, 0],
                                  &grad_frequencies[0], &grad_phases[0])
        else:
            periodic_backward_f64(&G[0, 0], &E[0, 0], m, E.shape[1],
                                  &columns[0], columns.shape[0], k, &sines[0, 0],
                                  &grad_frequencies[0], &grad_phases[0])


def smooth_clip_rows(const floating[:, ::1] X, const floating[::1] center,
                     const floating[::1] scale, double clip,
                     floating[:, ::1] out):
    """``x = (X - center) / scale``, then ``x / sqrt(1 + (x / clip) ** 2)``
    into ``out``, in one pass.

    Computed as ``(x / hypot(clip, x)) * clip`` after infinities become the
    dtype's largest number, so nothing overflows: outliers map to
    ``+-clip``, and NaN stays NaN.
    """
    cdef Py_ssize_t m = X.shape[0], n = X.shape[1]
    cdef floating largest = 3.4028234663852886e38 if floating is float else 1.7976931348623157e308
    _check(center.shape[0], n, "center")
    _check(scale.shape[0], n, "scale")
    _check_shape(out.shape, m, n, "out")
    if m == 0 or n == 0:
        return
    with nogil:
        if floating is float:
            smooth_clip_f32(&X[0, 0], m, n, &center[0], &scale[0], clip,
                            largest, &out[0, 0])
        else:
            smooth_clip_f64(&X[0, 0], m, n, &center[0], &scale[0], clip,
                            largest, &out[0, 0])
