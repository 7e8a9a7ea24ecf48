"""Stochastic optimisers over one flat parameter vector.

Every trainable parameter of the network lives in one contiguous vector, so a
step is one fused pass over it (the kernels of :mod:`skbnnet._fused`) instead
of a Python loop over layers. The classes follow scikit-learn's
``_stochastic_optimizers``: ``update_params``, ``iteration_ends``
(learning-rate schedules) and ``trigger_stopping`` (the ``"adaptive"``
schedule), plus ``batch_ends`` for the per-batch cosine schedule. Unlike
scikit-learn's, the schedules apply to every solver, and every solver takes
a decoupled weight decay on the leading ``n_decayed`` entries (the weight
matrices), as ``torch.optim.AdamW`` does.
"""

import math

import numpy as np

from ._fused import adam_step, rmsprop_step, sgd_step


def _normal_epsilon(epsilon, dtype):
    """``epsilon``, raised to ``dtype``'s smallest normal number.

    A smaller epsilon (say 1e-50 in float32) would round to 0 in the kernel,
    and a zero gradient would then step by 0 / 0.
    """
    return max(float(epsilon), float(np.finfo(dtype).tiny))


class BaseOptimizer:
    """Learning-rate schedule and weight decay shared by all solvers.

    Parameters
    ----------
    learning_rate_init : float
        Initial step size.
    lr_schedule : {"constant", "invscaling", "adaptive", "cosine"}
        ``"invscaling"`` sets ``lr = learning_rate_init / (t + 1) ** power_t``
        after each epoch, with ``t`` the number of samples seen;
        ``"adaptive"`` divides the rate by 5 each time the loss stops
        improving, and stops once it falls below 1e-6; ``"cosine"`` sets
        ``lr = learning_rate_init * (1 + cos(pi * c)) / 2`` after each
        mini-batch, ``c`` in [0, 1) being the position in the cycle advanced
        by :meth:`batch_ends` (a cycle that ends starts again).
    power_t : float
        Exponent of ``"invscaling"``.
    weight_decay : float, default=0.0
        Decoupled weight decay: before each step,
        ``params[:n_decayed] *= 1 - lr * weight_decay``.
    n_decayed : int, default=0
        Number of leading entries of the parameter vector that decay.
    """

    def __init__(
        self, learning_rate_init, lr_schedule, power_t, weight_decay=0.0, n_decayed=0
    ):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.power_t = power_t
        self.weight_decay = float(weight_decay)
        self.n_decayed = n_decayed
        self.cycle_position = 0.0

    @property
    def runs_to_end(self):
        """Whether the schedule sets the length of training itself.

        A cosine schedule anneals over all ``max_iter`` epochs: a plateau of
        the training loss must not cut off its end, and reaching
        ``max_iter`` is the plan, not a failure to converge.
        """
        return self.lr_schedule == "cosine"

    def update_params(self, params, grads):
        """Take one step in place: weight decay, then the solver's step."""
        if self.weight_decay > 0:
            decayed = params[: self.n_decayed]
            decayed *= 1.0 - self.learning_rate * self.weight_decay
        self._step(params, grads)

    def batch_ends(self, fraction):
        """Advance the cosine schedule by ``fraction`` of its cycle."""
        if self.lr_schedule == "cosine":
            position = self.cycle_position + fraction
            # Summed fractions can fall short of 1 by rounding; within half a
            # step of the end is the end, so the next cycle (a further
            # partial_fit) starts at learning_rate_init, not at a rate of 0.
            if position > 1.0 - 0.5 * fraction:
                position = max(position - 1.0, 0.0)
            self.cycle_position = position
            self.learning_rate = (
                0.5
                * float(self.learning_rate_init)
                * (1.0 + math.cos(math.pi * self.cycle_position))
            )

    def iteration_ends(self, time_step):
        """Update the learning rate at the end of an epoch."""
        if self.lr_schedule == "invscaling":
            # scikit-learn's expression, to the last bit.
            try:
                self.learning_rate = (
                    float(self.learning_rate_init) / (time_step + 1) ** self.power_t
                )
            except OverflowError:
                # (t + 1) ** p beyond float's range (power_t=1000, say).
                self.learning_rate = 0.0

    def trigger_stopping(self, msg, verbose):
        """Decide whether training stops when the loss has stalled.

        Returns
        -------
        is_stopping : bool
            False when the adaptive schedule lowered the rate instead.
        """
        if self.lr_schedule != "adaptive":
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + " Setting learning rate to %f" % self.learning_rate)
        return False

    def __setstate__(self, state):
        # Copies make arrays memory-mapped read-only by joblib writeable.
        state = {
            key: np.array(value) if isinstance(value, np.ndarray) else value
            for key, value in state.items()
        }
        self.__dict__.update(state)


