"""`wearable-monitor` command line: a thin dispatcher.

Each command lives beside the code it drives. Its module defines
``configure_<command>(parser) -> handler`` (dashes become underscores): it adds
the arguments and returns ``handler(args) -> int``. Only the chosen command's
module is imported, so `wearable-monitor simulate` does not pay for torch.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

# command -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "import": ("wearable_monitor.importers", "convert device exports (Apple Health, Fitbit Takeout, Health Connect, Garmin FIT, Oura) into 5-minute JSONL records"),
    "import-fitbit": ("wearable_monitor.fitbit", "convert a Fitbit heart-rate + steps CSV pair into 5-minute JSONL records"),
    "validate": ("wearable_monitor.readers", "validate a JSON window / JSONL history and print the per-line report"),
    "simulate": ("wearable_monitor.simulator", "write realistic simulated users (5-minute JSONL, daily logs, labels)"),
    "detect": ("wearable_monitor.detector", "score one window file and print the JSON result"),
    "score": ("wearable_monitor.detector", "replay JSONL histories (any number of users) and write per-window and per-day scores "
               "(--engine dask: on a Dask cluster)"),
    "convert": ("wearable_monitor.distributed", "convert JSONL / CSV records into a Parquet dataset partitioned by user"),
    "train": ("wearable_monitor.training", "simulate data, pre-train, fine-tune, calibrate and save a checkpoint"),
    "evaluate": ("wearable_monitor.evaluation", "evaluate the detectors on held-out simulated users and real Fitbit data"),
    "bench": ("wearable_monitor.bench", "print scoring throughput and realtime latency on this machine"),
    "rules": ("wearable_monitor.rules.cli", "run the rule engine over daily logs and print findings as JSON lines"),
    "rules-feedback": ("wearable_monitor.rules.cli", "confirm a stored rule finding, mark it a false alarm, or report "
                                                     "a missed anomaly (updates precision / recall / F1)"),
    "rules-ab": ("wearable_monitor.rules.cli", "compare two rule configurations on one simulated population"),
    "cases": ("wearable_monitor.cases", "run the PatchTrAD prescreen + official precheck case pipeline"),
    "app": ("wearable_monitor.app.ui", "start the Gradio app"),
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
            configure = getattr(importlib.import_module(module), "configure_" + name.replace("-", "_"))
            handlers[name] = configure(p)
    return parser, handlers


# Exit codes, the same for every command (README "Exit codes"):
EXIT_OK = 0          # done, nothing to report
EXIT_FINDINGS = 1    # done, with findings or with records/fields removed by validation
EXIT_BAD_INPUT = 2   # bad input or usage: the message says what; nothing was written
EXIT_INTERNAL = 3    # a bug: a one-line message (WM_DEBUG=1 shows the traceback)


def _bad_input_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the input (file, option, config) is unusable", never a bug."""
    import zipfile

    from .config import ConfigError
    from .validation import InputFileError

    errors: list[type[BaseException]] = [InputFileError, ConfigError, zipfile.BadZipFile, FileNotFoundError,
                                         IsADirectoryError, NotADirectoryError, PermissionError, UnicodeError]
    try:
        from .detector import InputError
        errors.append(InputError)
    except Exception:  # noqa: BLE001 - torch missing: the command that needs it reports that itself
        pass
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser, handlers = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)  # usage errors exit 2 (argparse)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return int(handlers[args.command](args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place a CLI error becomes an exit code
        if os.environ.get("WM_DEBUG"):
            raise
        if isinstance(exc, _bad_input_errors()):
            print(f"error: {str(exc).strip()[:2000]}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"internal error: {type(exc).__name__}: {str(exc)[:500]} (rerun with WM_DEBUG=1 for the "
              "traceback; please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
