"""The optimisers on their own: each step against its formula, the
learning-rate schedules, weight decay, and pickling."""

import math
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skbnnet._optimizers import AdamOptimizer, RMSpropOptimizer, SGDOptimizer


def test_sgd_nesterov_step():
    """SGD with Nesterov momentum follows sklearn's update rule."""
    params = np.array([1.0, -2.0])
    grads = np.array([0.5, 0.25])
    optimizer = SGDOptimizer(params, learning_rate_init=0.1, momentum=0.9)
    optimizer.update_params(params, grads)
    velocity = -0.1 * grads
    expected = np.array([1.0, -2.0]) + 0.9 * velocity - 0.1 * grads
    assert_allclose(params, expected)
    optimizer.update_params(params, grads)
    velocity = 0.9 * velocity - 0.1 * grads
    expected += 0.9 * velocity - 0.1 * grads
    assert_allclose(params, expected)


def test_sgd_plain_momentum_step():
    """SGD without Nesterov adds the velocity."""
    params = np.zeros(2)
    grads = np.array([1.0, -1.0])
    optimizer = SGDOptimizer(
        params, learning_rate_init=0.5, momentum=0.5, nesterov=False
    )
    optimizer.update_params(params, grads)
    optimizer.update_params(params, grads)
    assert_allclose(params, -0.5 * grads + (0.5 * -0.5 - 0.5) * grads)


def test_adam_step_matches_reference():
    """Adam equals the textbook update with bias-corrected moments."""
    rng = np.random.RandomState(0)
    params = rng.standard_normal(5)
    reference = params.copy()
    optimizer = AdamOptimizer(params, learning_rate_init=0.01)
    m = v = np.zeros(5)
    for t in range(1, 4):
        grads = rng.standard_normal(5)
        optimizer.update_params(params, grads)
        m = 0.9 * m + 0.1 * grads
        v = 0.999 * v + 0.001 * grads**2
        m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
        # sklearn folds the corrections into the rate, which moves epsilon
        # by a factor sqrt(1 - beta_2**t); both conventions agree to 1e-6.
        reference -= 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8)
    assert_allclose(params, reference, rtol=1e-6)


def test_rmsprop_step():
    """RMSprop divides by the root of the running mean square gradient."""
    params = np.zeros(3)
    grads = np.array([1.0, -2.0, 0.5])
    optimizer = RMSpropOptimizer(params, learning_rate_init=0.1, beta_2=0.9)
    optimizer.update_params(params, grads)
    s = 0.1 * grads**2
    assert_allclose(params, -0.1 * grads / (np.sqrt(s) + 1e-8))


def test_learning_rate_schedules():
    """invscaling decays with samples seen; adaptive divides by 5 then stops."""
    params = np.zeros(1)
    optimizer = AdamOptimizer(params, 0.1, lr_schedule="invscaling", power_t=0.5)
    optimizer.iteration_ends(99)
    assert optimizer.learning_rate == pytest.approx(0.01)
    # To the bit, as scikit-learn's test_learning_rate_warmstart demands.
    optimizer = AdamOptimizer(params, 0.01, lr_schedule="invscaling", power_t=0.25)
    optimizer.iteration_ends(8)
    assert optimizer.learning_rate == 0.01 / 9**0.25
    optimizer = SGDOptimizer(params, 1e-5, lr_schedule="adaptive")
    assert not optimizer.trigger_stopping("stalled.", verbose=False)
    assert optimizer.learning_rate == pytest.approx(2e-6)
    assert not optimizer.trigger_stopping("stalled.", verbose=False)
    assert optimizer.trigger_stopping("stalled.", verbose=False)
    constant = SGDOptimizer(params, 0.1)
    assert constant.trigger_stopping("stalled.", verbose=False)


def test_optimizer_pickle_keeps_state_and_is_writeable():
    """Optimiser state survives pickling and comes back writeable."""
    params = np.ones(4)
    optimizer = AdamOptimizer(params, 0.1)
    optimizer.update_params(params, np.ones(4))
    clone = pickle.loads(pickle.dumps(optimizer))
    assert_array_equal(clone.ms, optimizer.ms)
    clone_params = params.copy()
    clone.update_params(clone_params, np.ones(4))
    optimizer.update_params(params, np.ones(4))
    assert_array_equal(clone_params, params)


def test_cosine_schedule_follows_the_formula():
    """The rate after k of n mini-batches is lr0 * (1 + cos(pi * k / n)) / 2,
    and a finished cycle starts again."""
    params = np.zeros(3)
    optimizer = SGDOptimizer(params, learning_rate_init=0.1, lr_schedule="cosine")
    n = 8
    for k in range(1, n):
        optimizer.update_params(params, np.zeros(3))
        optimizer.batch_ends(1 / n)
        expected = 0.05 * (1 + math.cos(math.pi * k / n))
        assert optimizer.learning_rate == pytest.approx(expected)
    optimizer.batch_ends(1 / n)
    assert optimizer.learning_rate == pytest.approx(0.1)


@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
def test_weight_decay_is_decoupled_and_on_weights_only(solver):
    """With a zero gradient, a step multiplies the decayed entries (the
    weight matrices) by 1 - lr * weight_decay and leaves the rest alone."""
    rng = np.random.RandomState(0)
    params = rng.standard_normal(10)
    original = params.copy()
    make = {"sgd": SGDOptimizer, "adam": AdamOptimizer, "rmsprop": RMSpropOptimizer}
    optimizer = make[solver](
        params, learning_rate_init=0.1, weight_decay=0.5, n_decayed=6
    )
    optimizer.update_params(params, np.zeros(10))
    assert_allclose(params[:6], original[:6] * (1 - 0.1 * 0.5))
    assert_array_equal(params[6:], original[6:])
