"""PatchTrAD behind the detector contract: scores per record, per flagged segment and per window."""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ...data.records import TIME, USER
from ...features import Windows
from ..base import WindowDetector
from .config import PatchTrADConfig, PatchTrADTrainConfig
from .model import PatchTrAD
from .scoring import series_patch_scores
from .series import Series, frame_series, tile_rows
from .training import train_model

SUMMARY_NAME = "summary.json"  # beside hub's config.json + model.safetensors: how it was trained and tested


class Segment(NamedTuple):
    user_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    max_score: float


class PatchTrADDetector(WindowDetector):
    """PatchTrAD behind the detector contract: Windows in, one score per window (the highest
    score of its records, each scored in its patch of the source frame). `score_series` and
    `flag_segments` give the same scores per record and as flagged segments."""

    name = "patchtrad"

    def __init__(self, config: PatchTrADConfig | None = None, threshold: float | None = None,
                 threshold_criterion: str = "", train_config: PatchTrADTrainConfig | None = None, seed: int = 0,
                 progress: bool = False):
        super().__init__(threshold)
        self.config = config or PatchTrADConfig.from_feature_config()
        self.model = PatchTrAD(self.config).eval()
        self.threshold_criterion = threshold_criterion
        self.train_config = train_config or PatchTrADTrainConfig()
        self.seed, self.progress = seed, progress
        self.summary: dict = {}

    def _tiled(self, frame: pd.DataFrame) -> tuple[Series, np.ndarray, list[str], np.ndarray]:
        series = frame_series(frame, self.config)
        idx, owners = tile_rows(series.users, self.config.seq_len)
        return series, idx, owners, series_patch_scores(self.model, series, idx, owners)

    def score_series(self, frame: pd.DataFrame) -> np.ndarray:
        """Score per frame row = score of its patch; NaN when its patch holds no observed value."""
        _, idx, _, ps = self._tiled(frame)
        per_point = np.repeat(ps, self.config.patch_len, axis=1)
        out = np.full(len(frame), np.nan)
        valid = idx >= 0
        out[idx[valid]] = per_point[valid]
        return out

    def flag_segments(self, frame: pd.DataFrame, threshold: float | None = None) -> list[Segment]:
        """Runs of consecutive patches scoring at or above the threshold (same rule as `predict`)."""
        thr = self._threshold(threshold)
        _, idx, owners, ps = self._tiled(frame)
        P, pl = self.config.n_patches, self.config.patch_len
        rows = idx.reshape(len(idx) * P, pl)  # patch -> its rows
        scores = ps.reshape(-1)
        owner = np.repeat(np.asarray(owners, dtype=object), P)
        flagged = np.flatnonzero(scores >= thr)  # NaN compares False: unobserved patches never flag
        times = pd.DatetimeIndex(frame[TIME])
        segments: list[Segment] = []
        run: list[int] = []
        for p in np.r_[flagged, -2]:  # -2 = sentinel closing the last run
            if run and (p != run[-1] + 1 or owner[p] != owner[run[-1]]):
                r = rows[run]
                r = r[r >= 0]
                segments.append(Segment(str(owner[run[0]]), times[r.min()], times[r.max()],
                                        float(np.max(scores[run]))))
                run = []
            if p >= 0:
                run.append(int(p))
        return segments

    def decision_function(self, windows: Windows) -> np.ndarray:
        """Max record score over each window's records (same user only); nothing observed -> 0."""
        frame = windows.source_frame(self.name)
        record = np.nan_to_num(self.score_series(frame), nan=0.0)
        T = windows.window_size
        rows = windows.end_index[:, None] - np.arange(T)[None, ::-1]  # [N, T], the window's frame rows
        inside = (rows >= 0) & (frame[USER].to_numpy()[np.maximum(rows, 0)] == windows.user_ids[:, None])
        return np.where(inside, record[np.maximum(rows, 0)], 0.0).max(axis=1)

    def _threshold(self, threshold: float | None) -> float:
        thr = self.threshold_ if threshold is None else threshold
        if thr is None:
            raise RuntimeError("patchtrad: no threshold set; fit() first or pass threshold=")
        return float(thr)

    # -- training
    def fit(self, windows: Windows, y: np.ndarray | None = None) -> "PatchTrADDetector":
        """Train on the windows' source frame and set threshold_ (module docstring: the criterion).

        Records of windows with y == 1 are kept out of training, as labelled events are.
        """
        frame = windows.source_frame(self.name)
        not_normal = np.zeros(len(frame), dtype=bool)
        if y is not None:
            T = windows.window_size
            rows = windows.end_index[np.asarray(y, dtype=bool)][:, None] - np.arange(T)[None, :]
            not_normal[rows[rows >= 0]] = True
        trained, summary = train_patchtrad(frame, config=self.config, train_config=self.train_config,
                                           seed=self.seed, progress=self.progress, not_normal=not_normal)
        self.model, self.threshold_ = trained.model, trained.threshold_
        self.threshold_criterion, self.summary = trained.threshold_criterion, summary
        return self

    # -- persistence: the package's one checkpoint format (detectors/hub.py: config.json + model.safetensors)
    def save_pretrained(self, out_dir: str | Path, summary: dict | None = None) -> Path:
        out = self.model.save_pretrained(out_dir, extra_config={"threshold": self.threshold_,
                                                                "threshold_criterion": self.threshold_criterion})
        if summary is not None:
            (out / SUMMARY_NAME).write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
        return out

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "PatchTrADDetector":
        """Load a checkpoint folder; keys and shapes must match exactly (hub.CheckpointError otherwise)."""
        model = PatchTrAD.from_pretrained(path)
        extra = model.checkpoint_config
        det = cls(model.cfg, threshold=extra.get("threshold"), threshold_criterion=extra.get("threshold_criterion", ""))
        det.model = model
        summary_file = Path(path) / SUMMARY_NAME
        det.summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        return det


def train_patchtrad(frame: pd.DataFrame, labels: pd.DataFrame | None = None,
                    config: PatchTrADConfig | None = None, train_config: PatchTrADTrainConfig | None = None,
                    seed: int = 0, progress: bool = True,
                    not_normal: np.ndarray | None = None) -> tuple[PatchTrADDetector, dict]:
    """A PatchTrAD detector trained on the normal part of `frame` (training.train_model); (detector, summary)."""
    cfg = config or PatchTrADConfig.from_feature_config()
    tc = train_config or PatchTrADTrainConfig()
    det = PatchTrADDetector(cfg, train_config=tc, seed=seed)
    det.model, det.threshold_, det.threshold_criterion, det.summary = train_model(frame, labels, cfg, tc, seed,
                                                                                  progress, not_normal)
    return det, det.summary
