"""save_pretrained / from_pretrained in the style of huggingface_hub's ModelHubMixin.

A checkpoint folder holds
  config.json        {"schema_version", "model_type", "architecture": ModelConfig as dict, ...extra keys
                      such as feature_config_sha256 and threshold}
  model.safetensors  the state dict (safetensors: plain tensors, no pickle, safe to load from anywhere)

Loading reads a local folder first; anything else that looks like "owner/name" is fetched with
huggingface_hub.snapshot_download. Keys are matched strictly: a checkpoint with a missing or
unexpected tensor, or a tensor of the wrong shape, is refused with a message naming the keys.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError  # noqa: F401 - defined in errors.py, importable from here as before

SCHEMA_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
RESERVED_KEYS = ("schema_version", "model_type", "architecture")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_checkpoint_dir(name_or_path: str | Path, revision: str | None = None) -> Path:
    """Local folder if it exists, else a Hugging Face Hub snapshot (network; never used by tests)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    text = str(name_or_path)
    if path.exists() or not _REPO_ID.match(text) or text.startswith((".", "/", "~")):
        raise CheckpointError(f"{text}: not a checkpoint folder and not a Hub repo id ('owner/name')")
    from huggingface_hub import (
        snapshot_download,  # imported lazily: only needed when online
    )

    try:
        return Path(snapshot_download(repo_id=text, revision=revision,
                                      allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, "*.json", "*.md"]))
    except Exception as exc:  # offline, unknown repo, auth...: say what we tried
        raise CheckpointError(f"{text}: no local folder of that name and the Hub download failed: {exc}") from exc


def read_config(directory: str | Path) -> dict[str, Any]:
    """config.json of a checkpoint folder, schema-checked."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise CheckpointError(f"{path}: missing (a checkpoint needs {CONFIG_NAME} and {WEIGHTS_NAME})")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    version = config.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CheckpointError(f"{path}: schema_version {version!r}, this code reads {SCHEMA_VERSION}")
    if not isinstance(config.get("architecture"), dict):
        raise CheckpointError(f"{path}: 'architecture' must be an object (the ModelConfig)")
    return config


def check_state_dict(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], where: str,
                     strict: bool = True) -> None:
    """Raise CheckpointError listing missing / unexpected keys and shape mismatches."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [f"{k}: checkpoint {list(found[k].shape)} vs model {list(expected[k].shape)}"
              for k in sorted(set(expected) & set(found)) if found[k].shape != expected[k].shape]
    problems = []
    if missing and strict:
        problems.append(f"missing keys {missing}")
    if unexpected and strict:
        problems.append(f"unexpected keys {unexpected}")
    if shapes:
        problems.append("shape mismatch " + "; ".join(shapes))
    if problems:
        raise CheckpointError(f"{where}: does not match the model architecture: " + "; ".join(problems))


class HubMixin:
    """Adds save_pretrained / from_pretrained to an nn.Module with a dataclass `config`
    (with to_dict / from_dict) and a class attribute `config_class`."""

    config_class: type

    def save_pretrained(self, save_directory: str | Path, extra_config: dict[str, Any] | None = None) -> Path:
        extra = dict(extra_config or {})
        clash = sorted(set(extra) & set(RESERVED_KEYS))
        if clash:
            raise ValueError(f"extra_config may not set reserved keys {clash}")
        out = Path(save_directory)
        out.mkdir(parents=True, exist_ok=True)
        config = {"schema_version": SCHEMA_VERSION, "model_type": type(self).__name__,
                  "architecture": self.config.to_dict(), **extra}
        (out / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        # safetensors wants contiguous, unshared CPU tensors.
        tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in self.state_dict().items()}
        save_file(tensors, str(out / WEIGHTS_NAME), metadata={"format": "pt", "schema_version": str(SCHEMA_VERSION)})
        return out

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, strict: bool = True, revision: str | None = None,
                        device: str | torch.device = "cpu"):
        """Build the model from config.json and load model.safetensors (no pickle).

        The returned model is in eval mode; the non-architecture keys of config.json (threshold,
        feature_config_sha256, ...) are available as `model.checkpoint_config`.
        """
        directory = resolve_checkpoint_dir(name_or_path, revision)
        config = read_config(directory)
        if config.get("model_type", cls.__name__) != cls.__name__:
            raise CheckpointError(f"{directory}: model_type {config['model_type']!r}, expected {cls.__name__!r}")
        try:
            model_config = cls.config_class.from_dict(config["architecture"])
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{directory / CONFIG_NAME}: bad architecture: {exc}") from exc
        model = cls(model_config)
        weights = directory / WEIGHTS_NAME
        if not weights.is_file():
            raise CheckpointError(f"{weights}: missing")
        try:
            state = load_file(str(weights), device=str(device))
        except Exception as exc:  # truncated or not a safetensors file
            raise CheckpointError(f"{weights}: cannot be read as safetensors: {exc}") from exc
        check_state_dict(model.state_dict(), state, str(weights), strict)
        model.load_state_dict(state, strict=strict)
        model.checkpoint_config = {k: v for k, v in config.items() if k not in RESERVED_KEYS}
        model.checkpoint_dir = directory
        return model.to(device).eval()
