"""Build the compiled kernels; all other metadata lives in pyproject.toml."""

import os

from Cython.Build import cythonize
from setuptools import Extension, setup

if os.name == "nt":
    compile_args = ["/O2"]
else:
    # -O3 vectorises the kernels' loops; -fno-math-errno lets sqrt vectorise;
    # no contraction into FMA keeps every CPU's rounding the same.
    compile_args = ["-O3", "-fno-math-errno", "-ffp-contract=off"]

extension = Extension(
    "skbnnet._fused",
    sources=["skbnnet/_fused.pyx"],
    depends=["skbnnet/_kernels.h"],
    extra_compile_args=compile_args,
)

setup(ext_modules=cythonize([extension], language_level=3))
