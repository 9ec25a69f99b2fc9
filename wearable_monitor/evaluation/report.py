"""Runs the whole evaluation and writes docs/evaluation.md (called by `wearable-monitor evaluate`).

Detectors compared on the same held-out simulated users, each through the detector contract
(detectors/base.py: `decision_function` on Windows, `threshold_`), in one loop:
- the learned Phased LSTM + TFT detector (shipped checkpoint and threshold);
- personal 3-sigma rule (|z| >= 3 against the blended personal baseline);
- IsolationForest on the same windows (fit on training users' normal windows, threshold by
  event-level F1 on the validation users, the same criterion the learned detector used);
- NightSignal (nightly resting HR >= 4 bpm over the median of earlier nights, two nights running);
- PatchTrAD prescreen (shipped checkpoint and its threshold; window score = max of its records' patch scores).
Two test conditions: all channels, and "Fitbit-like" (the same users with heart rate and steps only).
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ..config import REPO_ROOT
from ..detector import WearableAnomalyDetector
from ..detectors.base import WindowDetector
from ..detectors.hub import WEIGHTS_NAME
from ..detectors.learned.training import TrainConfig
from ..detectors.patchtrad import PatchTrADDetector
from ..detectors.reference import IsolationForestDetector, NightSignalDetector, ThreeSigmaDetector
from ..events import window_and_event_metrics
from ..features import FeatureCalculator
from ..simulation.datasets import FITBIT_MISSING, hide_channels, labelled_windows, split_population, with_baselines
from ..simulation.heldout_sim import simulate_heldout
from ..verdict.patterns import PatternConfig
from .measures import day_level_report, day_variants, evaluate_fitbit, seed_week_report
from .verdict import fitbit_report, pooled_fitbit, population_report
from .verdict import render as render_verdict

PATCHTRAD_DIR = REPO_ROOT / "checkpoints" / "patchtrad"
EVAL_DOC = REPO_ROOT / "docs" / "evaluation.md"


def compared_detectors(det: WearableAnomalyDetector, cfg: TrainConfig, splits: dict,
                       prepare) -> dict[str, WindowDetector]:
    """The detectors of the report, by report name, each with its threshold set (module docstring).

    IsolationForest is the one without a threshold of its own: it learns the training users' normal
    windows and is calibrated on the validation users by the contract's criterion.
    """
    _, w_train, y_train = prepare(splits["train"])
    rng = np.random.default_rng(cfg.seed)
    normal = np.flatnonzero(~y_train)
    iforest = IsolationForestDetector(seed=cfg.seed).fit(w_train[rng.choice(normal, min(len(normal), 60000), replace=False)])
    del w_train
    _, w_val, _ = prepare(splits["val"])
    iforest.calibrate(w_val, splits["val"].events, splits["val"].user_days)
    detectors = {"learned": det.learned, "personal_3sigma": ThreeSigmaDetector(), "isolation_forest": iforest,
                 "nightsignal": NightSignalDetector()}
    if (PATCHTRAD_DIR / WEIGHTS_NAME).exists():
        detectors["patchtrad"] = PatchTrADDetector.from_pretrained(PATCHTRAD_DIR)
    return detectors


def run_evaluation(config_path: str, model_dir: str | None = None, fitbit_dir: str | None = None,
                   progress: bool = True, heldout_users: int = 80, heldout_days: int = 30, heldout_seed: int = 0) -> dict:
    t0 = time.time()
    cfg = TrainConfig.from_json(config_path)
    torch.manual_seed(cfg.seed)
    splits = split_population(cfg.train_users, cfg.val_users, cfg.test_users, cfg.days, cfg.seed, cfg.sim)
    det = WearableAnomalyDetector(model_dir)
    calc = FeatureCalculator(det.config, window_size=cfg.window_size)

    def prepare(split, fitbit_like=False):
        frame = hide_channels(split.frame, split.users, FITBIT_MISSING) if fitbit_like else split.frame
        frame = with_baselines(frame, det.config)
        windows, y, _ = labelled_windows(frame, split.events, calc)
        return frame, windows, y

    detectors = compared_detectors(det, cfg, splits, prepare)
    test = splits["test"]
    results: dict = {"conditions": {}}
    for condition, fitbit_like in (("all_channels", False), ("hr_steps_only", True)):
        frame, windows, y = prepare(test, fitbit_like)
        results["conditions"][condition] = {
            name: window_and_event_metrics(windows, d.decision_function(windows), y, d.threshold_, test.events,
                                           test.user_days)
            for name, d in detectors.items()}
        # multi-day alerts (what a person is told): learned daily pattern vs NightSignal nights
        fresh = WearableAnomalyDetector(model_dir)
        learned_days = fresh.daily(fresh.score_history(frame.drop(columns=[c for c in frame if c.startswith("bl_")])))
        nightsignal = detectors["nightsignal"]
        nights = nightsignal.nightly(frame)
        ns_days = nights.assign(alert=nights["score"] >= nightsignal.threshold_, sufficient=True)
        results.setdefault("day_level", {})[condition] = {
            **{name: day_level_report(d, test.events)
               for name, d in day_variants(learned_days, fresh.pattern_config).items()},
            "nightsignal": day_level_report(ns_days, test.events)}

    summary = {cond: {name: {k: m[k] for k in ("window_pr_auc", "window_f1", "event_recall", "event_precision",
                                               "event_f1", "false_alarms_per_user_day")}
                      for name, m in dets.items()} for cond, dets in results["conditions"].items()}
    out = {
        "simulated": {"summary": summary, **results,
                      "data": {"config": _relative(config_path), "seed": cfg.seed, "days": cfg.days,
                               "test_users": len(test.users), "test_user_days": test.user_days,
                               "test_events": test.events["kind"].value_counts().to_dict()}},
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "torch": torch.__version__},
        "threshold": det.threshold,
    }
    out["seed_week"] = seed_week_report(det)
    out["verdict"] = verdict_report(det, test, fitbit_dir, heldout_users, heldout_days, heldout_seed)
    if fitbit_dir and Path(fitbit_dir).exists():
        out["fitbit"] = evaluate_fitbit(det, Path(fitbit_dir), progress=progress)
    out["seconds"] = round(time.time() - t0, 1)
    EVAL_DOC.write_text(render_markdown(out))
    return out


def verdict_report(det, test, fitbit_dir, heldout_users: int, heldout_days: int, heldout_seed: int) -> dict:
    """The verdict and each evidence source alone on our held-out users, the second simulator and real users."""
    heldout = simulate_heldout(n_users=heldout_users, days=heldout_days, seed=heldout_seed)
    out = {"own_sim": population_report(det, test.frame, test.events),
           "own_sim_hr_steps": population_report(det, hide_channels(test.frame, test.users, FITBIT_MISSING),
                                                 test.events),
           "heldout_sim": {**population_report(det, heldout.frame(), heldout.labels),
                           "config": {"users": heldout_users, "days": heldout_days, "seed": heldout_seed}}}
    if fitbit_dir and Path(fitbit_dir).exists():
        users = fitbit_report(det, Path(fitbit_dir))
        out["fitbit"] = {"users": users, "pooled": pooled_fitbit(users)}
    return out


VERDICT_DOC = REPO_ROOT / "docs" / "evaluation_verdict.md"


def run_verdict_evaluation(config_path: str, model_dir: str | None = None, fitbit_dir: str | None = None,
                           heldout_users: int = 80, heldout_days: int = 30, heldout_seed: int = 0) -> Path:
    """Only the verdict section (`wearable-monitor evaluate --only verdict`): docs/evaluation_verdict.md + .json."""
    t0 = time.time()
    cfg = TrainConfig.from_json(config_path)
    test = split_population(cfg.train_users, cfg.val_users, cfg.test_users, cfg.days, cfg.seed, cfg.sim)["test"]
    det = WearableAnomalyDetector(model_dir)
    res = verdict_report(det, test, fitbit_dir, heldout_users, heldout_days, heldout_seed)
    seconds = round(time.time() - t0, 1)
    machine = f"{os.cpu_count()} CPU cores, {platform.platform()}, torch {torch.__version__}"
    lines = ["# Evaluation of the verdict", "",
             f"Generated by `wearable-monitor evaluate --only verdict` (writes this file and "
             f"`docs/evaluation_verdict.json`; `wearable-monitor evaluate` puts the same section into "
             f"docs/evaluation.md); machine: {machine}; run time {seconds} s. Our own simulator's held-out test "
             f"users come from `{_relative(config_path)}`; the second simulator's population is "
             f"{heldout_users} users x {heldout_days} days, seed {heldout_seed}.", "",
             "This is a screening aid, not a diagnosis.", "", *render_verdict(res)]
    VERDICT_DOC.write_text("\n".join(lines) + "\n")
    VERDICT_DOC.with_suffix(".json").write_text(json.dumps({**res, "seconds": seconds}, indent=2, default=str) + "\n")
    return VERDICT_DOC


def _relative(path) -> str:
    """Paths in the report relative to the repository, so the docs read the same on every machine."""
    p = Path(path).resolve()
    return str(p.relative_to(REPO_ROOT)) if p.is_relative_to(REPO_ROOT) else str(path)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def render_markdown(res: dict) -> str:
    """docs/evaluation.md of an evaluation result: the verdict, the detectors window by window per
    test condition, the seed's 7-day example and the real Fitbit users."""
    sim = res["simulated"]
    lines = _render_header(res)
    for cond, title in (("all_channels", "All channels"), ("hr_steps_only", "Heart rate and steps only (Fitbit-like)")):
        if sim["conditions"].get(cond):
            lines += _render_condition(title, sim["conditions"][cond], sim.get("day_level", {}).get(cond))
    if "seed_week" in res:
        lines += _render_seed_week(res["seed_week"])
    if "fitbit" in res:
        lines += _render_fitbit(res["fitbit"])
    return "\n".join(lines) + "\n"


