"""Patch scores of tiled sequences, each patch with the context the configuration gives it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from .model import PatchTrAD
from .series import Series, gather_rows


@torch.no_grad()
def patch_scores(model: PatchTrAD, x: np.ndarray, m: np.ndarray, aux: np.ndarray, batch: int = 512) -> np.ndarray:
    """[S, P] patch scores of sequences [S, seq_len, *], in batches (numpy in, numpy out)."""
    model.eval()
    out = [model.patch_scores(*(torch.from_numpy(np.ascontiguousarray(a[i:i + batch])) for a in (x, m, aux)))
           for i in range(0, len(x), batch)]
    return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, model.cfg.n_patches))


def series_patch_scores(model: PatchTrAD, series: Series, idx: np.ndarray, owners: list[str]) -> np.ndarray:
    """[S, P] score of every tiled patch, each seen with `score_context_patches` patches before it."""
    cfg = model.cfg
    c = cfg.score_context_patches
    if c is None or c >= cfg.n_patches - 1:
        return patch_scores(model, *gather_rows(series, idx))
    P, pl, L = cfg.n_patches, cfg.patch_len, cfg.seq_len
    rows = idx.reshape(-1, pl)  # every patch, in time order per user
    user = np.repeat(pd.factorize(np.asarray(owners, dtype=object))[0], P)
    seq = np.full((len(rows), L), -1, dtype=np.int64)
    for k in range(c + 1):  # the scored patch goes last; context before it, same user only
        src = np.arange(len(rows)) - k
        ok = (src >= 0) & (user[np.maximum(src, 0)] == user)
        seq[ok, L - (k + 1) * pl:L - k * pl] = rows[src[ok]]
    return patch_scores(model, *gather_rows(series, seq))[:, -1].reshape(len(idx), P)
