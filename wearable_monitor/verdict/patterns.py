"""Multi-day patterns: from per-window verdicts to per-day shares, runs, trend and an alert.

A single 1-hour window is noisy evidence; illness shows as *days* on which many
windows, above all resting and night windows, sit off the personal baseline.
This module only aggregates: it takes window timestamps, verdicts and context
(night / resting) and knows nothing about how the scores were made, so the
learned detector and every reference detector share it. A day is anomalous when
its window scores stand out (`model_anomalous`) or when the night before it
deviates from the person's earlier nights (`vitals_anomalous`, vitals.py: the
NightSignal rule generalised to every vital). The same vital deviant two days running makes an
alert, and so does a sustained fall of a vital (`vitals_sustained`, vitals.py: three nights running,
each lower) two days running; one such day is a watch (`PatternConfig.sustained_fall_alerts`). A day the model's scores make anomalous
is shown (a watch) but is not multi-day evidence (`PatternConfig.model_days_alert`: the ablation in
docs/evaluation_verdict.md).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class PatternConfig:
    night_weight: float = 2.0       # night windows: least confounded by activity
    rest_weight: float = 1.5        # daytime windows with no steps
    active_weight: float = 0.5      # exercise raises HR normally; weigh it least
    # weighted mean window score that makes a day anomalous. Chosen, together with reference_k and
    # reference_margin, on a separate simulated population (seed 1001, 80 users x 60 days) to keep the
    # model's own false alert days low now that nightly vitals carry the NightSignal-style evidence.
    day_score_threshold: float = 0.6
    min_windows_per_day: int = 24   # fewer (under 2 h of data) -> the day is "insufficient", not normal
    alert_consecutive_days: int = 2  # NightSignal-style: two days running
    trend_slope_threshold: float = 0.02  # change of the day score per day that counts as a trend
    # Personal reference: a day must also stand out from the person's own earlier days (median +
    # max(k * robust sd, margin) of up to `reference_days` earlier sufficient days). A detector that
    # runs "hot" for one person (a device, a physiology it never saw) then does not alert every day.
    reference_days: int = 28
    min_reference_days: int = 5
    reference_k: float = 4.0
    reference_margin: float = 0.3
    # Days with heart rate and steps only (no HRV, respiration, SpO2 or skin temperature): the model's
    # window scores are much less precise there (window PR-AUC 0.25 vs 0.67 with every channel,
    # docs/evaluation.md), so such a day needs a higher score to count. Chosen on the HR+steps copy
    # of the seed-1001 population (scripts/tune_day_rules.py, model days counted as evidence, as they were
    # then): 0.6 -> 0.95 takes false alert days per
    # 30 user-days from 0.44 to 0.28 and catches 32 of 39 illnesses instead of 33 (0.98: 32, 0.27, a
    # difference of one false alert day in that population; the nightly vitals alone: 31, 0.27).
    limited_day_score_threshold: float = 0.95
    # The model's day score as multi-day evidence (two model days running make an alert)? No: in the ablation
    # `verdict_with_model_days` (wearable-monitor evaluate) it caught one more illness on the second simulator
    # and none on our simulator or the real users, each time with more false alert days and a lower event F1,
    # so a model day is a watch-level "anomalous day" only.
    model_days_alert: bool = False
    # Vitals read from the day's own rest hours (vitals.py, `hours="day_rest"`): known once the day is
    # over. Every other vital is a night's reading, known when the night ends (`alert_at_night`).
    daytime_signals: tuple[str, ...] = ("resting_hr_day",)
    # A sustained fall (vitals.py: HRV three nights running, each lower) is its own kind of evidence:
    # two such days running (four falling nights) make an alert, as any vital two nights running does.
    # True: one sustained day alerts by itself. Measured (day level, `python scripts/tune_day_rules.py`
    # and the second simulator's development seeds 17 + 23): alone it added false alert days on both
    # simulators and caught no illness the other rules missed (seeds 17 + 23: 35 -> 23 false alert days
    # without it, 17 of 21 illnesses either way); a steady fall of HRV alone is non-specific (training
    # load, alcohol, short sleep lower it too), so one such day is a watch.
    sustained_fall_alerts: bool = False


def window_weights(is_night: np.ndarray, is_resting: np.ndarray, config: PatternConfig = PatternConfig()) -> np.ndarray:
    w = np.where(is_resting, config.rest_weight, config.active_weight)
    return np.where(is_night, config.night_weight, w).astype(np.float64)


def daily_table(end_times, is_anomaly, is_night, is_resting, user_ids=None,
                config: PatternConfig = PatternConfig(), scores=None, nights: pd.DataFrame | None = None,
                limited=None) -> pd.DataFrame:
    """One row per (user, calendar day of the window end): counts, shares, day verdict.

    The day verdict reads the weighted mean *score* (a continuous measure that survives a detector
    whose window threshold is off for this person) against an absolute bar and the person's own
    earlier days; without scores the flags stand in (score 1 for a flagged window, 0 otherwise).
    `nights`: vitals.nightly_vitals of the same users; a deviant night makes its day anomalous too.
    `limited`: per window, True when its records had heart rate and steps only; a day all of whose
    windows are limited needs `limited_day_score_threshold` (None: every day the standard bar).
    """
    n = len(is_anomaly)
    frame = pd.DataFrame({
        "user_id": np.asarray(user_ids, dtype=object) if user_ids is not None else np.full(n, "user", dtype=object),
        "date": pd.DatetimeIndex(end_times).normalize(),
        "anomalous": np.asarray(is_anomaly, dtype=bool),
        "weight": window_weights(np.asarray(is_night, bool), np.asarray(is_resting, bool), config),
        "limited": np.zeros(n, bool) if limited is None else np.asarray(limited, dtype=bool),
    })
    frame["weighted_anomalous"] = frame["weight"] * frame["anomalous"]
    score = frame["anomalous"].to_numpy(np.float64) if scores is None else np.asarray(scores, np.float64)
    frame["weighted_score"] = frame["weight"] * score
    days = frame.groupby(["user_id", "date"], sort=True).agg(
        windows=("anomalous", "size"), anomalous_windows=("anomalous", "sum"),
        weight=("weight", "sum"), weighted_anomalous=("weighted_anomalous", "sum"),
        weighted_score=("weighted_score", "sum"), limited_channels=("limited", "all")).reset_index()
    days["anomaly_share"] = days["anomalous_windows"] / days["windows"]
    days["weighted_share"] = days["weighted_anomalous"] / days["weight"]
    days["day_score"] = days["weighted_score"] / days["weight"]
    days["sufficient"] = days["windows"] >= config.min_windows_per_day
    days["reference_score"] = _personal_reference(days, config)
    absolute = np.where(days["limited_channels"], config.limited_day_score_threshold, config.day_score_threshold)
    bar = np.fmax(absolute, days["reference_score"].to_numpy())  # NaN reference -> absolute bar
    days["model_anomalous"] = days["sufficient"] & (days["day_score"] >= bar)
    days = _with_vitals(days, nights)
    days["sufficient"] |= days["vitals_anomalous"]  # a measured deviant night is evidence even on a sparse day
    days["is_anomalous_day"] = days["model_anomalous"] | days["vitals_anomalous"]
    return days.drop(columns=["weight", "weighted_anomalous", "weighted_score"])


def _with_vitals(days: pd.DataFrame, nights: pd.DataFrame | None) -> pd.DataFrame:
    if nights is None or nights.empty:
        return days.assign(vitals_anomalous=False, vitals_sustained=False, vitals_deviant_count=0, vitals_flags="",
                           vitals_deviant_signals="")
    cols = nights[["user_id", "date", "vitals_anomalous", "vitals_sustained", "vitals_deviant_count",
                   "vitals_flags", "vitals_deviant_signals"]].astype({"date": "datetime64[ns]"})
    merged = days.astype({"date": "datetime64[ns]"}).merge(cols, on=["user_id", "date"], how="left")
    for flag in ("vitals_anomalous", "vitals_sustained"):
        merged[flag] = merged[flag].fillna(False).astype(bool)
    merged["vitals_deviant_count"] = merged["vitals_deviant_count"].fillna(0).astype(np.int64)
    merged["vitals_flags"] = merged["vitals_flags"].fillna("").astype(object)
    merged["vitals_deviant_signals"] = merged["vitals_deviant_signals"].fillna("").astype(object)
    return merged


def _personal_reference(days: pd.DataFrame, config: PatternConfig) -> np.ndarray:
    """Per day: the score a day needs to stand out from the same person's earlier sufficient days."""
    out = np.full(len(days), np.nan)
    for _, idx in days.groupby("user_id", sort=False).indices.items():
        shares = days["day_score"].to_numpy()[idx]
        ok = days["sufficient"].to_numpy()[idx]
        history: list[float] = []
        for j, i in enumerate(idx):
            if len(history) >= config.min_reference_days:
                h = np.asarray(history[-config.reference_days:])
                med = float(np.median(h))
                sd = 1.4826 * float(np.median(np.abs(h - med)))
                out[i] = med + max(config.reference_k * sd, config.reference_margin)
            if ok[j]:
                history.append(float(shares[j]))
    return out


