"""
Batch-norm statistics at inference: running averages or population
===================================================================

At training time batch norm normalises each hidden unit with the mean and
variance of the mini-batch. At test time there is no mini-batch, and the
lecture notes give two ways to get the statistics: exponentially weighted
averages of the mini-batch statistics kept during training
(``batch_norm_stats="running"``, with weight ``batch_norm_momentum`` on the
old value), or the mean and variance over the whole training set, computed
once after training (``batch_norm_stats="population"``). We compare the two
as the momentum of the running averages varies.
"""

import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPClassifier

# Save figures to files instead of opening windows.
matplotlib.use("Agg")
# 20 epochs is a deliberately small budget.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# Same training, different statistics
# ------------------------------------
# The statistics used at inference do not take part in training: with the
# same `random_state`, both settings learn exactly the same weights, so any
# difference in accuracy comes from the statistics alone. We try momentums
# from 0.5 (an average over about 2 mini-batches) to 0.999 (about 1000), with
# 3 seeds each. 20 epochs of 22 mini-batches make 440 updates of the averages.
momentums = 1 - np.logspace(np.log10(0.5), -3, 7)
seeds = range(3)


def fit(batch_norm_momentum, batch_norm_stats, seed):
    return BatchNormMLPClassifier(
        # Not what this example shows, and on pixels about 15 times slower:
        # no numeric embedding.
        numeric_embedding=None,
        hidden_layer_sizes=(64,),
        learning_rate_init=0.01,
        batch_size=64,
        max_iter=20,
        batch_norm_momentum=batch_norm_momentum,
        batch_norm_stats=batch_norm_stats,
        random_state=seed,
    ).fit(X_train, y_train)


accuracy = {"running": [], "population": []}
mean_gap, log_var_gap = [], []
for momentum in momentums:
    pairs = [
        (fit(momentum, "running", s), fit(momentum, "population", s)) for s in seeds
    ]
    for running, population in pairs:
        np.testing.assert_array_equal(running.coefs_[0], population.coefs_[0])
    for stats, models in zip(accuracy, zip(*pairs)):
        accuracy[stats].append(np.mean([m.score(X_test, y_test) for m in models]))
    # How far the running statistics of the hidden layer are from the
    # population ones: the mean gap in population standard deviations, and
    # the variance ratio as a log, averaged over units and seeds.
    mean_gap.append(
        np.mean(
            [
                np.abs(r.bn_means_[0] - p.bn_means_[0]) / np.sqrt(p.bn_vars_[0])
                for r, p in pairs
            ]
        )
    )
    log_var_gap.append(
        np.mean([np.abs(np.log(r.bn_vars_[0] / p.bn_vars_[0])) for r, p in pairs])
    )

print("momentum  running  population")
for momentum, acc_r, acc_p in zip(momentums, *accuracy.values()):
    print(f"{momentum:8.4f}  {acc_r:7.3f}  {acc_p:10.3f}")

# %%
# Accuracy, and distance between the two sets of statistics
# ----------------------------------------------------------
# Both plots use ``1 - momentum`` on a log axis, as one samples it with
# :class:`~skbnnet.OneMinusLogUniform`: right is a short averaging window,
# left a long one.
fig, (ax_acc, ax_gap) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
for stats, scores in accuracy.items():
    ax_acc.plot(1 - momentums, scores, marker="o", label=f'"{stats}"')
ax_acc.set(
    xscale="log",
    xlabel="1 - batch_norm_momentum",
    ylabel="Test accuracy (mean of 3 seeds)",
    title="Accuracy",
)
ax_acc.legend(title="batch_norm_stats")

ax_gap.plot(1 - momentums, mean_gap, marker="o", label="|mean gap| / std")
ax_gap.plot(1 - momentums, log_var_gap, marker="o", label="|log variance ratio|")
ax_gap.set(
    xscale="log",
    yscale="log",
    xlabel="1 - batch_norm_momentum",
    ylabel="Running vs population statistics",
    title="Gap between the statistics",
)
ax_gap.legend()
fig.savefig("plot_running_vs_population_stats.png")

# %%
# The population statistics give the same accuracy whatever the momentum,
# which they do not use. The running averages miss them in two ways. With a
# short window (momentum 0.5) they follow the last few mini-batches, and
# their noise costs about three points of accuracy. With a long window
# (0.999) they still remember the first epochs, when the weights were
# different: the variances are off by a factor of about two, and the
# accuracy drops by about half a point. In between, from about 0.8 to 0.98,
# the running averages are as good as the population statistics. Population
# statistics cost one extra pass over the training data after training, and
# take the momentum off the list of things to tune.
