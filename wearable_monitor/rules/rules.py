"""One small function per rule of the rules document.

Each rule takes a `Context` (one user's cleaned, contiguous daily frame and the
user's effective config) and returns `Finding`s for every day on which it
fires, causally (a finding dated t uses data up to t only; a finding awaiting
confirmation is dated at the confirming reading). At the last day it also says
whether it had enough data (`insufficient_data`), so that silence means "looked
and found nothing", never "could not look".

Thresholds come from the config only. Sensitivity s (1 = as configured, < 1 =
less sensitive: from feedback and from sparse data) scales them: an "at or
above t" threshold becomes t / s, an "at or below t" one becomes t * s.
"""
from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
import pandas as pd

from .config import SEVERITIES, Confirm, PersonalRange
from .finding import AWAITING, DATA_PROBLEM, Context, Finding
from .logs import bedtime_hours
from .reference import bmi, bmi_category, body_fat_category, body_fat_range, bp_category, target_zone
from .stats import (compare, exceeds_above, exceeds_below, last_logged_window, linear_trend, next_valid,
                    prior_robust, prior_stats, reached_above, reached_below, rolling_slope, streaks)

CONFIRMED, REFUTED, OPEN, EXPIRED, URGENT = 1, 2, 3, 4, 5


# ---------------------------------------------------------------- helpers

def ladder_rank(x: np.ndarray, ladder: dict[str, float | np.ndarray], above: bool,
                strict: Collection[str] = ()) -> np.ndarray:
    """Index in SEVERITIES of the highest level reached by each x (-1: none, NaN: none).
    Levels named in `strict` must be exceeded (the document's ">" / "<"); the others are reached
    at equality (">=", a severity table's lower bound). A threshold may be a per-day array."""
    x = np.asarray(x, dtype=np.float64)
    rank = np.full(x.shape, -1, dtype=np.int64)
    finite = np.isfinite(x)
    for sev, t in ladder.items():
        hit = compare(x, t, above, sev in strict) & finite
        rank = np.where(hit, np.maximum(rank, SEVERITIES.index(sev)), rank)
    return rank


def sev_name(rank: int) -> str:
    return SEVERITIES[int(rank)]


def sparse_choice(short: pd.DataFrame, long: pd.DataFrame, key: str, s: float, sparse_s: float):
    """Use the normal window where it has enough data, else the lengthened one at lower sensitivity."""
    sparse = short[key].isna() & long[key].notna()
    chosen = short.where(~sparse, long)
    sens = np.where(sparse.to_numpy(), s * sparse_s, s)
    return chosen, sens, sparse.to_numpy()


