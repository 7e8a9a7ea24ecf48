"""Stochastic optimisers over one flat parameter vector.

Every trainable parameter of the network lives in one contiguous vector, so a
step is one fused pass over it (the kernels of :mod:`skbnnet._fused`) instead
of a Python loop over layers. The classes follow scikit-learn's
``_stochastic_optimizers``: ``update_params``, ``iteration_ends``
(learning-rate schedules) and ``trigger_stopping`` (the ``"adaptive"``
schedule). Unlike scikit-learn's, the schedules apply to every solver.
"""

import math

import numpy as np

from ._fused import adam_step, rmsprop_step, sgd_step


class BaseOptimizer:
    """Learning-rate schedule shared by all solvers.

    Parameters
    ----------
    learning_rate_init : float
        Initial step size.
    lr_schedule : {"constant", "invscaling", "adaptive"}
        ``"invscaling"`` sets ``lr = learning_rate_init / (t + 1) ** power_t``
        after each epoch, with ``t`` the number of samples seen;
        ``"adaptive"`` divides the rate by 5 each time the loss stops
        improving, and stops once it falls below 1e-6.
    power_t : float
        Exponent of ``"invscaling"``.
    """

    def __init__(self, learning_rate_init, lr_schedule, power_t):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.power_t = power_t

    def iteration_ends(self, time_step):
        """Update the learning rate at the end of an epoch."""
        if self.lr_schedule == "invscaling":
            self.learning_rate = (
                float(self.learning_rate_init) / (time_step + 1) ** self.power_t
            )

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
    ):
        super().__init__(learning_rate_init, lr_schedule, power_t)
        self.momentum = momentum
        self.nesterov = nesterov
        self.velocity = np.zeros_like(params)

    def update_params(self, params, grads):
        """Take one step in place."""
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
    ):
        super().__init__(learning_rate_init, lr_schedule, power_t)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.ms = np.zeros_like(params)
        self.vs = np.zeros_like(params)

    def update_params(self, params, grads):
        """Take one step in place."""
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
            self.epsilon / root,
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
    ):
        super().__init__(learning_rate_init, lr_schedule, power_t)
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.ss = np.zeros_like(params)

    def update_params(self, params, grads):
        """Take one step in place."""
        rmsprop_step(
            params, grads, self.ss, self.beta_2, self.learning_rate, self.epsilon
        )
