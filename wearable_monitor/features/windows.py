"""Windows: the model-ready batch every detector reads (the window contract, architecture.md section 3)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class Windows:
    """A batch of N model-ready windows of T steps (field table: architecture.md section 3)."""

    user_ids: np.ndarray           # [N] object
    end_times: np.ndarray          # [N] datetime64[ns]
    end_index: np.ndarray          # [N] int64, positional row of the last record in the frame
    numeric: np.ndarray            # [N,T,Fn] float32, normalised, 0 where missing
    numeric_mask: np.ndarray       # [N,T,Fn] float32, 1 = observed
    categorical: np.ndarray        # [N,T,Fc] int64, missing = cardinality
    dt: np.ndarray                 # [N,T] float32, minutes since previous record
    t: np.ndarray                  # [N,T] float32, minutes relative to window end
    known: np.ndarray              # [N,T,K] float32
    static: np.ndarray             # [N,S] int64
    context: np.ndarray            # [N,C] float32, 0 where missing
    context_mask: np.ndarray       # [N,C] float32, 1 = available
    numeric_names: list[str]
    categorical_names: list[str]
    categorical_cardinalities: list[int]  # real categories; the embedding needs cardinality + 1 rows
    known_names: list[str]
    static_names: list[str]
    static_cardinalities: list[int]
    context_names: list[str]
    # the frame the windows were cut from (`end_index` rows are its positions): detectors that read
    # more than the window (NightSignal: earlier nights; PatchTrAD: hours of context) read it here.
    # None for windows made from bare columns (the realtime path).
    frame: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    _NAME_FIELDS = ("numeric_names", "categorical_names", "categorical_cardinalities", "known_names",
                    "static_names", "static_cardinalities", "context_names")

    @classmethod
    def array_fields(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name not in cls._NAME_FIELDS and f.name != "frame"]

    def source_frame(self, reader: str) -> pd.DataFrame:
        """The frame these windows were cut from; `reader` names who needs it, for the error."""
        if self.frame is None:
            raise ValueError(f"{reader} reads the windows' source frame: make them with "
                             "FeatureCalculator.windows(frame), not from bare columns")
        return self.frame

    def __len__(self) -> int:
        return len(self.end_index)

    @property
    def window_size(self) -> int:
        return self.numeric.shape[1]

    def __getitem__(self, idx: Any) -> "Windows":
        """Sub-batch by int, slice, integer array or boolean mask (an int keeps the batch axis)."""
        if isinstance(idx, (int, np.integer)):
            idx = [int(idx)]
        arrays = {name: getattr(self, name)[idx] for name in self.array_fields()}
        return Windows(**arrays, **{name: getattr(self, name) for name in self._NAME_FIELDS}, frame=self.frame)

    @classmethod
    def concat(cls, batches: Sequence["Windows"]) -> "Windows":
        """Concatenate batches with identical layouts (same names, same window size)."""
        if not batches:
            raise ValueError("Windows.concat: need at least one batch")
        first = batches[0]
        for i, b in enumerate(batches[1:], 1):
            for name in cls._NAME_FIELDS:
                if getattr(b, name) != getattr(first, name):
                    raise ValueError(f"Windows.concat: batch {i} has different {name}")
            if b.window_size != first.window_size:
                raise ValueError(f"Windows.concat: batch {i} has window size {b.window_size}, "
                                 f"batch 0 has {first.window_size}")
        arrays = {name: np.concatenate([getattr(b, name) for b in batches]) for name in cls.array_fields()}
        # batches of one frame keep it; batches of several frames have no common source
        frame = first.frame if all(b.frame is first.frame for b in batches) else None
        return cls(**arrays, **{name: list(getattr(first, name)) for name in cls._NAME_FIELDS}, frame=frame)

    def to_tensors(self, device: Any = None) -> dict[str, Any]:
        """The numeric arrays as torch tensors (torch imported lazily; ids and times stay numpy)."""
        import torch

        out = {}
        for name in self.array_fields():
            if name in ("user_ids", "end_times"):
                continue
            tensor = torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
            out[name] = tensor if device is None else tensor.to(device)
        return out
