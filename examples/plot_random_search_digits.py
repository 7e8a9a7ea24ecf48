"""
Random search of a batch-normalised MLP on digits
=================================================

The workflow of the lecture notes: put a
:class:`~skbnnet.BatchNormMLPClassifier` in a pipeline behind a
:class:`~sklearn.preprocessing.StandardScaler`, and let
:class:`~sklearn.model_selection.RandomizedSearchCV` pick its learning rate,
weight decay and momentum, each sampled on the scale it matters on: the
learning rate and the L2 penalty with :class:`~skbnnet.LogUniform`, Adam's
``beta_1`` with :class:`~skbnnet.OneMinusLogUniform`. Random search rather
than a grid, because a grid tries few distinct values of the one parameter
that matters most.
"""

import warnings

import matplotlib
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import RandomizedSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbnnet import BatchNormMLPClassifier, LogUniform, OneMinusLogUniform
from skbnnet.plotting import SearchResultsDisplay

# Save figures to files instead of opening windows.
matplotlib.use("Agg")
# 30 epochs is a deliberately small budget per candidate.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

# %%
# Data and model
# --------------
# The 8x8 digits bundled with scikit-learn: 1797 images, 10 classes. The test
# set is kept aside for the final estimate.
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
model = make_pipeline(
    StandardScaler(),
    BatchNormMLPClassifier(
        # Not what this example shows, and on pixels about 15 times slower:
        # no numeric embedding.
        numeric_embedding=None,
        hidden_layer_sizes=(64,),
        batch_size=64,
        max_iter=30,
        random_state=0,
    ),
)

# %%
# Search space
# ------------
# ``learning_rate_init = 10**r`` with ``r ~ U[-4, 0]``, and ``beta_1 = 1 -
# 10**r`` with ``r ~ U[-3, -1]``. Parameter names carry the pipeline step's
# name.
param_distributions = {
    "batchnormmlpclassifier__learning_rate_init": LogUniform(1e-4, 1),
    "batchnormmlpclassifier__alpha": LogUniform(1e-6, 1e-1),
    "batchnormmlpclassifier__beta_1": OneMinusLogUniform(0.9, 0.999),
}
search = RandomizedSearchCV(
    model, param_distributions, n_iter=20, cv=3, random_state=0
).fit(X_train, y_train)

print("Best parameters:")
for name, value in search.best_params_.items():
    print(f"  {name.split('__')[-1]} = {value:.4g}")
print(f"Cross-validated accuracy: {search.best_score_:.3f}")
print(f"Test accuracy of the refitted model: {search.score(X_test, y_test):.3f}")

# %%
# Score against the learning rate and the momentum
# ------------------------------------------------
# :class:`~skbnnet.plotting.SearchResultsDisplay` puts a parameter searched
# with :class:`~skbnnet.LogUniform` on a log axis, and one searched with
# :class:`~skbnnet.OneMinusLogUniform` as ``1 - beta_1`` on a log axis. The
# error bars are the standard deviation over the 3 folds. Each point also
# varies the other two parameters, which explains part of the scatter.
fig, (ax_lr, ax_beta) = plt.subplots(
    1, 2, figsize=(10, 4), sharey=True, layout="constrained"
)
SearchResultsDisplay.from_search(search, "learning_rate_init", ax=ax_lr)
SearchResultsDisplay.from_search(search, "beta_1", ax=ax_beta)
ax_lr.set_title("Accuracy against the learning rate")
ax_beta.set_title("Accuracy against Adam's beta_1")
fig.savefig("plot_random_search_digits.png")

# %%
# The learning rate decides most of the score: too small and 30 epochs are
# not enough, too large and training becomes unstable, with a wide plateau
# in between. The low scores in the right panel are candidates whose
# learning rate is off that plateau; among the others, ``beta_1`` moves the
# accuracy by a point or two at most.
