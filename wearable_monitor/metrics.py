"""Small, dependency-light metric helpers shared by training, evaluation and rules."""
from __future__ import annotations

import numpy as np


def precision_recall_f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


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
