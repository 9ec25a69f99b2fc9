"""The verdict measured the honest way: per evidence source (ablation), on three populations.

Populations: the held-out test users of our own simulator (never trained on), users of the
independently written second simulator (heldout_sim.py; never trained or tuned on), and the
real Stanford COVID-19 Fitbit users. Each population is replayed through `score_history` (no
look-ahead) and read by the same measures:

- event level (acute, bradycardia, desaturation, illness): consecutive alert windows of a user form
  one episode; an event is caught when an episode touches it; an episode touching no event is a
  false episode (no point-adjust: one caught event is one true episode however long it is);
- day level: illnesses caught by an alert day inside them (or the day after), days from the start to
  the first alert, false alert days per 30 user-days further than 2 days from any event.

Variants: `verdict` (what a person is told: level alert or urgent; its windows carry the multi-day
pattern of the finished day before and, from the end of the night, what their own day's nights
already say: verdict.carry_pattern), `verdict_without_pattern` (the same
windows without that carry: the stream evidence alone), each evidence source alone
(`red_flags_only`, `baseline_only`, `model_only`: the learned model's own threshold, `pattern_only`:
the multi-day pattern alert), `verdict_with_model_alerts` (the ablation that decides whether the
model earns a place: the verdict if the model's finding were an alert), `verdict_with_model_days` (the
verdict if two days running of the model's day score made a multi-day alert), and two references:
`naive_3sigma` (|z| >= 3 on any channel of the window, no rest or duration guard: the rules
document's rule applied blindly) and NightSignal (nightly resting HR +4 bpm over the median of
earlier nights, two nights running; day level only).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from ..baselines import causal_baseline_columns
from ..detectors.reference import NightSignalDetector, ThreeSigmaDetector
from .measures import day_level_report, fitbit_user_report
from ..events import WEARABLE_KINDS, alarm_episodes, match_events
from ..verdict.findings import Level
from ..data.records import TIME, USER

ALERT = int(Level.ALERT)
WINDOW_VARIANTS = ("verdict", "verdict_without_pattern", "red_flags_only", "baseline_only", "model_only",
                   "verdict_with_model_alerts", "verdict_with_model_days", "naive_3sigma")
DAY_VARIANTS = ("verdict", "red_flags_only", "baseline_only", "pattern_only", "verdict_with_model_alerts",
                "verdict_with_model_days", "nightsignal")
#: real users: the day variants, and the verdict on the heart-rate file alone (its steps file not read)
FITBIT_VARIANTS = (*DAY_VARIANTS, "verdict_heart_rate_alone")


def replay(det, frame: pd.DataFrame, progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """(windows table, day table, naive 3-sigma flags per window) of a population, no look-ahead."""
    frame = frame.sort_values([USER, TIME], kind="stable").reset_index(drop=True)
    scored, days = det.score_history_and_days(frame, progress=progress, update_baseline=False)
    sigma = []
    three = ThreeSigmaDetector()
    for user in pd.unique(scored[USER]):
        rows = frame[frame[USER] == user].reset_index(drop=True)
        windows = det.calculator.windows(causal_baseline_columns(rows, det.config, det.users.bcfg))
        sigma.append(three.predict(windows))  # the rule's own threshold (|z| >= 3)
    return scored, days, np.concatenate(sigma) if sigma else np.zeros(0, bool)


def with_model_days(det, scored: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(windows, days) as the verdict would be if two model days running made a multi-day alert (the
    ablation behind PatternConfig.model_days_alert); the same scored windows, no rescoring."""
    days = model_days_table(det, scored)
    return det.with_pattern(scored, days), days


def model_days_table(det, scored: pd.DataFrame) -> pd.DataFrame:
    """The day table of `with_model_days` alone (day-level reports need no windows)."""
    return det.daily(scored, pattern_config=replace(det.pattern_config, model_days_alert=True))


