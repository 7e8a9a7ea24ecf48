"""
Why sample hyperparameters on a log scale
=========================================

A learning rate matters by its order of magnitude: 0.0001 and 0.001 train
very differently, 0.5 and 0.6 hardly do. Sampling it uniformly on
``[1e-4, 1]`` spends almost all the budget on the last decade. Sampling
``alpha = 10**r`` with ``r ~ U[-4, 0]``, which is what
:class:`~skbnnet.LogUniform` does, gives every decade the same share.

The same holds for momentum-like parameters near 1, whose averaging window
``1 / (1 - beta)`` is what matters: :class:`~skbnnet.OneMinusLogUniform`
samples ``1 - beta`` on a log scale, so ``[0.9, 0.99]`` and ``[0.99, 0.999]``
get as many samples each.
"""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import uniform

from skbnnet import LogUniform, OneMinusLogUniform

# Save figures to files instead of opening windows.
matplotlib.use("Agg")

# %%
# Sampling a learning rate in [1e-4, 1]
# -------------------------------------
# We draw 10,000 values from each distribution and count how many fall in
# each decade. ``scipy.stats.uniform(loc, scale)`` is uniform on
# ``[loc, loc + scale]``.
n_samples = 10_000
learning_rates = {
    "uniform": uniform(1e-4, 1 - 1e-4).rvs(n_samples, random_state=0),
    "LogUniform": LogUniform(1e-4, 1).rvs(n_samples, random_state=0),
}
for name, values in learning_rates.items():
    share = np.mean(values >= 0.1)
    print(f"{name:>10}: {share:.0%} of the learning rates are in [0.1, 1]")

# %%
# Sampling a momentum in [0.9, 0.999]
# -----------------------------------
# Here the decades are those of ``1 - beta``: beta in ``[0.99, 0.999]`` is an
# average over 100 to 1000 steps, as different from ``[0.9, 0.99]`` as the
# latter is from no averaging at all.
momentums = {
    "uniform": uniform(0.9, 0.999 - 0.9).rvs(n_samples, random_state=0),
    "OneMinusLogUniform": OneMinusLogUniform(0.9, 0.999).rvs(n_samples, random_state=0),
}
for name, values in momentums.items():
    share = np.mean(values >= 0.99)
    print(f"{name:>18}: {share:.0%} of the momentums are in [0.99, 0.999]")

# %%
# Plot the samples on a log axis
# ------------------------------
# With bins of equal width in ``log10``, a log-uniform sample gives a flat
# histogram, while a uniform sample piles up in the last decade.
fig, (ax_lr, ax_beta) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")

bins = np.logspace(-4, 0, 17)
for name, values in learning_rates.items():
    ax_lr.hist(values, bins=bins, alpha=0.6, label=name)
ax_lr.set(
    xscale="log",
    xlabel="Learning rate",
    ylabel="Number of samples",
    title="Learning rate in [1e-4, 1]",
)
ax_lr.legend()

# Bins on 1 - beta, from 1 - 0.999 to 1 - 0.9.
bins = np.logspace(-3, -1, 9)
for name, values in momentums.items():
    ax_beta.hist(1 - values, bins=bins, alpha=0.6, label=name)
ax_beta.set(
    xscale="log",
    xlabel="1 - momentum",
    ylabel="Number of samples",
    title="Momentum in [0.9, 0.999]",
)
ax_beta.legend()

fig.savefig("plot_log_scale_sampling.png")

# %%
# A uniform learning rate lands in ``[0.1, 1]`` nine times out of ten and
# almost never tries the values below ``1e-3``; a uniform momentum lands
# above 0.99 only one time in ten, although that is where it is most
# sensitive. Pass :class:`~skbnnet.LogUniform` and
# :class:`~skbnnet.OneMinusLogUniform` to
# :class:`~sklearn.model_selection.RandomizedSearchCV` instead.
