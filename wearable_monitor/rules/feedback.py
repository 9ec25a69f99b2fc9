"""Rule accuracy from feedback and labelled events, and the document's dynamic adjustment.

Two sources of truth feed the same per-rule statistics (precision, recall, F1):
- people: a user or clinician confirms a finding or marks it a false alarm
  (`FindingStore.add_feedback`), or reports an anomaly that was missed;
- the simulator: labelled daily events (`Population.labels`, stream == "daily")
  are matched against findings (`match_events`, `feed_simulator_labels`).

Dynamic adjustment ("根据历史准确率调整阈值"): a rule whose precision is below
`min_precision` over at least `min_labelled` judged findings gets its sensitivity
multiplied by `sensitivity_step` (thresholds move away from normal, see rules.py);
each change is written to the `adjustments` table and logged.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..metrics import f1, precision_recall_f1
from .config import Feedback
from .finding import FINDING, Finding
from .store import FindingStore

log = logging.getLogger(__name__)


@dataclass
class Adjustment:
    rule: str
    precision: float
    n_labelled: int
    old: float
    new: float


def adjust_sensitivity(store: FindingStore, cfg: Feedback) -> list[Adjustment]:
    """Lower the sensitivity of every rule whose judged precision is below the target.
    A rule is adjusted at most once per batch of new feedback (n_labelled must have grown)."""
    done = []
    for row in store.rule_stats().itertuples():
        n = int(row.tp + row.fp)
        if n < cfg.min_labelled or row.precision is None or np.isnan(row.precision) or row.precision >= cfg.min_precision:
            continue
        prev = store.sensitivity_row(row.rule)
        if prev is not None and prev["n_labelled"] >= n:
            continue  # no new evidence since the last adjustment
        old = prev["sensitivity"] if prev is not None else 1.0
        new = max(cfg.min_sensitivity, old * cfg.sensitivity_step)
        if new == old:
            continue
        reason = f"precision {row.precision:.2f} < {cfg.min_precision} over {n} judged findings"
        store.set_sensitivity(row.rule, new, float(row.precision), n, reason)
        log.info("rule %s: sensitivity %.3f -> %.3f (%s)", row.rule, old, new, reason)
        done.append(Adjustment(row.rule, float(row.precision), n, old, new))
    return done


def daily_events(labels: pd.DataFrame, daily_only: bool = True) -> pd.DataFrame:
    """The rule-worthy events of the simulator (labels with stream == 'daily'; with daily_only=False
    also wearable events such as illness, which a rule may legitimately see in resting HR), as dates."""
    ev = labels[labels["stream"] == "daily"] if daily_only and "stream" in labels else labels
    ev = ev.copy()
    ev["start"] = pd.to_datetime(ev["start"]).dt.normalize()
    ev["end"] = pd.to_datetime(ev["end"]).dt.normalize()
    return ev.reset_index(drop=True)


def match_events(findings: list[Finding], events: pd.DataFrame, tolerance_days: int,
                 extra_kinds: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Match findings (status 'finding') with labelled events of the kinds each finding stands for.

    A finding matches an event of the same user when its period overlaps
    [event.start, event.end + tolerance_days] (streak rules and confirmation report a few
    days after onset). Returns (matched per finding, labelled per finding, detections) where
    `labelled` is False for findings of rules with no simulator kind (they cannot be judged),
    and detections has one row per (event, rule) pair found.
    """
    tol = pd.Timedelta(days=tolerance_days)
    matched = np.zeros(len(findings), dtype=bool)
    labelled = np.array([bool(f.label_kinds) for f in findings], dtype=bool)
    by_user = {u: g for u, g in events.groupby("user_id")}
    hits = []
    for k, f in enumerate(findings):
        ev = by_user.get(f.user_id)
        if ev is None or not f.label_kinds:
            continue
        m = ev["kind"].isin(f.label_kinds) & (f.start <= ev["end"] + tol) & (f.end >= ev["start"])
        if m.any():
            matched[k] = True
            hits += [(i, f.rule) for i in ev.index[m]]
    det = pd.DataFrame(hits, columns=["event", "rule"]).drop_duplicates()
    return matched, labelled, det


