"""Sphinx configuration of skbnnet's documentation.

Build with ``pip install -e ".[docs]"`` then
``python -m sphinx -W -b html docs OUTDIR``: warnings are errors. The build
runs every ``examples/plot_*.py`` (sphinx-gallery) and needs no network.
"""

import os
from pathlib import Path

# Before NumPy loads. The examples' searches run n_jobs=-1 worker processes:
# with threaded BLAS in each they oversubscribe the cores and run many times
# slower (plot_coarse_to_fine.py: 68 s against 4 s on two cores), as
# tests/test_examples.py found.
for _name in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"]:
    os.environ.setdefault(_name, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# autodoc and the examples import the installed skbnnet (editable or not),
# whose compiled kernels a bare checkout lacks.
import skbnnet  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

project = "skbnnet"
author = "skbnnet developers"
copyright = "2026, skbnnet developers"
release = skbnnet.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
default_role = "literal"

# API reference: one generated page per public name (docs/generated/).
autosummary_generate = True
# numpydoc lists the class's members itself only in the template's tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Gallery: run examples/plot_*.py and keep their figures.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    # Pages of the API reference list the examples that use each name.
    "doc_module": ("skbnnet",),
    "backreferences_dir": "generated/backreferences",
    # The examples print timings and progress; their warnings are theirs.
    "capture_repr": ("_repr_html_", "__repr__"),
}

html_theme = "alabaster"
html_theme_options = {
    "description": "Batch-norm MLPs for scikit-learn, built to be tuned",
    "fixed_sidebar": True,
}
html_static_path = []
html_show_sourcelink = False