def with_runs(days: pd.DataFrame, config: PatternConfig) -> pd.DataFrame:
    """Per user: length of the current run of anomalous days; insufficient days neither extend nor break it.

    A run is the *same* evidence day after day, as NightSignal asks resting HR two nights running: the
    model's day score, or one vital (`vitals_deviant_signals`). Resting HR up one night and HRV down the
    next are two single deviant nights, not a pattern (`python scripts/pattern_same_signal.py`, on two
    populations used for nothing that is reported: the same illnesses caught, fewer false alert days).
    A day table without the column (older tables) counts any anomalous day as one kind of evidence.
    """
    run_lengths = np.zeros(len(days), dtype=np.int64)
    night_runs = np.zeros(len(days), dtype=np.int64)  # runs of a night-time vital alone
    kinds = _evidence_kinds(days, config.model_days_alert)
    for _, idx in days.groupby("user_id", sort=False).indices.items():
        runs: dict[str, int] = {}
        prev_date = None
        for i in idx:
            date = days["date"].iat[i]
            if prev_date is not None and (date - prev_date).days > 1:
                runs = {}  # a calendar gap with no data at all breaks the run
            if days["sufficient"].iat[i]:
                runs = {k: runs.get(k, 0) + 1 for k in kinds[i]}
            prev_date = date
            run_lengths[i] = max(runs.values(), default=0)
            night_runs[i] = max((n for k, n in runs.items() if is_night_kind(k, config)), default=0)
    days = days.copy()
    days["pattern_days"] = run_lengths
    # an alert is a statement about a day with data: a run carried over days without data does
    # not make them alert days (a week without the watch after two deviant nights is not 7 alerts).
    # A sustained fall over several nights alerts by itself only with `sustained_fall_alerts`.
    sufficient = days["sufficient"].to_numpy(bool)
    sustained = days["vitals_sustained"].to_numpy(bool) & config.sustained_fall_alerts
    days["alert"] = ((run_lengths >= config.alert_consecutive_days) | sustained) & sufficient
    # ... and known when that day's night ends, when the run is of a night-time vital (verdict.carry_pattern)
    days["alert_at_night"] = ((night_runs >= config.alert_consecutive_days) | sustained) & sufficient
    return days