def evaluate(findings: list[Finding], labels: pd.DataFrame, user_days: int, rule_kinds: dict[str, list[str]],
             tolerance_days: int) -> pd.DataFrame:
    """Per-rule table: findings, true / false alarms, precision, recall over the kinds the rule
    stands for, false alarms per 100 user-days, and unlabelled alarms (rules the simulator does
    not model)."""
    findings = [f for f in findings if f.status == FINDING]
    events = daily_events(labels, daily_only=False)
    matched, labelled, det = match_events(findings, events, tolerance_days)
    rows = []
    for rule, kinds in rule_kinds.items():
        mine = np.array([f.rule == rule for f in findings], dtype=bool)
        n = int(mine.sum())
        tp = int((mine & matched).sum())
        fp = int((mine & labelled & ~matched).sum())
        unl = int((mine & ~labelled).sum())
        relevant = events[events["kind"].isin(kinds)]
        found = det[det["rule"] == rule]["event"].isin(relevant.index).sum() if len(det) else 0
        n_ev = len(relevant)
        precision = tp / (tp + fp) if tp + fp else float("nan")
        recall = found / n_ev if n_ev else float("nan")
        rows.append({"rule": rule, "kinds": ",".join(kinds) or "-", "findings": n, "true": tp, "false": fp,
                     "unlabelled": unl, "events": n_ev, "detected": int(found), "precision": precision,
                     "recall": recall, "false_per_100_user_days": 100.0 * fp / max(user_days, 1),
                     "unlabelled_per_100_user_days": 100.0 * unl / max(user_days, 1)})
    return pd.DataFrame(rows)


def recall_by_kind(findings: list[Finding], labels: pd.DataFrame, tolerance_days: int) -> pd.DataFrame:
    """For each simulator event kind: share of events found by any rule standing for that kind."""
    findings = [f for f in findings if f.status == FINDING]
    events = daily_events(labels)
    _, _, det = match_events(findings, events, tolerance_days)
    found = set(det["event"]) if len(det) else set()
    events["detected"] = [i in found for i in events.index]
    g = events.groupby("kind")["detected"].agg(["count", "sum"])
    return pd.DataFrame({"kind": g.index, "events": g["count"].to_numpy(), "detected": g["sum"].to_numpy(),
                         "recall": (g["sum"] / g["count"]).to_numpy()})


def totals(table: pd.DataFrame, user_days: int) -> dict[str, float]:
    """Overall precision / recall / false alarms per 100 user-days of a per-rule table
    (recall over rule-event pairs)."""
    tp, fp = int(table["true"].sum()), int(table["false"].sum())
    ev, det = int(table["events"].sum()), int(table["detected"].sum())
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = det / ev if ev else float("nan")
    return {"precision": p, "recall": r, "f1": f1(p, r),
            "false_per_100_user_days": 100.0 * fp / max(user_days, 1), "findings": int(table["findings"].sum())}


def feed_simulator_labels(store: FindingStore, findings: list[Finding], labels: pd.DataFrame,
                          tolerance_days: int) -> None:
    """Write simulator truth into the store as feedback: matched stored findings are confirmed,
    unmatched labelled ones are false alarms, events no rule of their kind found are missed."""
    stored = [f for f in findings if f.status == FINDING and f.id is not None]
    events = daily_events(labels, daily_only=False)
    matched, labelled, det = match_events(stored, events, tolerance_days)
    for f, m, lab in zip(stored, matched, labelled):
        if lab:
            store.add_feedback(f.id, "confirmed" if m else "false_alarm", source="simulator")
    found = set(zip(det["event"], det["rule"])) if len(det) else set()
    rules_for_kind: dict[str, set[str]] = {}
    for f in stored:
        for k in f.label_kinds:
            rules_for_kind.setdefault(k, set()).add(f.rule)
    for i, ev in events.iterrows():
        for rule in rules_for_kind.get(ev["kind"], ()):
            if (i, rule) not in found:
                store.add_missed_event(ev["user_id"], rule, ev["start"], ev["end"], source="simulator")


def rule_kinds(cfg) -> dict[str, list[str]]:
    """rule -> simulator event kinds it stands for (union over metrics for per-metric rules)."""
    out = {}
    for name in cfg.rule_names:
        k = cfg.rule(name).label_kinds
        kinds = sorted({x for v in k.values() for x in v}) if isinstance(k, dict) else list(k)
        out[name] = kinds
    return out


__all__ = ["adjust_sensitivity", "evaluate", "recall_by_kind", "totals", "feed_simulator_labels", "match_events",
           "daily_events", "rule_kinds", "Adjustment", "precision_recall_f1"]
