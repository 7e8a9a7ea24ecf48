"""Collection settings: skip the doctests of optional modules whose extra is
not installed (``pip install ".[onnx]"``, ``".[plot]"``), so the suite runs
without it."""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("skl2onnx") is None:
    collect_ignore.append("skbnnet/onnx.py")
if importlib.util.find_spec("matplotlib") is None:
    collect_ignore.append("skbnnet/plotting.py")