def is_night_kind(kind: str, config: PatternConfig) -> bool:
    """Is this kind of day evidence (`_evidence_kinds`) a night's reading, known when the night ends?
    Not a day-time vital, not the model's whole-day score."""
    return kind not in config.daytime_signals and kind not in ("model", "day")


def _evidence_kinds(days: pd.DataFrame, model_days: bool = True) -> list[set[str]]:
    """Per day: the kinds of evidence that make it anomalous ("model" when `model_days`, vital names;
    empty: normal, or anomalous by the model's day score alone when that is not multi-day evidence)."""
    anomalous = days["is_anomalous_day"].to_numpy(bool)
    if "vitals_deviant_signals" not in days:
        return [{"day"} if a else set() for a in anomalous]
    model = days["model_anomalous"].to_numpy(bool)
    sustained = days["vitals_sustained"].to_numpy(bool) if "vitals_sustained" in days else np.zeros(len(days), bool)
    out = []
    for a, m, s, names in zip(anomalous, model, sustained, days["vitals_deviant_signals"].fillna("").to_numpy()):
        kinds = {k for k in str(names).split(",") if k} | ({"model"} if m and model_days else set())
        if s:
            kinds.add("sustained")  # a sustained fall: its own evidence, run by run
        out.append(kinds if a else set())
    return out


