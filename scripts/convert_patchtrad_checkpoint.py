"""Convert a PatchTrAD checkpoint folder of the old layout (its own config.json: model_type "patchtrad",
format_version 1, "config") into the package's one format (wearable_monitor/detectors/hub.py: schema_version,
model_type "PatchTrAD", "architecture", plus threshold and threshold_criterion).

    python scripts/convert_patchtrad_checkpoint.py checkpoints/patchtrad

Lossless: only config.json is rewritten. model.safetensors is kept byte for byte (its tensors are
what the new format reads: the state dict of the same module, no pickle), so its sha256 in earlier
case files still holds; the script checks that the new config builds a model that loads them
strictly. summary.json is kept as it is. A folder already in the new format is left alone.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file

from wearable_monitor.detectors.hub import CONFIG_NAME, WEIGHTS_NAME
from wearable_monitor.detectors.patchtrad import PatchTrAD, PatchTrADConfig


def convert(folder: Path) -> bool:
    meta = json.loads((folder / CONFIG_NAME).read_text())
    if "schema_version" in meta:
        return False
    if meta.get("model_type") != "patchtrad" or meta.get("format_version") != 1:
        raise SystemExit(f"{folder}: not an old-layout PatchTrAD checkpoint")
    state = load_file(str(folder / WEIGHTS_NAME))
    model = PatchTrAD(PatchTrADConfig.from_dict(meta["config"]))
    model.load_state_dict(state, strict=True)
    with tempfile.TemporaryDirectory() as tmp:  # the new config.json, as save_pretrained writes it
        model.save_pretrained(tmp, extra_config={"threshold": meta["threshold"],
                                                 "threshold_criterion": meta.get("threshold_criterion", "")})
        (folder / CONFIG_NAME).write_text((Path(tmp) / CONFIG_NAME).read_text())
    back = PatchTrAD.from_pretrained(folder).state_dict()
    if sorted(back) != sorted(state) or not all(torch.equal(back[k], state[k]) for k in state):
        raise SystemExit(f"{folder}: the converted folder does not give back the same tensors")
    return True


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["checkpoints/patchtrad"]:
        print(f"{arg}: {'converted' if convert(Path(arg)) else 'already in the hub format'}")
