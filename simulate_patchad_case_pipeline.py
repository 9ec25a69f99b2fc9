#!/usr/bin/env python
"""The seed model card's case pipeline script, over the package's CLI:

    python simulate_patchad_case_pipeline.py --mode all \
        --data-file data_storage/users/your_case.jsonl \
        --save-dir demo_patchad_cases --sample-name your_case

PatchTrAD prescreen + official precheck; the case is written to SAVE_DIR and listed in its
manifest.json (the app's PatchTrAD tab shows it without a restart). Every flag of
`wearable-monitor cases` is accepted (`--help`).
"""
import sys

from wearable_monitor.cli import main as cli_main

if __name__ == "__main__":
    sys.exit(cli_main(["cases", *sys.argv[1:]]))
