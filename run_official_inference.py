#!/usr/bin/env python
"""The seed model card's official inference script, over the package's CLI:

    python run_official_inference.py --window-file test_data/example_window.json \
        --model-dir checkpoints/phase2/exp_factor_balanced

Reads the window file, runs `WearableAnomalyDetector.detect_realtime`, prints the full JSON result
(strict JSON: missing values are null) and then the LLM-ready Markdown of `AnomalyFormatter`.
No random noise is injected: the output is the API's. Same as
`wearable-monitor detect --window-file FILE --model-dir DIR --llm`.
"""
import argparse
import sys

from wearable_monitor.cli import main as cli_main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window-file", default="test_data/example_window.json",
                        help="JSON window: a list of 6-24 records, or {'window': [...], 'history': [...]}")
    parser.add_argument("--model-dir", default=None, help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="default: the checkpoint's calibrated threshold (a far-off value gets a warning)")
    parser.add_argument("--no-llm", action="store_true", help="print the JSON result only")
    args = parser.parse_args(argv)
    forwarded = ["detect", "--window-file", args.window_file]
    if args.model_dir:
        forwarded += ["--model-dir", args.model_dir]
    if args.threshold is not None:
        forwarded += ["--threshold", str(args.threshold)]
    if not args.no_llm:
        forwarded.append("--llm")
    return cli_main(forwarded)


if __name__ == "__main__":
    sys.exit(main())
