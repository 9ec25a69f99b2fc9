"""Convert a PatchTrAD checkpoint folder of the old layout (its own config.json: model_type "patchtrad",
format_version 1, "config") into the package's one format (wearable_monitor/model/hub.py: schema_version,
model_type "PatchTrAD", "architecture", plus threshold and threshold_criterion).

    python scripts/convert_patchtrad_checkpoint.py checkpoints/patchtrad

Lossless: the tensors are read and written with safetensors (no pickle) and must come back equal;
summary.json is kept as it is. A folder already in the new format is left alone.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

from wearable_monitor.model.hub import CONFIG_NAME, WEIGHTS_NAME
from wearable_monitor.patchtrad import PatchTrAD, PatchTrADConfig


def convert(folder: Path) -> bool:
    meta = json.loads((folder / CONFIG_NAME).read_text())
    if "schema_version" in meta:
        return False
    if meta.get("model_type") != "patchtrad" or meta.get("format_version") != 1:
        raise SystemExit(f"{folder}: not an old-layout PatchTrAD checkpoint")
    state = load_file(str(folder / WEIGHTS_NAME))
    model = PatchTrAD(PatchTrADConfig.from_dict(meta["config"]))
    model.load_state_dict(state, strict=True)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, extra_config={"threshold": meta["threshold"],
                                                 "threshold_criterion": meta.get("threshold_criterion", "")})
        back = load_file(str(Path(tmp) / WEIGHTS_NAME))
        if sorted(back) != sorted(state) or not all(torch.equal(back[k], state[k]) for k in state):
            raise SystemExit(f"{folder}: tensors changed in conversion; nothing written")
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            (folder / name).write_bytes((Path(tmp) / name).read_bytes())
    return True


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["checkpoints/patchtrad"]:
        print(f"{arg}: {'converted' if convert(Path(arg)) else 'already in the hub format'}")