def _render_header(res: dict) -> list[str]:
    sim = res["simulated"]
    d = sim["data"]
    return [
        "# Evaluation", "",
        "Generated by `wearable-monitor evaluate` (writes this file and `docs/evaluation.json`); "
        f"machine: {res['machine']['cpu_count']} CPU cores, {res['machine']['platform']}, torch {res['machine']['torch']}; "
        f"run time {res['seconds']} s.", "",
        "This is a screening aid, not a diagnosis. Simulated figures are on users the model never saw, "
        "from our own simulator: an independent simulator or real people will score lower.", "",
        *(render_verdict(res["verdict"]) if "verdict" in res else []),
        "## The learned model and the references, window by window", "",
        "### Held-out simulated users", "",
        f"Training configuration `{d['config']}` (seed {d['seed']}): {d['test_users']} test users, "
        f"{d['test_user_days']:.0f} user-days, events {d['test_events']}. Window = 12 five-minute records; "
        "positive when an event is inside it or starts within 30 minutes. Event level: consecutive "
        "flagged windows form one alarm episode; an event is detected when an episode touches it "
        "(from 30 minutes before its start); an episode touching no event is a false alarm. Thresholds: the "
        "learned detector's and IsolationForest's maximise event F1 on the validation users; the rules use "
        "their published values; PatchTrAD uses its checkpoint's (0.99 quantile of normal scores), and its "
        "window score is the highest patch score among the window's records. PatchTrAD's own summary.json "
        "reports figures on its own, smaller held-out split, where one long illness dominates the positives.", "",
    ]