def window_flags(scored: pd.DataFrame, naive: np.ndarray,
                 model_days: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    """Per window variant: the windows it flags (`model_days`: the windows of `with_model_days`)."""
    model = scored["model_anomalous"].to_numpy(bool)
    verdict = scored["is_anomaly"].to_numpy(bool)
    red, base = scored["level_red_flag"].to_numpy(), scored["level_baseline"].to_numpy()
    out = {"verdict": verdict,
           "verdict_without_pattern": (red >= ALERT) | (base >= ALERT),
           "red_flags_only": red >= ALERT,
           "baseline_only": base >= ALERT,
           "model_only": model,
           "verdict_with_model_alerts": verdict | model}
    if model_days is not None:
        out["verdict_with_model_days"] = model_days["is_anomaly"].to_numpy(bool)
    out["naive_3sigma"] = naive
    return out


def day_tables(days: pd.DataFrame, scored: pd.DataFrame, frame: pd.DataFrame,
               model_days: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """One day table per day variant, each with the `alert` column that variant would raise
    (`model_days`: the day table of `with_model_days`)."""
    date = pd.DatetimeIndex(scored[TIME]).normalize()
    by_day = scored.assign(date=date).groupby([USER, "date"]).agg(
        red=("level_red_flag", "max"), base=("level_baseline", "max"), model=("model_anomalous", "any")).reset_index()
    d = days.merge(by_day, on=[USER, "date"], how="left")
    verdict = d["level"].isin(["alert", "urgent"]).to_numpy()
    out = {"verdict": d.assign(alert=verdict),
           "red_flags_only": d.assign(alert=d["red"].fillna(0).to_numpy() >= ALERT),
           "baseline_only": d.assign(alert=d["base"].fillna(0).to_numpy() >= ALERT),
           "pattern_only": d,  # the multi-day pattern's own alert column
           "verdict_with_model_alerts": d.assign(alert=verdict | d["model"].fillna(False).to_numpy(bool))}
    if model_days is not None:
        out["verdict_with_model_days"] = model_days.assign(alert=model_days["level"].isin(["alert", "urgent"]))
    nights = NightSignalDetector().nightly(frame)
    out["nightsignal"] = nights.assign(alert=nights["score"] >= NightSignalDetector().threshold_, sufficient=True)
    return out


SHORT_KINDS = ("acute", "bradycardia", "desaturation")


def _touches(episodes: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """Per episode: does it overlap one of `events` of the same user?"""
    hit = np.zeros(len(episodes), bool)
    for user, ev in events.groupby("user_id"):
        mine = np.flatnonzero(episodes["user_id"].to_numpy() == user)
        for i in mine:
            s, e = episodes["start"].iloc[i], episodes["end"].iloc[i]
            hit[i] = bool(((ev["start"] <= e) & (ev["end"] >= s)).any())
    return hit


def population_report(det, frame: pd.DataFrame, events: pd.DataFrame, progress: bool = False) -> dict[str, Any]:
    """Every variant's event- and day-level figures on one population."""
    events = events[events["kind"].isin(WEARABLE_KINDS)].reset_index(drop=True)
    scored, days, naive = replay(det, frame, progress)
    md_windows, md_days = with_model_days(det, scored)
    user_days = float(days.groupby(USER)["date"].nunique().sum())
    out: dict[str, Any] = {"users": int(scored[USER].nunique()), "user_days": user_days,
                           "events": events["kind"].value_counts().to_dict(), "windows": {}, "days": {}}
    for name, flags in window_flags(scored, naive, md_windows).items():
        episodes = alarm_episodes(scored[USER].to_numpy(), scored[TIME].to_numpy(), flags)
        rep = match_events(episodes, events, user_days)
        # short events only: illness is a multi-day event read at the day level (the day table), and
        # an alert during an illness is not a false episode here either
        short = match_events(episodes[~_touches(episodes, events[events["kind"] == "illness"])],
                             events[events["kind"].isin(SHORT_KINDS)], user_days)
        out["windows"][name] = {**rep.as_dict(), "flagged_windows": int(flags.sum()),
                                "short_events": {k: short.as_dict()[k] for k in
                                                 ("event_recall", "event_precision", "event_f1", "false_alarms_per_user_day")}}
    for name, d in day_tables(days, scored, frame, md_days).items():
        out["days"][name] = day_level_report(d, events)
    return out


def fitbit_report(det, data_dir, progress: bool = False) -> dict[str, Any]:
    """Per real user: day variants against symptom onset (alerts near onset, false alert days far from it)."""
    from ..data.readers import load_fitbit
    from ..data.validation import Limits

    labels = pd.read_csv(data_dir / "labels.csv", parse_dates=["symptom_onset"])
    out: dict[str, Any] = {}
    for row in labels.itertuples():
        hr, steps = data_dir / f"{row.user_id}_hr.csv.zip", data_dir / f"{row.user_id}_steps.csv.zip"
        if not hr.exists():
            continue
        frame = load_fitbit(hr, steps, limits=Limits(max_bytes=2**30)).frame
        scored, days = det.score_history_and_days(frame, progress=progress, update_baseline=False)
        onset = None if pd.isna(row.symptom_onset) else row.symptom_onset
        tables = day_tables(days, scored, frame, model_days_table(det, scored))
        out[row.user_id] = {"symptom_onset": None if onset is None else str(onset.date()),
                            **{name: fitbit_user_report(tables[name], onset) for name in DAY_VARIANTS}}
        alone = load_fitbit(hr, None, limits=Limits(max_bytes=2**30), steps_beside=False).frame
        scored, days = det.score_history_and_days(alone, progress=progress, update_baseline=False)
        out[row.user_id]["verdict_heart_rate_alone"] = fitbit_user_report(
            day_tables(days, scored, alone)["verdict"], onset)
    return out


def pooled_fitbit(per_user: dict[str, Any]) -> dict[str, Any]:
    """Across the labelled users: how many alert within 7 days before onset, and far false alert days per 30."""
    out = {}
    for name in FITBIT_VARIANTS:
        rows = [r[name] for r in per_user.values() if r.get("symptom_onset") and name in r]
        far = sum(r.get("far_days", 0) for r in rows)
        false = sum(r.get("false_alert_days_far", 0) for r in rows)
        out[name] = {"labelled_users": len(rows),
                     "alerted_onset_minus7_to_0": sum(1 for r in rows if r.get("alert_days_onset_minus7_to_0", 0) > 0),
                     "far_days": far, "false_alert_days_far": false,
                     "false_alert_days_per_30_far": round(30 * false / far, 3) if far else None}
    return out


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines of the verdict section of docs/evaluation.md."""
    fmt = lambda v: "–" if v is None or (isinstance(v, float) and np.isnan(v)) else (  # noqa: E731
        f"{v:.3f}" if isinstance(v, float) else str(v))
    lines = ["## The verdict (what a person is told), by evidence source", "",
             "Window variants: `verdict` = level alert or urgent (red flags, personal-baseline deviations and the "
             "multi-day pattern alert of the finished day before, which each window carries, and from 07:00 the one "
             "its own day's nights already make; the model's finding is "
             "only 'watch'); `verdict_without_pattern` = the same without that carry; each source alone; "
             "`verdict_with_model_alerts` = the verdict if the "
             "learned model's threshold crossing were an alert (the ablation that decides the model's place); "
             "`verdict_with_model_days` = the verdict if two days running of the model's day score made a "
             "multi-day alert (it does not: a model day is a watch); "
             "`naive_3sigma` = |z| >= 3 on any channel without the rest and duration guards. Episodes: consecutive "
             "alert windows (gaps under an hour merge); no point-adjust. Day variants add the multi-day `pattern_only` "
             "alert and NightSignal. Events are the labelled acute, bradycardia, desaturation and illness episodes; "
             "the second simulator's confounders (exercise, alcohol, travel, altitude, artefacts) are not events, so "
             "alerts on them count as false. The last column scores the short events alone (acute, bradycardia, "
             "desaturation; episodes during an illness set aside): illness is a multi-day event, read in the day table.", ""]
    for key, title in (("own_sim", "Our simulator, held-out test users"),
                       ("own_sim_hr_steps", "Our simulator, held-out test users, heart rate and steps only"),
                       ("heldout_sim", "Second, independently written simulator (never trained or tuned on)")):
        pop = res.get(key)
        if not pop:
            continue
        kinds = sorted({k for m in pop["windows"].values() for k in m["per_kind"]})
        lines += [f"### {title}", "", f"{pop['users']} users, {pop['user_days']:.0f} user-days, events {pop['events']}.",
                  "", "| variant | event recall | event precision | event F1 | false episodes / user-day | "
                  + " | ".join(f"recall {k}" for k in kinds) + " | event F1, short events |",
                  "|---|---|---|---|---|" + "---|" * len(kinds) + "---|"]
        for name, m in pop["windows"].items():
            lines.append(f"| {name} | {fmt(m['event_recall'])} | {fmt(m['event_precision'])} | {fmt(m['event_f1'])} | "
                         f"{fmt(m['false_alarms_per_user_day'])} | "
                         + " | ".join(fmt(m["per_kind"].get(k, {}).get("recall")) for k in kinds)
                         + f" | {fmt(m.get('short_events', {}).get('event_f1'))} |")
        lines += ["", "| day variant | illnesses caught | median days from start to first alert | "
                  "false alert days / 30 user-days |", "|---|---|---|---|"]
        for name, r in pop["days"].items():
            lines.append(f"| {name} | {r['caught']} / {r['illnesses']} | {fmt(r['median_days_to_first_alert'])} | "
                         f"{fmt(r['false_alert_days_per_30'])} |")
        lines.append("")
    fit = res.get("fitbit")
    if fit:
        lines += ["### Real Stanford COVID-19 Fitbit users (heart rate and steps)", "",
                  "Alert days within 7 days before symptom onset, and false alert days more than 21 days before or "
                  "42 days after onset (per 30 such days). `verdict` days include acute red flags (e.g. heart rate "
                  ">= 120 bpm for 30 minutes with no steps: with steps as the only sign of rest, 30 minutes), which "
                  "are not about the infection. "
                  "`verdict_heart_rate_alone`: the same user's heart-rate file read without its steps file "
                  "(activity unknown: flags that need rest one level lower, no resting-HR estimate).", "",
                  "| user | onset | variant | alert days | alerts onset-7..0 | first alert (days from onset) | "
                  "false alert days / 30 far days |", "|---|---|---|---|---|---|---|"]
        for user, r in fit["users"].items():
            for name in (n for n in FITBIT_VARIANTS if n in r):
                m = r[name]
                lines.append(f"| {user} | {r['symptom_onset'] or '–'} | {name} | {m['alert_days']} | "
                             f"{fmt(m.get('alert_days_onset_minus7_to_0'))} | {fmt(m.get('first_alert_relative_to_onset'))} | "
                             f"{fmt(m.get('false_alert_days_per_30_far'))} |")
        lines += ["", "Pooled over the labelled users:", "",
                  "| variant | users alerted onset-7..0 | far days | false alert days | per 30 far days |",
                  "|---|---|---|---|---|"]
        for name, p in fit["pooled"].items():
            lines.append(f"| {name} | {p['alerted_onset_minus7_to_0']} / {p['labelled_users']} | {p['far_days']} | "
                         f"{p['false_alert_days_far']} | {fmt(p['false_alert_days_per_30_far'])} |")
        lines.append("")
    return lines
