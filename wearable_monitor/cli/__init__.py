"""`wearable-monitor` command line: every command of the package, one module per group.

A command's module here (``wearable_monitor.cli.<module>``) defines
``configure_<command>(parser) -> handler`` (dashes become underscores): it adds
the arguments and returns ``handler(args) -> int``. The modules only parse
arguments, call the library and print; the work is done by the library. Only the
chosen command's module is imported, so `wearable-monitor simulate` does not pay
for torch.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import zipfile

from ..errors import WearableMonitorError
from ..gc_tuning import tune_gc

# command -> (module of this package, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("imports", "convert device exports (Apple Health, Fitbit Takeout, Health Connect, Garmin FIT, Oura) into 5-minute JSONL records"),
    "import-fitbit": ("imports", "convert a Fitbit heart-rate + steps CSV pair into 5-minute JSONL records"),
    "validate": ("validate", "validate a JSON window / JSONL history and print the per-line report"),
    "simulate": ("simulate", "write realistic simulated users (5-minute JSONL, daily logs, labels)"),
    "heldout-sim": ("simulate", "write a population of the second, independent simulator (test use only)"),
    "detect": ("score", "score one window file and print the JSON result"),
    "score": ("score", "replay JSONL histories (any number of users) and write per-window and per-day scores "
                       "(--engine dask: on a Dask cluster)"),
    "convert": ("convert", "convert JSONL / CSV records into a Parquet dataset partitioned by user"),
    "format": ("format", "print the LLM-ready text (Markdown, summary, case JSON, chat messages) of a detector result"),
    "train": ("train", "simulate data, pre-train, fine-tune, calibrate and save a checkpoint"),
    "train-patchtrad": ("train", "train the PatchTrAD prescreen on simulated users, evaluate on held-out users, save a checkpoint"),
    "evaluate": ("evaluate", "evaluate the detectors on held-out simulated users and real Fitbit data"),
    "bench": ("bench", "print scoring throughput and realtime latency on this machine"),
    "rules": ("rules", "run the rule engine over daily logs and print findings as JSON lines"),
    "rules-feedback": ("rules", "confirm a stored rule finding, mark it a false alarm, or report "
                                "a missed anomaly (updates precision / recall / F1)"),
    "rules-ab": ("rules", "compare two rule configurations on one simulated population"),
    "rules-eval": ("rules", "per-rule precision / recall on one simulated population (docs/rules.md)"),
    "cases": ("cases", "run the PatchTrAD prescreen + official precheck case pipeline"),
    "app": ("app", "start the Gradio app"),
}


def build_parser(command: str | None = None) -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="wearable-monitor",
        description="Wearable TimeSeries Health Monitor: personalised anomaly screening of 5-minute wearable "
                    "records. A screening aid, not a diagnosis.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers = {}
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            configure = getattr(importlib.import_module(f"{__name__}.{module}"), "configure_" + name.replace("-", "_"))
            handlers[name] = configure(p)
    return parser, handlers


# Exit codes, the same for every command (README "Exit codes"):
EXIT_OK = 0          # done, nothing to report
EXIT_FINDINGS = 1    # done, with findings or with records/fields removed by validation
EXIT_BAD_INPUT = 2   # bad input or usage: the message says what; nothing was written
EXIT_INTERNAL = 3    # a bug: a one-line message (WM_DEBUG=1 shows the traceback)


# Exceptions that mean "the input (file, option, config, checkpoint) is unusable", never a bug:
# the package's own (one root, errors.py) and what the standard library raises for a bad path or file.
BAD_INPUT_ERRORS: tuple[type[BaseException], ...] = (
    WearableMonitorError, zipfile.BadZipFile, FileNotFoundError, IsADirectoryError, NotADirectoryError,
    PermissionError, UnicodeError)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser, handlers = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)  # usage errors exit 2 (argparse)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    tune_gc(freeze=False)  # a CLI run is one analysis: fewer collections (gc_tuning.py)
    try:
        return int(handlers[args.command](args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place a CLI error becomes an exit code
        if os.environ.get("WM_DEBUG"):
            raise
        if isinstance(exc, BAD_INPUT_ERRORS):
            print(f"error: {str(exc).strip()[:2000]}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"internal error: {type(exc).__name__}: {str(exc)[:500]} (rerun with WM_DEBUG=1 for the "
              "traceback; please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