class SGDOptimizer(BaseOptimizer):
    """Stochastic gradient descent with (Nesterov) momentum.

    ``v = momentum * v - lr * g``; then ``params += v``, or with Nesterov's
    momentum ``params += momentum * v - lr * g``.
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.9,
        nesterov=True,
        power_t=0.5,
        weight_decay=0.0,
        n_decayed=0,
    ):
        super().__init__(
            learning_rate_init, lr_schedule, power_t, weight_decay, n_decayed
        )
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = np.zeros_like(params)

    def _step(self, params, grads):
        sgd_step(
            params,
            grads,
            self.velocity,
            self.momentum,
            self.learning_rate,
            self.nesterov,
        )


class AdamOptimizer(BaseOptimizer):
    """Adam: momentum and RMSprop with bias correction (Kingma and Ba, 2014).

    The moments are kept scaled, ``ms = m / (1 - beta_1)`` and
    ``vs = v / (1 - beta_2)``, so that each updates as ``x = beta * x + g``
    with one pass less; the constant factors fold into the step size and
    epsilon, and the step is exactly Adam's.
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.001,
        lr_schedule="constant",
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        power_t=0.5,
        weight_decay=0.0,
        n_decayed=0,
    ):
        super().__init__(
            learning_rate_init, lr_schedule, power_t, weight_decay, n_decayed
        )
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        # In the kernel's dtype; see _normal_epsilon.
        self._scaled_epsilon = _normal_epsilon(
            epsilon / math.sqrt(1 - beta_2), params.dtype
        )
        self.t = 0
        self.ms = np.zeros_like(params)
        self.vs = np.zeros_like(params)

    def _step(self, params, grads):
        self.t += 1
        # m / (sqrt(v) + eps) = c * ms / (sqrt(vs) + eps / sqrt(1 - beta_2))
        # with c = (1 - beta_1) / sqrt(1 - beta_2).
        root = math.sqrt(1 - self.beta_2)
        lr = (
            self.learning_rate
            * math.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
            * (1 - self.beta_1)
            / root
        )
        adam_step(
            params,
            grads,
            self.ms,
            self.vs,
            self.beta_1,
            self.beta_2,
            lr,
            self._scaled_epsilon,
        )


class RMSpropOptimizer(BaseOptimizer):
    """RMSprop: divide the gradient by a running root mean square of it.

    ``s = beta_2 * s + (1 - beta_2) * g**2``;
    ``params -= lr * g / (sqrt(s) + epsilon)``.
    """

    def __init__(
        self,
        params,
        learning_rate_init=0.001,
        lr_schedule="constant",
        beta_2=0.999,
        epsilon=1e-8,
        power_t=0.5,
        weight_decay=0.0,
        n_decayed=0,
    ):
        super().__init__(
            learning_rate_init, lr_schedule, power_t, weight_decay, n_decayed
        )
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self._epsilon = _normal_epsilon(epsilon, params.dtype)
        self.ss = np.zeros_like(params)

    def _step(self, params, grads):
        rmsprop_step(
            params, grads, self.ss, self.beta_2, self.learning_rate, self._epsilon
        )
