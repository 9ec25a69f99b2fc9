"""LearnedDetector: the Phased LSTM + TFT network behind the detector contract (detectors/base.py)."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial

import numpy as np
import torch

from ...features import Windows
from ..base import WindowDetector
from .network import WearableAnomalyNet
from .traced import TracedScorer


class LearnedDetector(WindowDetector):
    """The Phased LSTM + TFT network behind the detector contract (batched, inference mode).

    Batches of at most `small_batch` windows run on one torch thread: their ops are far too
    small to gain from a second thread, and on a busy machine every op would wait for the
    second thread to be scheduled (measured: 2 ms -> 150 ms per window with another process
    on one of two cores). Bigger batches use the process setting (`torch.set_num_threads`).
    A single window (the realtime path) runs through a TorchScript trace of the network
    (traced.py): the same arithmetic without Python's per-op dispatch. Big inputs go
    through in slices of `batch_size` windows: 1024 measured ~25 % faster than 4096 on 2 cores
    (the intermediates stay in cache), and 256 slower again (per-call overhead).

    `compile_batches()` runs those slices through `torch.compile` of the network (Inductor fuses the
    gated residual networks' element-wise ops that eager mode runs one by one): about 1.5-2x the
    windows/s on 2 cores (`wearable-monitor bench`), for a one-off compilation of ~45 s in a fresh
    environment (~5 s once Inductor's on-disk cache holds it). Worth it for a population, not for
    one upload: `wearable-monitor score --compile`. Every slice is padded to `batch_size`, so one
    compiled graph serves them all. Where compilation fails (no C++ compiler), eager mode is used
    and a warning says so.
    """

    name = "learned_phased_lstm_tft"

    def __init__(self, model: WearableAnomalyNet, threshold: float | None = None, batch_size: int = 1024,
                 small_batch: int = 16):
        super().__init__(threshold)
        self.model = model.eval()
        self.batch_size = batch_size
        self.small_batch = small_batch
        self.traced = TracedScorer(self.model)
        self._compiled: Callable | None = None  # torch.compile of model.score (compile_batches)

    def compile_batches(self) -> bool:
        """Score batches bigger than `small_batch` through `torch.compile` from now on (class docstring).
        False (and eager mode kept) when this torch cannot compile here."""
        if self._compiled is None:
            try:
                compiled = partial(torch.compile(self.model.score, dynamic=False), aux=False)
                self._slices(compiled, self._example_batch(), ("probability",), pad=True)
            except Exception as exc:  # noqa: BLE001 - e.g. no C++ compiler for Inductor
                warnings.warn(f"torch.compile is not available here ({type(exc).__name__}: {exc}); "
                              "scoring batches in eager mode", RuntimeWarning, stacklevel=2)
                return False
            self._compiled = compiled
        return True

    def use_eager(self) -> None:
        """Back to eager batches (compile_batches undone)."""
        self._compiled = None

    def _example_batch(self) -> dict[str, torch.Tensor]:
        """One all-missing window of the model's shapes (for compiling before real data arrives)."""
        c = self.model.config
        batch = {k: torch.zeros(shape, dtype=torch.int64 if k in ("categorical", "static") else torch.float32)
                 for k, shape in self.model.input_shapes(1, c.window_size).items()}
        batch["dt"] = torch.full((1, c.window_size), float(c.sampling_minutes))
        batch["t"] = torch.arange(c.window_size, dtype=torch.float32).unsqueeze(0) * c.sampling_minutes
        return batch

    @torch.inference_mode()
    def outputs(self, windows: Windows, keys=("probability",)) -> dict[str, np.ndarray]:
        tensors = windows.to_tensors()
        if self._compiled is not None and len(windows) > self.small_batch:
            self.model.check_batch(tensors)  # once, eagerly: the compiled graph has no checks
            return self._slices(self._compiled, tensors, keys, pad=True)
        with torch_threads(1 if len(windows) <= self.small_batch else None):
            return self._slices(self._forward, tensors, keys)

    @torch.inference_mode()
    def _slices(self, score: Callable, tensors: dict[str, torch.Tensor], keys, pad: bool = False
                ) -> dict[str, np.ndarray]:
        """`score` over slices of `batch_size` windows; with `pad`, a short last slice is padded with
        copies of its last window (cut off again) so that every call has the same shapes."""
        n = len(next(iter(tensors.values())))
        if n == self.batch_size or (n < self.batch_size and not pad):  # one call, no slicing (the realtime path)
            out = score(tensors)
            return {k: out[k].float().numpy().copy() for k in keys}  # owned, as the concatenation below
        parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        for start in range(0, n, self.batch_size):
            batch = {k: v[start:start + self.batch_size] for k, v in tensors.items()}
            size = len(batch["numeric"])
            if pad and size < self.batch_size:
                batch = {k: torch.cat([v, v[-1:].expand(self.batch_size - size, *v.shape[1:])]) for k, v in batch.items()}
            out = score(batch)
            for k in keys:
                parts[k].append(out[k][:size].float().numpy())
        return {k: np.concatenate(v) if v else np.zeros(0, np.float32) for k, v in parts.items()}

    def _forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if batch["numeric"].shape[0] == 1:
            self.model.check_batch(batch)
            out = self.traced(batch)
            if out is not None:
                return out
        return self.model(batch, aux=False)

    def decision_function(self, windows: Windows) -> np.ndarray:
        return self.outputs(windows)["probability"].astype(np.float64)


@contextmanager
def torch_threads(n: int | None):
    """Run the block with `n` torch intra-op threads in the calling OS thread (None: unchanged).

    With torch's OpenMP backend the count belongs to each OS thread once it has used torch (measured:
    a thread that raises its count to 2 runs a matmul in half the time while another thread keeps 1);
    it also becomes the starting count of OS threads that first use torch meanwhile."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
