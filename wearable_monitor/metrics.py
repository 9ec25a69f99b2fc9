"""The metrics of the package, in one place: training, evaluation, PatchTrAD and the rules use these.

Window level: precision / recall / F1 at a threshold, PR-AUC, the F1-best threshold. Event level
(alarm episodes against labelled events) is counted in events.py and scored with `f1` here.
"""
from __future__ import annotations

import numpy as np


def f1(precision: float, recall: float) -> float:
    """Harmonic mean; 0 when both are 0 (NaN in, NaN out)."""
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, f1(precision, recall)


def window_metrics(scores: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    """Window-level figures of scores against labels: counts, PR-AUC and P / R / F1 at `threshold`.

    A non-finite score means "no opinion": it never flags and ranks below every finite score.
    """
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y, dtype=bool)
    flags = scores >= threshold
    tp, fp, fn = int((flags & y).sum()), int((flags & ~y).sum()), int((~flags & y).sum())
    p, r, f = precision_recall_f1(tp, fp, fn)
    ok = np.isfinite(scores)
    ranked = np.where(ok, scores, (scores[ok].min() - 1) if ok.any() else 0.0)
    return {"windows": int(len(y)), "positive_windows": int(y.sum()), "window_pr_auc": round(pr_auc(ranked, y), 4),
            "window_precision": round(p, 4), "window_recall": round(r, 4), "window_f1": round(f, 4),
            "best_window_f1_threshold": round(best_threshold(ranked, y), 6), "threshold": round(float(threshold), 6)}


def best_threshold(scores: np.ndarray, y: np.ndarray, criterion: str = "f1") -> float:
    """Threshold maximising F1 (criterion='f1') over all distinct scores."""
    if criterion != "f1":
        raise ValueError(f"unknown criterion {criterion!r}")
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    if not y.any():
        return float(np.max(scores)) + 1e-6
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], y[order]
    tp = np.cumsum(t)
    fp = np.cumsum(~t)
    # only evaluate at the last index of each run of equal scores
    last = np.r_[s[1:] != s[:-1], True]
    precision = tp / np.maximum(tp + fp, 1)
    recall = tp / t.sum()
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    f1 = np.where(last, f1, -1.0)
    return float(s[int(np.argmax(f1))])


def pr_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step-wise)."""
    scores = np.asarray(scores, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], y[order]
    tp = np.cumsum(t)
    fp = np.cumsum(~t)
    last = np.r_[s[1:] != s[:-1], True]
    tp, fp = tp[last], fp[last]
    precision = tp / (tp + fp)
    recall = tp / t.sum()
    recall_prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - recall_prev) * precision))