def _render_condition(title: str, dets: dict, day: dict | None) -> list[str]:
    """One test condition: the window/event table of every detector, then the multi-day alerts."""
    kinds = sorted({k for m in dets.values() for k in m["per_kind"]})
    lines = [f"#### {title}", "",
             "| detector | threshold | window PR-AUC | window P / R / F1 | event recall | event precision | "
             "event F1 | false alarms / user-day | " + " | ".join(f"recall {k}" for k in kinds) + " |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(kinds)]
    for name, m in dets.items():
        lines.append(
            f"| {name} | {_fmt(m['threshold'])} | {_fmt(m['window_pr_auc'])} | "
            f"{_fmt(m['window_precision'])} / {_fmt(m['window_recall'])} / {_fmt(m['window_f1'])} | "
            f"{_fmt(m['event_recall'])} | {_fmt(m['event_precision'])} | {_fmt(m['event_f1'])} | "
            f"{_fmt(m['false_alarms_per_user_day'])} | "
            + " | ".join(_fmt(m["per_kind"].get(k, {}).get("recall")) for k in kinds) + " |")
    if day:
        lines += ["", "Multi-day alerts (the same evidence two days running: the model's day score or one vital; illness caught when an alert day falls "
                  "inside it or the day after; false alert days are further than 2 days from any event). "
                  "`learned`: the day's window scores stand out from the person's "
                  f"earlier days (a day score of at least {PatternConfig().day_score_threshold:g}, or "
                  f"{PatternConfig().limited_day_score_threshold:g} on days with heart rate and steps only), "
                  "or the night's vitals deviate from earlier nights (wearable_monitor/features/vitals.py: "
                  "resting HR +4 bpm, HRV -25 %, respiration +1.5/min, SpO2 -3, skin temperature +0.8 degC); "
                  "`model_days_only` and `vitals_only` are its two halves alone. The product's multi-day pattern "
                  "is `vitals_only`: counted as evidence, the model's day score caught one more illness on the "
                  "second simulator only, each time with more false alert days (the verdict section's "
                  "`verdict_with_model_days`), so a model day is a watch:", "",
                  "| detector | illnesses caught | median days from start to first alert | false alert days / 30 user-days |",
                  "|---|---|---|---|"]
        for name, r in day.items():
            lines.append(f"| {name} | {r['caught']} / {r['illnesses']} | {_fmt(r['median_days_to_first_alert'])} | "
                         f"{_fmt(r['false_alert_days_per_30'])} |")
    learned = dets["learned"]["event_f1"]
    beaten = [n for n, m in dets.items() if n != "learned" and m["event_f1"] >= learned]
    lines += ["", ("The learned detector has the best event-level F1 in this condition."
                   if not beaten else f"**Not beaten on event F1 by the learned detector here: {', '.join(beaten)}.**"), ""]
    return lines


def _render_seed_week(seed_week: dict) -> list[str]:
    """The seed's 7-day pattern example: people alerted per scenario."""
    lines = ["## The seed's 7-day pattern example", "",
             "3 normal days, then 4 days of gradually declining HRV, laid over 30 simulated people (seeds 0-29, "
             "`evaluation.declining_week`), each replayed through `score_history` + `daily`:", "",
             "| scenario | people alerted | people with at least a watch (an anomalous day) |", "|---|---|---|"]
    lines += [f"| {name} | {r['alerted']} / {r['people']} | {r['flagged']} / {r['people']} |"
              for name, r in seed_week.items()]
    lines += ["", "An HRV fall of 10 % a day is inside the simulated night-to-night noise (~10 %) for its first "
              "two or three days, and three nights are a short reference. The sustained-fall rule of the "
              "nightly vitals (three nights running, each lower than the one before, 20 % below the earlier "
              "nights on average, the last past the -25 % floor) makes such a day anomalous (a watch); it "
              "alerts when the fall goes on a second day, or when HRV is past the floor two nights running "
              "(`PatternConfig.sustained_fall_alerts`: one falling day alone cost false alert days on both "
              "simulators and caught no illness the other rules missed; HRV alone is non-specific). The "
              "people without even a watch have no HRV on some nights or a noisy first reference "
              "(`python scripts/tune_day_rules.py` prints the rules' cost in false alert days).", ""]
    return lines


def _render_fitbit(fitbit: dict) -> list[str]:
    """The real Fitbit users: alert days around symptom onset and far from it, per detector."""
    lines = ["## Real data: Stanford COVID-19 Fitbit users", "",
             "Six COVID-19-positive people (Mishra et al. 2020, Nature Biomedical Engineering; data "
             "published by the Snyder lab). Each user is replayed through `score_history` (no look-ahead); "
             "a day alerts when the daily pattern has the same evidence two days running (`learned`: the model's "
             "day score or the nightly vitals; `model_days_only`, `vitals_only`: its halves alone; the product's "
             "pattern is `vitals_only`). With heart "
             "rate and steps only, `vitals_only` is NightSignal's rule on our nightly resting HR, with the day's resting HR "
             "standing in on dates without a night reading (`nightsignal`: the published rule alone, so its days "
             "with data are the days with a night). Early detection window: "
             "symptom onset - 7 .. 0 days; false alerts are counted on days more than 21 days before or "
             "42 days after onset, per 30 such days. Users without an onset date have no ground truth "
             "(they fell ill at some unknown time).", "",
             "| user | onset | detector | days with data | alert days | alerts onset-7..0 | alerts onset±7 | "
             "first alert (days from onset) | false alert days / 30 far days |",
             "|---|---|---|---|---|---|---|---|---|"]
    for user, r in fitbit.items():
        for name in ("learned", "model_days_only", "vitals_only", "nightsignal"):
            m = r[name]
            lines.append(f"| {user} | {r['symptom_onset'] or '–'} | {name} | {m['days_with_data']} | {m['alert_days']} | "
                         f"{_fmt(m.get('alert_days_onset_minus7_to_0'))} | {_fmt(m.get('alert_days_within_7_of_onset'))} | "
                         f"{_fmt(m.get('first_alert_relative_to_onset'))} | {_fmt(m.get('false_alert_days_per_30_far'))} |")
    lines.append("")
    return lines