def confirmation(trig: np.ndarray, valid: np.ndarray, supports: Callable[[np.ndarray, np.ndarray], np.ndarray],
                 cfg: Confirm, last: int, urgent: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Secondary verification ("等待后续数据确认"), shared by every rule and by the spike cleaner:
    each triggered reading i waits for the next logged reading j within `within_days`. Returns
    (state, j) per position: CONFIRMED (j supports i: still abnormal the same way), REFUTED (j
    contradicts i: likely a measurement error), OPEN (still waiting), EXPIRED (no reading came in
    time; reported, marked unconfirmed, on the deadline).

    Safety first: an `urgent` reading (in a clinically dangerous range) is never held and never
    thrown out: unless a follow-up already confirmed it, its state is URGENT (reported at once,
    unconfirmed; `at` = the follow-up if one came, else i)."""
    n = len(trig)
    state = np.zeros(n, dtype=np.int64)
    at = np.full(n, -1, dtype=np.int64)
    i = np.flatnonzero(trig)
    if not cfg.enabled:
        state[i], at[i] = CONFIRMED, i
        return state, at
    j = next_valid(valid)[i]
    has = (j < n) & (j - i <= cfg.within_days)
    ok = np.zeros(len(i), dtype=bool)
    ok[has] = supports(i[has], j[has])
    state[i[has & ok]], at[i[has & ok]] = CONFIRMED, j[has & ok]
    state[i[has & ~ok]], at[i[has & ~ok]] = REFUTED, j[has & ~ok]
    still_open = ~has & (last - i < cfg.within_days)
    state[i[still_open]], at[i[still_open]] = OPEN, i[still_open]
    expired = ~has & ~still_open
    state[i[expired]], at[i[expired]] = EXPIRED, i[expired] + cfg.within_days
    # a reading that confirmed the one before it is part of a confirmed run, whatever follows it
    # (the last day of a two-day rise is not "refuted" by the return to normal)
    confirmers = np.unique(at[state == CONFIRMED])
    confirmers = confirmers[(confirmers >= 0) & (confirmers < n)]
    run = confirmers[trig[confirmers] & (state[confirmers] != CONFIRMED)]
    state[run], at[run] = CONFIRMED, run
    if urgent is not None:
        u = i[np.asarray(urgent, dtype=bool)[i] & (state[i] != CONFIRMED)]
        j_u = next_valid(valid)[u]
        state[u] = URGENT
        at[u] = np.where((j_u < n) & (j_u - u <= cfg.within_days), j_u, u)  # the follow-up, if one came
    return state, at


def two_sided_confirmation(high: np.ndarray, low: np.ndarray, valid: np.ndarray, cfg: Confirm, last: int,
                           urgent: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A reference range with a ladder on each side (blood pressure, resting HR): per reading the
    rank (-1: in range or not valid) and side (+1 high, -1 low), confirmed by the next reading
    being still out of range on the same side. Returns (rank, side, state, at), see `confirmation`."""
    rank = np.where(valid, np.maximum(high, low), -1)
    side = np.where(high >= low, 1, -1)
    supports = lambda i, j: (rank[j] >= 0) & (side[j] == side[i])  # the next reading is out of range too
    state, at = confirmation(rank >= 0, valid, supports, cfg, last, urgent)
    return rank, side, state, at


def keeps_deviation(x: np.ndarray, ref: np.ndarray, keep: float, still_abnormal: np.ndarray | float | None = None
                    ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The next reading j supports i when it deviates from i's reference in the same direction by
    at least `keep` of i's deviation (a real change persists; a mis-reading does not), or when it
    is still abnormal by itself: its deviation from i's reference still reaches i's trigger
    (`still_abnormal`, per position or scalar). A still-abnormal follow-up confirms, never refutes."""
    trig_dev = None if still_abnormal is None else np.broadcast_to(np.asarray(still_abnormal, dtype=np.float64),
                                                                  np.shape(x))

    def supports(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        dev_i, dev_j = x[i] - ref[i], x[j] - ref[i]
        need = keep * np.abs(dev_i)
        if trig_dev is not None:
            need = np.fmin(need, trig_dev[i])
        return (np.sign(dev_j) == np.sign(dev_i)) & reached_above(np.abs(dev_j), need)
    return supports


def emit_confirmed(ctx: Context, rule: str, metric: str, state: np.ndarray, at: np.ndarray, rank: np.ndarray,
                   x: np.ndarray, evidence: Callable[[int], dict], dangerous: np.ndarray | None = None
                   ) -> list[Finding]:
    """Findings from confirmation states. An episode is the abnormal readings: it starts at the
    triggering reading (never at the baseline window before it) and ends at the confirming one.
    A reading in a dangerous range is marked `dangerous_range` (the store never holds it back)."""
    out = []
    for i in np.flatnonzero(state):
        ev = evidence(int(i))
        if dangerous is not None and dangerous[i]:
            ev["dangerous_range"] = True
        st, j = state[i], int(at[i])
        if st in (CONFIRMED, EXPIRED):
            ev.update(confirmed=bool(st == CONFIRMED), reading_date=ctx.dates[i])
            if st == CONFIRMED and j != i:
                ev["confirming_value"] = x[j]
            out.append(ctx.finding(rule, metric, sev_name(rank[i]), int(i), j, x[i], ev))
        elif st == URGENT:
            ev.update(confirmed=False, urgent=True, re_measure=True, reading_date=ctx.dates[i])
            if j != i:
                ev.update(follow_up_value=x[j], follow_up_date=ctx.dates[j], follow_up="back_in_range")
            out.append(ctx.finding(rule, metric, sev_name(rank[i]), int(i), int(i), x[i], ev))
        elif st == OPEN:
            out.append(ctx.finding(rule, metric, sev_name(rank[i]), int(i), int(i), x[i], ev, AWAITING))
        else:
            ev.update(reason="not_confirmed", contradicting_value=x[j], reading_date=ctx.dates[i])
            out.append(ctx.finding(rule, metric, None, int(i), j, x[i], ev, DATA_PROBLEM))
    return out


def window_count(s: pd.Series, days: int) -> int:
    """Logged values in the last `days` days (up to the last day)."""
    return int(s.iloc[-days:].count())


def history_gate(ctx: Context, rule: str, metrics: str | tuple[str, ...], out: list[Finding], metric_name: str
                 ) -> np.ndarray:
    """The document's minimum data ("最小数据要求": weight 7 days, blood pressure 5 measurements)
    for every rule reading the metric: per day, whether enough readings have been logged so far
    (today included). Reports `insufficient_data` at the last day when not."""
    ms = (metrics,) if isinstance(metrics, str) else metrics
    need = max(ctx.history_need(m) for m in ms)
    have = ctx.history_count(ms)
    if len(have) and have[-1] < need and need > 1:
        out.append(ctx.insufficient(rule, metric_name, int(have[-1]), need, len(have),
                                    f"{need} {' and '.join(ms)} readings logged (the document's minimum data)"))
    return have >= need


def personal_threshold(ctx: Context, metric: str, pr: PersonalRange, side: str, population: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The document's personal normal range ("个人差异: 个人正常范围, 学习个人模式"), for one side of a
    range rule. Learned per day from the `window_days` before it (today excluded): when the person
    has >= `min_points` readings there, their robust sd (MAD x 1.4826) is <= `max_sd` (stable), and
    their median lies beyond the population threshold on this side, the threshold moves to
    median -/+ max(k_sd x robust sd, min_band) (only ever away from normal, never towards it).
    Returns (threshold per day, learned per day). Dangerous readings fire regardless (safety)."""
    n = len(ctx.days)
    thr = np.full(n, float(population))
    learned = np.zeros(n, dtype=bool)
    if not pr.enabled or side not in pr.sides or metric not in pr.max_sd:
        return thr, learned
    base = prior_robust(ctx.days[metric], pr.window_days, pr.min_points)
    med, sd = base["median"].to_numpy(), base["sd"].to_numpy()
    band = np.maximum(pr.k_sd * sd, pr.min_band.get(metric, 0.0))
    stable = np.isfinite(med) & np.isfinite(sd) & (sd <= pr.max_sd[metric])
    if side == "low":
        learned = stable & (med < population)
        thr = np.where(learned, np.minimum(population, med - band), population)
    else:
        learned = stable & (med > population)
        thr = np.where(learned, np.maximum(population, med + band), population)
    return thr, learned


def range_side(ctx: Context, metric: str, x: np.ndarray, ladder: dict[str, float], above: bool,
               pr: PersonalRange, k: float) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each reading on one side of a reference range: the document's closed normal range
    (a value equal to a bound is normal, fires strictly beyond it), the first level possibly
    replaced by the person's learned threshold. Returns (rank, learned)."""
    first = min(ladder, key=SEVERITIES.index)
    thr, learned = personal_threshold(ctx, metric, pr, "high" if above else "low", ladder[first])
    lad: dict[str, float | np.ndarray] = dict(ladder)
    if len(ladder) > 1:  # a learned first level never passes the next level
        nxt = ladder[sorted(ladder, key=SEVERITIES.index)[1]]
        thr = np.minimum(thr, nxt) if above else np.maximum(thr, nxt)
    lad[first] = thr
    # the normal range's bound is strict; higher levels (ESC / AHA grades) are reached at equality
    rank = ladder_rank(x * k if above else x / k, lad, above, strict={first})
    return rank, learned


# ---------------------------------------------------------------- 1. sudden change (3 sigma)

def sudden_change(ctx: Context) -> list[Finding]:
    """|x - mean of the previous 30 days| > 3 sd (strict, the document's ">"); severity table
    3-3.5 MEDIUM, >= 3.5 HIGH, >= 4 CRITICAL."""
    c, rule = ctx.cfg.rules.sudden_change, "sudden_change"
    md = ctx.cfg.missing_data
    out: list[Finding] = []
    first = min(c.sigma, key=SEVERITIES.index)
    for metric in c.metrics:
        s = ctx.days[metric]
        need = c.min_points_for(metric)
        long_days = int(round(c.window_days * md.sparse_window_factor))
        st, sens, sparse = sparse_choice(prior_stats(s, c.window_days, need), prior_stats(s, long_days, need),
                                         "mean", ctx.sens(rule), md.sparse_sensitivity)
        x = s.to_numpy(dtype=np.float64)
        mean, n = st["mean"].to_numpy(), st["n"].to_numpy()
        std = np.maximum(st["std"].to_numpy(), c.min_std_for(metric))
        sigma = np.abs(x - mean) / np.where(std > 0, std, np.nan)
        rank = ladder_rank(sigma * sens, c.sigma, above=True, strict={first})
        danger = ctx.danger_rank(metric, x)
        state, at = confirmation(rank >= 0, np.isfinite(x),
                                 keeps_deviation(x, mean, c.confirm.keep_fraction, c.sigma[first] * std / sens),
                                 c.confirm, ctx.last, urgent=danger >= 0)
        win = np.where(sparse, long_days, c.window_days)

        def evidence(i: int) -> dict:
            return {"mean": mean[i], "std": std[i], "sigma": sigma[i], "n": int(n[i]), "window_days": int(win[i]),
                    "direction": "up" if x[i] > mean[i] else "down", "sparse_window": bool(sparse[i]),
                    "sensitivity": float(sens[i]), "baseline_start": ctx.dates[max(0, i - int(win[i]))]}

        out += emit_confirmed(ctx, rule, metric, state, at, rank, x, evidence, danger >= 0)
        # enough baseline? For a reading today: the readings before it (today excluded); else the
        # readings a reading tomorrow would be compared with
        last_logged = bool(len(x)) and bool(np.isfinite(x[-1]))
        have = window_count(s.iloc[:-1] if last_logged else s, long_days)
        if have < need:
            out.append(ctx.insufficient(rule, metric, have, need, long_days,
                                        f"{need} earlier readings in {long_days} days (today's not counted)"))
    return out


# ---------------------------------------------------------------- 2. weight

def weight_daily_change(ctx: Context) -> list[Finding]:
    """|today - yesterday| > 2 kg (strict); the document's severities: "2-3kg" MEDIUM, "3-5kg" HIGH
    (3 and 5 included), "> 5kg" CRITICAL (strict)."""
    c, rule = ctx.cfg.rules.weight_daily_change, "weight_daily_change"
    s = ctx.days["weight_kg"]
    x = s.to_numpy(dtype=np.float64)
    out: list[Finding] = []
    enough = history_gate(ctx, rule, "weight_kg", out, "weight_kg")
    # previous logged reading within max_gap_days ("yesterday", lengthened when a day is missing)
    prev = s.shift(1).ffill(limit=c.max_gap_days - 1).to_numpy()
    prev_pos = pd.Series(np.where(np.isfinite(x), np.arange(len(x)), np.nan)).shift(1).ffill().to_numpy()
    delta = x - prev
    k = ctx.sens(rule)
    first = min(c.severity, key=SEVERITIES.index)
    strict = {first, "CRITICAL"}
    rank = np.where(enough, ladder_rank(np.abs(delta) * k, c.severity, above=True, strict=strict), -1)
    state, at = confirmation(rank >= 0, np.isfinite(x),
                             keeps_deviation(x, prev, c.confirm.keep_fraction, c.severity[first] / k),
                             c.confirm, ctx.last)

    def evidence(i: int) -> dict:
        return {"previous": prev[i], "change_kg": delta[i], "previous_date": ctx.dates[int(prev_pos[i])]}

    out += emit_confirmed(ctx, rule, "weight_kg", state, at, rank, x, evidence)
    have = window_count(s, c.max_gap_days + 1)
    if have < 2:
        out.append(ctx.insufficient(rule, "weight_kg", have, 2, c.max_gap_days + 1,
                                    f"2 weigh-ins at most {c.max_gap_days} days apart"))
    return out


def weight_weekly_change(ctx: Context) -> list[Finding]:
    """Change against a week earlier > weeklyChange (strict, as the daily rule's "> 2 kg")."""
    c, rule = ctx.cfg.rules.weight_weekly_change, "weight_weekly_change"
    s = ctx.days["weight_kg"]
    x = s.to_numpy(dtype=np.float64)
    out: list[Finding] = []
    enough = history_gate(ctx, rule, "weight_kg", out, "weight_kg")
    # reference: median of the readings one week earlier (+-1 day, so one missed day does not blind it)
    ref = s.shift(c.days - 1).rolling(3, min_periods=1).median().to_numpy()
    n = s.rolling(c.days + 1, min_periods=1).count().to_numpy()
    change = x - ref
    hit = (exceeds_above(np.abs(change) * ctx.sens(rule), c.limit_kg) & (n >= c.min_points) & np.isfinite(change)
           & enough)
    out += [ctx.finding(rule, "weight_kg", c.severity, i - c.days, i, x[i],
                        {"reference_kg": ref[i], "change_kg": change[i], "limit_kg": c.limit_kg, "n": int(n[i])})
            for i in np.flatnonzero(hit)]
    have = window_count(s, c.days + 1)
    if have < c.min_points or not np.isfinite(ref[-1]):
        out.append(ctx.insufficient(rule, "weight_kg", have, c.min_points, c.days + 1,
                                    f"{c.min_points} weigh-ins in {c.days + 1} days incl. one a week ago"))
    return out


# ---------------------------------------------------------------- blood pressure and resting heart rate ranges

def blood_pressure_range(ctx: Context) -> list[Finding]:
    """Outside the document's closed normal ranges (systolic 90-140, diastolic 60-90): high side
    from the medical reference's ">= 140 / >= 90" (stage 2), low side strictly below 90 / 60."""
    c, rule, ref = ctx.cfg.rules.blood_pressure_range, "blood_pressure_range", ctx.cfg.reference
    s_sys, s_dia = ctx.days["systolic"], ctx.days["diastolic"]
    sy, di = s_sys.to_numpy(dtype=np.float64), s_dia.to_numpy(dtype=np.float64)
    k = ctx.sens(rule)
    out: list[Finding] = []
    enough = history_gate(ctx, rule, ("systolic", "diastolic"), out, "blood_pressure")
    high = np.maximum(ladder_rank(sy * k, c.systolic_high, True), ladder_rank(di * k, c.diastolic_high, True))
    lo_s, learned_s = range_side(ctx, "systolic", sy, c.systolic_low, False, c.personal_range, k)
    lo_d, learned_d = range_side(ctx, "diastolic", di, c.diastolic_low, False, c.personal_range, k)
    low = np.maximum(lo_s, lo_d)
    d_high = np.maximum(ctx.danger_rank("systolic", sy, "high"), ctx.danger_rank("diastolic", di, "high"))
    d_low = np.maximum(ctx.danger_rank("systolic", sy, "low"), ctx.danger_rank("diastolic", di, "low"))
    danger = np.maximum(d_high, d_low)
    valid = np.isfinite(sy) & np.isfinite(di)
    # minimum data, except for a dangerous reading; which fires at least at the safety severity,
    # whatever the (personal) ladder says
    high = np.maximum(np.where(enough, high, -1), d_high)
    low = np.maximum(np.where(enough, low, -1), d_low)
    rank, side, state, at = two_sided_confirmation(high, low, valid, c.confirm, ctx.last, urgent=danger >= 0)

    def evidence(i: int) -> dict:
        return {"systolic": sy[i], "diastolic": di[i], "category": bp_category(sy[i], di[i], ref),
                "direction": "high" if side[i] > 0 else "low",
                "personal_range_learned": bool(learned_s[i] or learned_d[i])}

    out += emit_confirmed(ctx, rule, "blood_pressure", state, at, rank, sy, evidence, danger >= 0)
    have = int((s_sys.iloc[-c.recent_days:].notna() & s_dia.iloc[-c.recent_days:].notna()).sum())
    if have < 1:
        out.append(ctx.insufficient(rule, "blood_pressure", have, 1, c.recent_days,
                                    f"a blood-pressure reading in the last {c.recent_days} days"))
    return out


def resting_hr_range(ctx: Context) -> list[Finding]:
    """Outside the document's closed resting range (heartRate.resting 50-100): fires strictly
    beyond it; the low side uses the person's learned range when they are stably below 50."""
    c, rule = ctx.cfg.rules.resting_hr_range, "resting_hr_range"
    s = ctx.days["resting_hr"]
    x = s.to_numpy(dtype=np.float64)
    k = ctx.sens(rule)
    out: list[Finding] = []
    enough = history_gate(ctx, rule, "resting_hr", out, "resting_hr")
    high, learned_hi = range_side(ctx, "resting_hr", x, c.high, True, c.personal_range, k)
    low, learned_lo = range_side(ctx, "resting_hr", x, c.low, False, c.personal_range, k)
    d_high, d_low = ctx.danger_rank("resting_hr", x, "high"), ctx.danger_rank("resting_hr", x, "low")
    danger = np.maximum(d_high, d_low)
    high = np.maximum(np.where(enough, high, -1), d_high)
    low = np.maximum(np.where(enough, low, -1), d_low)
    rank, side, state, at = two_sided_confirmation(high, low, np.isfinite(x), c.confirm, ctx.last,
                                                   urgent=danger >= 0)
    lo, hi = ctx.cfg.reference.resting_hr_normal
    pthr_lo = personal_threshold(ctx, "resting_hr", c.personal_range, "low", c.low[min(c.low, key=SEVERITIES.index)])[0]
    out += emit_confirmed(ctx, rule, "resting_hr", state, at, rank, x,
                          lambda i: {"direction": "high" if side[i] > 0 else "low", "reference_range": [lo, hi],
                                     "personal_range_learned": bool(learned_lo[i] or learned_hi[i]),
                                     "low_threshold": float(pthr_lo[i])}, danger >= 0)
    have = window_count(s, c.recent_days)
    if have < 1:
        out.append(ctx.insufficient(rule, "resting_hr", have, 1, c.recent_days,
                                    f"a resting heart rate in the last {c.recent_days} days"))
    return out


# ---------------------------------------------------------------- 3. nutrition

def _streak_ratio(ctx: Context, rule: str) -> list[Finding]:
    """protein_low / protein_high / calories_high / calories_low: value vs target, n logged days in a row."""
    c = ctx.cfg.rule(rule)
    v, t = ctx.days[c.value], ctx.days[c.target]
    ratio = v / t
    valid = ratio.notna()
    k = ctx.sens(rule)
    # the document: protein "< 50 %", calories "> 130 %"; min/maxRatio bound a closed normal range
    cond = (exceeds_below(ratio, c.ratio * k) if c.direction == "below" else exceeds_above(ratio, c.ratio / k))
    end, start = streaks(pd.Series(cond, index=ratio.index), valid, c.days, c.max_missing_days)
    r = ratio.to_numpy()
    out = []
    for i in np.flatnonzero(end):
        days = r[start[i]:i + 1]
        out.append(ctx.finding(rule, c.value, c.severity, int(start[i]), int(i), r[i],
                               {"ratios": days[np.isfinite(days)].tolist(), "threshold_ratio": c.ratio,
                                "target": t.iloc[i], "logged_days": c.days}))
    span = c.days + c.max_missing_days
    have = int(valid.iloc[-span:].sum())
    if have < c.days:
        out.append(ctx.insufficient(rule, c.value, have, c.days, span,
                                    f"{c.days} days with {c.value} and {c.target} logged"))
    return out


def protein_low(ctx: Context) -> list[Finding]:
    return _streak_ratio(ctx, "protein_low")


def protein_high(ctx: Context) -> list[Finding]:
    return _streak_ratio(ctx, "protein_high")


def calories_high(ctx: Context) -> list[Finding]:
    return _streak_ratio(ctx, "calories_high")


def calories_low(ctx: Context) -> list[Finding]:
    return _streak_ratio(ctx, "calories_low")


def macro_imbalance(ctx: Context) -> list[Finding]:
    """Energy shares of carbs / protein / fat over the last n complete days vs the recommended split;
    fires when any share is off by >= max_relative_deviation of its recommended value."""
    c, rule = ctx.cfg.rules.macro_imbalance, "macro_imbalance"
    names = ("carbs", "protein", "fat")
    grams = ctx.days[["carbs_g", "protein_g", "fat_g"]].to_numpy(dtype=np.float64)
    kcal = grams * np.array([c.kcal_per_g[m] for m in names])
    complete = pd.Series(np.isfinite(kcal).all(axis=1) & (np.nansum(kcal, axis=1) > 0), index=ctx.dates)
    first = last_logged_window(complete, c.days)
    idx = np.flatnonzero(complete.to_numpy())
    # energy sums over the last n complete days (cumulative sums over complete days only)
    csum = np.cumsum(np.where(complete.to_numpy()[:, None], kcal, 0.0), axis=0)
    csum = np.vstack([np.zeros((1, 3)), csum])
    rec = np.array([c.recommended_energy_share[m] for m in names])
    out = []
    k = ctx.sens(rule)
    for i in idx:
        f = first[i]
        if f < 0 or i - f >= c.days + c.max_missing_days:
            continue
        tot = csum[i + 1] - csum[f]
        share = tot / tot.sum()
        dev = np.abs(share - rec) / rec
        worst = int(np.argmax(dev))
        if exceeds_above(dev[worst] * k, c.max_relative_deviation):  # "超过30%": strictly more
            out.append(ctx.finding(rule, "macros", c.severity, int(f), int(i), float(dev[worst]),
                                   {"energy_share": dict(zip(names, share.tolist())),
                                    "recommended": dict(c.recommended_energy_share),
                                    "worst": names[worst], "relative_deviation": float(dev[worst]),
                                    "limit": c.max_relative_deviation}))
    span = c.days + c.max_missing_days
    have = int(complete.iloc[-span:].sum())
    if have < c.days:
        out.append(ctx.insufficient(rule, "macros", have, c.days, span, f"{c.days} complete nutrition days"))
    return out


# ---------------------------------------------------------------- 4. exercise

def _exercise_baseline(ctx: Context, s: pd.Series, shift: int, days: int, min_points: int, rule: str):
    md = ctx.cfg.missing_data
    long_days = int(round(days * md.sparse_window_factor))
    short = prior_stats(s.shift(shift - 1), days, min_points)
    long = prior_stats(s.shift(shift - 1), long_days, min_points)
    st, sens, sparse = sparse_choice(short, long, "mean", ctx.sens(rule), md.sparse_sensitivity)
    return st, sens, sparse, long_days


def exercise_drop(ctx: Context) -> list[Finding]:
    c, rule = ctx.cfg.rules.exercise_drop, "exercise_drop"
    s = ctx.days["exercise_minutes"]
    recent = s.rolling(c.recent_days, min_periods=1)
    rmean, rn = recent.mean().to_numpy(), recent.count().to_numpy()
    base, sens, sparse, long_days = _exercise_baseline(ctx, s, c.recent_days, c.baseline_days,
                                                       c.min_baseline_points, rule)
    bmean = base["mean"].to_numpy()
    ok = (rn >= c.min_recent_points) & (bmean >= c.min_baseline_minutes)
    ratio = rmean / np.where(bmean > 0, bmean, np.nan)
    hit = ok & exceeds_below(ratio / sens, c.ratio)  # "< 历史平均 × 50%"
    out = [ctx.finding(rule, "exercise_minutes", c.severity, max(0, i - c.recent_days + 1), i, rmean[i],
                       {"recent_mean": rmean[i], "baseline_mean": bmean[i], "ratio": ratio[i],
                        "baseline_days": int(long_days if sparse[i] else c.baseline_days),
                        "sparse_window": bool(sparse[i])})
           for i in np.flatnonzero(hit)]
    if not (rn[-1] >= c.min_recent_points and np.isfinite(bmean[-1])):
        have = int(min(rn[-1], base["n"].iloc[-1]))
        out.append(ctx.insufficient(rule, "exercise_minutes", have, c.min_baseline_points,
                                    c.recent_days + long_days,
                                    f"{c.min_recent_points}/{c.recent_days} recent and {c.min_baseline_points} "
                                    f"baseline days"))
    return out


def exercise_surge(ctx: Context) -> list[Finding]:
    c, rule = ctx.cfg.rules.exercise_surge, "exercise_surge"
    s = ctx.days["exercise_minutes"]
    base, sens, sparse, long_days = _exercise_baseline(ctx, s, c.days + c.max_missing_days, c.baseline_days,
                                                       c.min_baseline_points, rule)
    bmean = base["mean"].to_numpy()
    ratio = (s / base["mean"].where(base["mean"] >= c.min_baseline_minutes)).to_numpy()
    valid = s.notna()
    # each of the last n logged days >= ratio x the baseline before them
    cond = pd.Series(exceeds_above(ratio * sens, c.ratio), index=s.index)  # "> 历史平均 × 200%"
    # compare every streak day with the baseline of the streak's *last* day (one reference per streak)
    end, start = streaks(cond, valid, c.days, c.max_missing_days)
    x = s.to_numpy()
    out = []
    for i in np.flatnonzero(end):
        days = x[start[i]:i + 1]
        days = days[np.isfinite(days)]
        if not exceeds_above(days.min() * sens[i], c.ratio * bmean[i]):
            continue
        out.append(ctx.finding(rule, "exercise_minutes", c.severity, int(start[i]), int(i), float(days.mean()),
                               {"days_minutes": days.tolist(), "baseline_mean": bmean[i],
                                "ratio": float(days.min() / bmean[i]), "threshold_ratio": c.ratio}))
    if not np.isfinite(bmean[-1]):
        out.append(ctx.insufficient(rule, "exercise_minutes", int(base["n"].iloc[-1]), c.min_baseline_points,
                                    long_days, f"{c.min_baseline_points} baseline days"))
    return out


def exercise_intensity(ctx: Context) -> list[Finding]:
    """Share of exercise time in the high heart-rate zone, last week vs the person's usual range
    (median +- k robust sd over the weeks before)."""
    c, rule = ctx.cfg.rules.exercise_intensity, "exercise_intensity"
    ex, zone = ctx.days["exercise_minutes"], ctx.days["hr_zone_high_minutes"]
    ok = (ex >= c.min_daily_minutes) & zone.notna()
    share = (zone / ex).where(ok)
    rz = zone.where(ok).rolling(c.recent_days, min_periods=1).sum()
    rx = ex.where(ok).rolling(c.recent_days, min_periods=1).sum()
    rn = ok.rolling(c.recent_days, min_periods=1).sum().to_numpy()
    recent = (rz / rx.where(rx > 0)).to_numpy()
    base = prior_robust(share.shift(c.recent_days - 1), c.baseline_days, c.min_baseline_points)
    med, sd = base["median"].to_numpy(), base["sd"].to_numpy()
    k = ctx.sens(rule)
    band = np.maximum(c.k_sigma * sd, c.min_abs_share)
    diff = recent - med
    hit = (rn >= c.min_recent_points) & reached_above(np.abs(diff) * k, band)
    zone_bpm = target_zone(ctx.age, ctx.cfg.reference) if ctx.age is not None else None
    out = [ctx.finding(rule, "hr_zone_high_share", c.severity, max(0, i - c.recent_days + 1), i, recent[i],
                       {"recent_share": recent[i], "usual_median": med[i], "usual_sd": sd[i], "band": band[i],
                        "direction": "up" if diff[i] > 0 else "down",
                        "target_zone_bpm": list(zone_bpm) if zone_bpm else None})
           for i in np.flatnonzero(hit)]
    if not (rn[-1] >= c.min_recent_points and np.isfinite(med[-1])):
        out.append(ctx.insufficient(rule, "hr_zone_high_share", int(rn[-1]), c.min_recent_points,
                                    c.recent_days + c.baseline_days,
                                    f"{c.min_recent_points} recent and {c.min_baseline_points} baseline exercise days "
                                    f"of >= {c.min_daily_minutes:g} min with zone minutes"))
    return out


# ---------------------------------------------------------------- 5. sleep

def sleep_duration(ctx: Context) -> list[Finding]:
    c, rule = ctx.cfg.rules.sleep_duration, "sleep_duration"
    s = ctx.days["sleep_hours"]
    valid = s.notna()
    k = ctx.sens(rule)
    # the document: "< 5 h" severe, "5-6 h" short (6 h included), "> 10 h" too long
    short = pd.Series(reached_below(s.to_numpy(), c.short_h * k), index=s.index)
    severe = pd.Series(exceeds_below(s.to_numpy(), c.severe_h * k), index=s.index)
    long = pd.Series(exceeds_above(s.to_numpy(), c.long_h / k), index=s.index)
    out = []
    x = s.to_numpy()
    found: dict[int, tuple[str, int]] = {}
    for band, cond in (("short", short), ("severe", severe), ("long", long)):  # severe overrides short
        end, start = streaks(cond, valid, c.days, c.max_missing_days)
        for i in np.flatnonzero(end):
            found[int(i)] = (band, int(start[i]))
    for i, (band, f) in sorted(found.items()):
        nights = x[f:i + 1]
        out.append(ctx.finding(rule, "sleep_hours", c.severity[band], f, i, float(np.nanmean(nights)),
                               {"band": band, "nights_hours": nights[np.isfinite(nights)].tolist(),
                                "threshold_h": {"severe": c.severe_h, "short": c.short_h, "long": c.long_h}[band]}))
    span = c.days + c.max_missing_days
    have = int(valid.iloc[-span:].sum())
    if have < c.days:
        out.append(ctx.insufficient(rule, "sleep_hours", have, c.days, span, f"{c.days} logged nights"))
    return out


def sleep_quality_decline(ctx: Context) -> list[Finding]:
    """The document: quality score "持续下降" over "连续5天": each of n consecutive nights scored lower
    than the night before (strictly), and the total fall > min_total_drop (0: any fall, the document
    names no size)."""
    c, rule = ctx.cfg.rules.sleep_quality_decline, "sleep_quality_decline"
    s = ctx.days["sleep_quality"]
    full = s.rolling(c.days, min_periods=1).count().to_numpy() >= c.days
    max_rise = s.diff().rolling(c.days - 1, min_periods=c.days - 1).max().to_numpy()
    drop = (s.shift(c.days - 1) - s).to_numpy()
    falling = np.nan_to_num(max_rise, nan=np.inf) < 0  # every night lower than the one before
    hit = full & falling & exceeds_above(drop * ctx.sens(rule), c.min_total_drop)
    x = s.to_numpy()
    out = [ctx.finding(rule, "sleep_quality", c.severity, i - c.days + 1, i, x[i],
                       {"nights": x[i - c.days + 1:i + 1].tolist(), "total_drop": drop[i],
                        "slope_per_night": linear_trend(x[i - c.days + 1:i + 1])[0]})
           for i in np.flatnonzero(hit)]
    if not full[-1]:
        out.append(ctx.insufficient(rule, "sleep_quality", window_count(s, c.days), c.days, c.days,
                                    f"{c.days} consecutive nights with a quality score"))
    return out


def bedtime_irregular(ctx: Context) -> list[Finding]:
    c, rule = ctx.cfg.rules.bedtime_irregular, "bedtime_irregular"
    md = ctx.cfg.missing_data

    h = pd.Series(bedtime_hours(ctx.days["bedtime"].to_numpy(), c.day_starts_at_hour), index=ctx.dates)
    long_days = int(round(c.window_days * md.sparse_window_factor))
    st = pd.DataFrame({"std": h.rolling(c.window_days, min_periods=c.min_points).std(),
                       "n": h.rolling(c.window_days, min_periods=1).count()})
    lt = pd.DataFrame({"std": h.rolling(long_days, min_periods=c.min_points).std(),
                       "n": h.rolling(long_days, min_periods=1).count()})
    chosen, sens, sparse = sparse_choice(st, lt, "std", ctx.sens(rule), md.sparse_sensitivity)
    sd = chosen["std"].to_numpy()
    hit = exceeds_above(sd * sens, c.max_std_hours) & h.notna().to_numpy()  # "标准差 > 2小时"
    out = []
    for i in np.flatnonzero(hit):
        w = long_days if sparse[i] else c.window_days
        out.append(ctx.finding(rule, "bedtime", c.severity, max(0, i - w + 1), i, sd[i],
                               {"std_hours": sd[i], "n": int(chosen["n"].iloc[i]), "window_days": w,
                                "limit_hours": c.max_std_hours, "sparse_window": bool(sparse[i])}))
    if not np.isfinite(sd[-1]):
        out.append(ctx.insufficient(rule, "bedtime", int(lt["n"].iloc[-1]), c.min_points, long_days,
                                    f"{c.min_points} bedtimes in {c.window_days} (or {long_days}) days"))
    return out


# ---------------------------------------------------------------- 6. health score

def health_score_drop(ctx: Context) -> list[Finding]:
    """The document: over "连续7天" the score "下降 > 15分": the fall from the first score of the
    n-day window to today's (strictly more than drop_points), with >= min_points scores in the
    window. The fitted slope is reported as evidence, not used: a plunge on the last day counts."""
    c, rule = ctx.cfg.rules.health_score_drop, "health_score_drop"
    s = ctx.days["health_score"]
    x = s.to_numpy(dtype=np.float64)
    n_pts = s.rolling(c.days, min_periods=1).count().to_numpy()
    valid = np.isfinite(x)
    # first logged day at or after the window start (i - days + 1)
    after = np.minimum.accumulate(np.where(valid, np.arange(len(x)), len(x))[::-1])[::-1]
    first = after[np.maximum(0, np.arange(len(x)) - c.days + 1)] if len(x) else np.zeros(0, dtype=np.int64)
    ref = np.where(first < np.arange(len(x)), x[np.minimum(first, max(len(x) - 1, 0))], np.nan)
    drop = ref - x
    tr = rolling_slope(s, c.days, 2)
    hit = exceeds_above(drop * ctx.sens(rule), c.drop_points) & valid & (n_pts >= c.min_points)
    out = [ctx.finding(rule, "health_score", c.severity, int(first[i]), i, x[i],
                       {"drop": drop[i], "from_score": ref[i], "from_date": ctx.dates[int(first[i])],
                        "slope_per_day": tr["slope"].iloc[i], "n": int(n_pts[i]), "limit": c.drop_points})
           for i in np.flatnonzero(hit)]
    have = window_count(s, c.days)
    if have < c.min_points:
        out.append(ctx.insufficient(rule, "health_score", have, c.min_points, c.days,
                                    f"{c.min_points} scores in {c.days} days"))
    return out


def health_score_volatility(ctx: Context) -> list[Finding]:
    c, rule = ctx.cfg.rules.health_score_volatility, "health_score_volatility"
    md = ctx.cfg.missing_data
    d = ctx.days["health_score"].diff()  # day-to-day change (NaN across unlogged days)
    recent = d.rolling(c.recent_days, min_periods=c.min_recent_points).std().to_numpy()
    long_days = int(round(c.baseline_days * md.sparse_window_factor))
    short = prior_stats(d.shift(c.recent_days - 1), c.baseline_days, c.min_baseline_points)
    long = prior_stats(d.shift(c.recent_days - 1), long_days, c.min_baseline_points)
    base, sens, sparse = sparse_choice(short, long, "std", ctx.sens(rule), md.sparse_sensitivity)
    bstd = np.maximum(base["std"].to_numpy(), c.min_baseline_std)
    ratio = recent / bstd
    hit = exceeds_above(ratio * sens, c.ratio)  # "> 历史标准差 × 2"
    out = [ctx.finding(rule, "health_score", c.severity, max(0, i - c.recent_days + 1), i, recent[i],
                       {"recent_change_std": recent[i], "usual_change_std": bstd[i], "ratio": ratio[i],
                        "sparse_window": bool(sparse[i])})
           for i in np.flatnonzero(hit)]
    if not (np.isfinite(recent[-1]) and np.isfinite(base["std"].iloc[-1])):
        out.append(ctx.insufficient(rule, "health_score", int(base["n"].iloc[-1]), c.min_baseline_points,
                                    c.recent_days + long_days,
                                    f"{c.min_recent_points} recent and {c.min_baseline_points} usual day-to-day changes"))
    return out


# ---------------------------------------------------------------- reference classifications as rules

def bmi_category_rule(ctx: Context) -> list[Finding]:
    c, rule, ref = ctx.cfg.rules.bmi_category, "bmi_category", ctx.cfg.reference
    height = ctx.profile.height_cm if ctx.profile else None
    s = ctx.days["weight_kg"]
    med = s.rolling(c.window_days, min_periods=c.min_points).median().to_numpy()
    out: list[Finding] = []
    enough = history_gate(ctx, rule, "weight_kg", out, "bmi")
    if height:
        for i in np.flatnonzero(np.isfinite(med) & s.notna().to_numpy() & enough):
            value = bmi(med[i], height)
            cat = bmi_category(value, ref)
            sev = c.severity.get(cat)
            if sev:
                out.append(ctx.finding(rule, "bmi", sev, max(0, i - c.window_days + 1), i, value,
                                       {"category": cat, "median_weight_kg": med[i], "height_cm": height,
                                        "cutoffs": dict(ref.bmi_cutoffs)}))
    if not height or not np.isfinite(med[-1]):
        out.append(ctx.insufficient(rule, "bmi", window_count(s, c.window_days), c.min_points, c.window_days,
                                    "height in the profile and weigh-ins" if not height else
                                    f"{c.min_points} weigh-ins in {c.window_days} days"))
    return out


def body_fat_category_rule(ctx: Context) -> list[Finding]:
    c, rule, ref = ctx.cfg.rules.body_fat_category, "body_fat_category", ctx.cfg.reference
    sex = ctx.profile.sex if ctx.profile else None
    rng = body_fat_range(sex, ctx.age, ref)
    s = ctx.days["body_fat_pct"]
    med = s.rolling(c.window_days, min_periods=c.min_points).median().to_numpy()
    out = []
    if rng:
        lo, hi = rng
        k = ctx.sens(rule)
        outside = reached_above((med - hi) * k, c.margin_pct) | reached_above((lo - med) * k, c.margin_pct)
        for i in np.flatnonzero(outside & np.isfinite(med) & s.notna().to_numpy()):
            out.append(ctx.finding(rule, "body_fat_pct", c.severity, max(0, i - c.window_days + 1), i, med[i],
                                   {"category": body_fat_category(med[i], sex, ctx.age, ref), "normal_range": [lo, hi],
                                    "sex": sex, "age": ctx.age, "margin_pct": c.margin_pct}))
    if not rng or not np.isfinite(med[-1]):
        out.append(ctx.insufficient(rule, "body_fat_pct", window_count(s, c.window_days), c.min_points,
                                    c.window_days, "sex in the profile and body-fat readings" if not rng else
                                    f"{c.min_points} readings in {c.window_days} days"))
    return out


RULES: dict[str, Callable[[Context], list[Finding]]] = {
    "sudden_change": sudden_change,
    "weight_daily_change": weight_daily_change,
    "weight_weekly_change": weight_weekly_change,
    "blood_pressure_range": blood_pressure_range,
    "resting_hr_range": resting_hr_range,
    "protein_low": protein_low,
    "protein_high": protein_high,
    "calories_high": calories_high,
    "calories_low": calories_low,
    "macro_imbalance": macro_imbalance,
    "exercise_drop": exercise_drop,
    "exercise_surge": exercise_surge,
    "exercise_intensity": exercise_intensity,
    "sleep_duration": sleep_duration,
    "sleep_quality_decline": sleep_quality_decline,
    "bedtime_irregular": bedtime_irregular,
    "health_score_drop": health_score_drop,
    "health_score_volatility": health_score_volatility,
    "bmi_category": bmi_category_rule,
    "body_fat_category": body_fat_category_rule,
}

# which rules a newly logged field can change (on_data_entry runs only these)
RULE_INPUTS: dict[str, tuple[str, ...]] = {
    "sudden_change": ("weight_kg", "systolic", "diastolic", "resting_hr", "body_fat_pct"),
    "weight_daily_change": ("weight_kg",), "weight_weekly_change": ("weight_kg",),
    "blood_pressure_range": ("systolic", "diastolic"), "resting_hr_range": ("resting_hr",),
    "protein_low": ("protein_g", "protein_target_g"), "protein_high": ("protein_g", "protein_target_g"),
    "calories_high": ("calories_kcal", "calories_target"), "calories_low": ("calories_kcal", "calories_target"),
    "macro_imbalance": ("carbs_g", "protein_g", "fat_g"),
    "exercise_drop": ("exercise_minutes",), "exercise_surge": ("exercise_minutes",),
    "exercise_intensity": ("exercise_minutes", "hr_zone_high_minutes"),
    "sleep_duration": ("sleep_hours",), "sleep_quality_decline": ("sleep_quality",), "bedtime_irregular": ("bedtime",),
    "health_score_drop": ("health_score",), "health_score_volatility": ("health_score",),
    "bmi_category": ("weight_kg",), "body_fat_category": ("body_fat_pct",),
}
