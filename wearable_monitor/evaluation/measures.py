"""Honest evaluation: the learned detector against reference detectors, on data it never saw.

    wearable-monitor evaluate [--config configs/train_default.json] [--fitbit-dir ../shared/data/...]

Simulated part: the *test* users of the training configuration (disjoint from the users the
model was trained and calibrated on). Every detector goes through the same contract
(`decision_function` + `threshold_`) and the same scoring:
- window level: PR-AUC, and precision / recall / F1 at the detector's threshold;
- event level: consecutive flagged windows form alarm episodes; recall per anomaly kind,
  episode precision, event F1 and false alarms per user-day (events.py).

Real part: the shared Stanford COVID-19 Fitbit users, replayed through `score_history` (no
look-ahead); per user the alert days within 7 days of symptom onset and the false alert days per
30 days far from the illness (before onset - 21 days or after onset + 42 days).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import REPO_ROOT
from ..data.readers import load_fitbit
from ..data.validation import Limits
from ..detectors.reference import NightSignalDetector
from ..simulation.simulator import simulate_user
from ..verdict.patterns import with_runs

DEFAULT_FITBIT_DIR = REPO_ROOT.parent / "shared" / "data" / "stanford_covid_wearables"


# ------------------------------------------------------------------------------------ real data

def fitbit_user_report(days: pd.DataFrame, onset: pd.Timestamp | None) -> dict:
    """Alert days around symptom onset and false alert days far from it (per 30 days)."""
    alert_dates = pd.DatetimeIndex(days.loc[days["alert"], "date"])
    out = {"days_with_data": int(days["sufficient"].sum()), "alert_days": int(len(alert_dates))}
    if onset is None or pd.isna(onset):
        return out
    rel = (alert_dates - onset).days
    far = days["sufficient"] & (((days["date"] - onset).dt.days < -21) | ((days["date"] - onset).dt.days > 42))
    far_alerts = int(((rel < -21) | (rel > 42)).sum())
    out.update({
        "alert_days_onset_minus7_to_0": int(((rel >= -7) & (rel <= 0)).sum()),
        "alert_days_within_7_of_onset": int(((rel >= -7) & (rel <= 7)).sum()),
        "first_alert_relative_to_onset": int(rel[rel >= -21].min()) if (rel >= -21).any() else None,
        "far_days": int(far.sum()),
        "false_alert_days_far": far_alerts,
        "false_alert_days_per_30_far": round(30 * far_alerts / far.sum(), 2) if far.sum() else None,
    })
    return out


def evaluate_fitbit(detector, data_dir: Path = DEFAULT_FITBIT_DIR, progress: bool = True) -> dict:
    """Replay every shared Fitbit user through the detector and NightSignal; per-user figures."""
    labels = pd.read_csv(data_dir / "labels.csv", parse_dates=["symptom_onset", "diagnosis"])
    out = {}
    for row in labels.itertuples():
        hr, steps = data_dir / f"{row.user_id}_hr.csv.zip", data_dir / f"{row.user_id}_steps.csv.zip"
        if not hr.exists():
            continue
        frame = load_fitbit(hr, steps, limits=Limits(max_bytes=2**30)).frame
        scored = detector.score_history(frame, progress=progress)
        days = detector.daily(scored)
        onset = row.symptom_onset if not pd.isna(row.symptom_onset) else None
        ns = NightSignalDetector()
        nights = ns.nightly(frame)
        ns_days = nights.assign(alert=nights["score"] >= ns.threshold_, sufficient=True)
        out[row.user_id] = {"symptom_onset": None if onset is None else str(onset.date()),
                            **{name: fitbit_user_report(d, onset)
                               for name, d in day_variants(days, detector.pattern_config).items()},
                            "nightsignal": fitbit_user_report(ns_days, onset)}
    return out


DAY_VARIANTS = {"learned": "is_anomalous_day", "model_days_only": "model_anomalous", "vitals_only": "vitals_anomalous"}


def day_variants(days: pd.DataFrame, config) -> dict[str, pd.DataFrame]:
    """The days alerting on the model's day score or the nightly vitals (`learned`), and on each alone.

    `config`: the PatternConfig that made `days` (its alert rule is applied again to each source, with the
    model's day score counted as multi-day evidence: what it would add is what this table measures;
    the product's pattern is `vitals_only`, PatternConfig.model_days_alert).
    """
    config = replace(config, model_days_alert=True)
    out = {}
    for name, column in DAY_VARIANTS.items():
        d = days.drop(columns=["pattern_days", "alert"]).assign(is_anomalous_day=days[column].to_numpy(bool))
        if column == "model_anomalous":
            d["vitals_sustained"] = False  # the sustained-fall alert is vitals evidence
            d["vitals_deviant_signals"] = ""
        out[name] = with_runs(d, config)
    return out


def day_level_report(days: pd.DataFrame, events: pd.DataFrame, grace_days: int = 2) -> dict:
    """Multi-day alerts vs labelled illnesses: the simulated twin of the Fitbit report.

    An illness is caught when an alert day falls in [start, end + 1 day]; alert days further than
    `grace_days` from every illness (any kind of event counts as "near") are false alert days.
    """
    ill = events[events["kind"] == "illness"]
    caught, lead = 0, []
    near = pd.Series(False, index=days.index)
    for ev in events.itertuples():
        m = (days["user_id"] == ev.user_id) & (days["date"] >= ev.start.normalize() - pd.Timedelta(days=grace_days)) \
            & (days["date"] <= ev.end.normalize() + pd.Timedelta(days=grace_days))
        near |= m
    for ev in ill.itertuples():
        m = (days["user_id"] == ev.user_id) & days["alert"] & (days["date"] >= ev.start.normalize()) \
            & (days["date"] <= ev.end.normalize() + pd.Timedelta(days=1))
        if m.any():
            caught += 1
            lead.append(int((days.loc[m, "date"].min() - ev.start.normalize()).days))
    far = days["sufficient"] & ~near
    false_days = int((days["alert"] & far).sum())
    return {"illnesses": int(len(ill)), "caught": caught,
            "illness_recall": round(caught / len(ill), 4) if len(ill) else None,
            "median_days_to_first_alert": float(np.median(lead)) if lead else None,
            "false_alert_days": false_days, "far_user_days": int(far.sum()),
            "false_alert_days_per_30": round(30 * false_days / far.sum(), 3) if far.sum() else None}


# ---------------------------------------------------------------------- the seed's 7-day scenario

SEED_WEEK_VARIANTS = {"healthy": (0.0, 0.0), "hrv_only_10pct_per_day": (0.10, 0.0),
                      "hrv_15pct_and_rhr_4bpm_per_day": (0.15, 4.0)}


def declining_week(seed: int, hrv_drop_per_day: float, rhr_rise_per_day: float) -> pd.DataFrame:
    """The seed's pattern example: 3 normal days, then 4 days of gradually declining HRV
    (optionally with the resting-HR rise that usually comes with it), on one simulated person."""
    frame = simulate_user("seed-pattern", days=7, seed=seed, events=[]).frame.copy()
    day = (frame["timestamp"] - frame["timestamp"].iloc[0]).dt.days.to_numpy()
    decline = np.clip(day - 2, 0, None)  # 0,0,0,1,2,3,4
    for col in ("hrv_rmssd", "hrv_sdnn"):
        frame[col] = frame[col] * (1 - hrv_drop_per_day * decline)
    for col in ("hr", "hr_resting"):
        frame[col] = frame[col] + rhr_rise_per_day * decline
    return frame


def seed_week_report(detector, seeds=range(30)) -> dict:
    """Per variant: simulated people whose 7-day scenario alerts, and who get at least a watch (an
    anomalous day) (healthy = false alerts)."""
    out = {}
    for name, (hrv, rhr) in SEED_WEEK_VARIANTS.items():
        days = [detector.daily(detector.score_history(declining_week(s, hrv, rhr), update_baseline=False))
                for s in seeds]
        out[name] = {"people": len(days), "alerted": sum(bool(d["alert"].any()) for d in days),
                     "flagged": sum(bool(d["is_anomalous_day"].any()) for d in days)}
    return out
