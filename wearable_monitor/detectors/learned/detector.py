"""LearnedDetector: the Phased LSTM + TFT network behind the detector contract (detectors/base.py)."""
from __future__ import annotations

from contextlib import contextmanager

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
    """

    name = "learned_phased_lstm_tft"

    def __init__(self, model: WearableAnomalyNet, threshold: float | None = None, batch_size: int = 1024,
                 small_batch: int = 16):
        super().__init__(threshold)
        self.model = model.eval()
        self.batch_size = batch_size
        self.small_batch = small_batch
        self.traced = TracedScorer(self.model)

    @torch.inference_mode()
    def outputs(self, windows: Windows, keys=("probability",)) -> dict[str, np.ndarray]:
        parts: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        tensors = windows.to_tensors()
        with torch_threads(1 if len(windows) <= self.small_batch else None):
            for start in range(0, len(windows), self.batch_size):
                batch = {k: v[start:start + self.batch_size] for k, v in tensors.items()}
                out = self._forward(batch)
                for k in keys:
                    parts[k].append(out[k].float().numpy())
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