def trend_of(shares: np.ndarray, config: PatternConfig = PatternConfig()) -> tuple[str, float]:
    """Least-squares slope of the daily score; rising / falling / stable."""
    shares = np.asarray(shares, dtype=np.float64)
    shares = shares[np.isfinite(shares)]
    if len(shares) < 3:
        return "stable", 0.0
    x = np.arange(len(shares), dtype=np.float64)
    slope = float(np.polyfit(x, shares, 1)[0])
    if slope > config.trend_slope_threshold:
        return "rising", slope
    if slope < -config.trend_slope_threshold:
        return "falling", slope
    return "stable", slope


def daily_pattern_table(end_times, is_anomaly, is_night, is_resting, user_ids=None,
                        config: PatternConfig = PatternConfig(), scores=None,
                        nights: pd.DataFrame | None = None, limited=None) -> pd.DataFrame:
    """The per-day table with run length (`pattern_days`) and `alert` per day, for every user."""
    return with_runs(daily_table(end_times, is_anomaly, is_night, is_resting, user_ids, config, scores, nights,
                                 limited), config)


def summarize_pattern(days: pd.DataFrame, config: PatternConfig = PatternConfig()) -> dict:
    """The pattern result of one user's days (architecture.md §5 shape), latest day last."""
    if "pattern_days" not in days:
        days = with_runs(days, config)
    sufficient = days[days["sufficient"]]
    trend, slope = trend_of(sufficient["day_score"].to_numpy(), config)
    consecutive = int(days["pattern_days"].iat[-1]) if len(days) else 0
    longest = int(days["pattern_days"].max()) if len(days) else 0
    return {
        "days": [{
            "date": d.date.strftime("%Y-%m-%d"), "windows": int(d.windows),
            "anomalous_windows": int(d.anomalous_windows), "anomaly_share": round(float(d.anomaly_share), 4),
            "weighted_share": round(float(d.weighted_share), 4), "day_score": round(float(d.day_score), 4),
            "reference_score": None if np.isnan(d.reference_score) else round(float(d.reference_score), 4),
            "sufficient": bool(d.sufficient),
            "limited_channels": bool(d.limited_channels),
            "model_anomalous": bool(d.model_anomalous), "vitals_flags": d.vitals_flags,
            "is_anomalous_day": bool(d.is_anomalous_day)} for d in days.itertuples()],
        "consecutive_anomalous_days": consecutive,
        "longest_anomalous_run": longest,
        "trend": trend,
        "trend_slope": round(slope, 5),
        "alert": bool(days["alert"].any()) if len(days) else False,
        "alert_dates": [d.strftime("%Y-%m-%d") for d in days.loc[days["alert"], "date"]] if len(days) else [],
        "pattern_days": longest,
        "config": asdict(config),
    }
