"""RuleEngine: personalised rules over daily logs, with data cleaning, episodes and a store.

Flow per user (the document's "异常处理流程"):

1. personalise: defaults <- age group <- sex <- conditions <- medications <- customThresholds
2. clean: implausible values and device inconsistencies are flagged (`data_problem`) and excluded;
   an isolated spike that the next reading contradicts is a measurement error and excluded too
3. run the rules (rules.py) with the feedback-adjusted sensitivity of each rule
4. merge day-by-day triggers of one rule into episodes; store them (no duplicates, cooldown);
   new or escalated episodes become notifications

`on_data_entry` does this for one new log (relevant rules only); `run_scheduled` is the
periodic batch job (the document runs it every 6 hours; the scheduler itself is cron's job).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import ConfigError
from .config import RulesConfig, deep_merge, parse_rules_config, read_rules_dict
from .finding import AWAITING, DATA_PROBLEM, FINDING, INSUFFICIENT, Context, Finding, danger_mask
from .logs import DailyLog, UserProfile, logs_to_frame, normalise_frame, user_days
from .notifications import to_notification
from .reference import age_of, named_age_group
from .rules import REFUTED, RULE_INPUTS, RULES, confirmation, keeps_deviation
from .stats import prior_median
from .store import FindingStore

log = logging.getLogger(__name__)
DATA_QUALITY = "data_quality"

# the rules document's AnomalyThresholds interface -> keys of rules_config.json (customThresholds may use either)
DOC_ALIASES: dict[str, str] = {
    "weight.dailyChange": "rules.weight_daily_change.severity.MEDIUM",
    "weight.weeklyChange": "rules.weight_weekly_change.limit_kg",
    "bloodPressure.systolic.max": "rules.blood_pressure_range.systolic_high.MEDIUM",
    "bloodPressure.systolic.min": "rules.blood_pressure_range.systolic_low.MEDIUM",
    "bloodPressure.diastolic.max": "rules.blood_pressure_range.diastolic_high.MEDIUM",
    "bloodPressure.diastolic.min": "rules.blood_pressure_range.diastolic_low.MEDIUM",
    "heartRate.resting.max": "rules.resting_hr_range.high.MEDIUM",
    "heartRate.resting.min": "rules.resting_hr_range.low.MEDIUM",
    "nutrition.protein.minRatio": "rules.protein_low.ratio",
    "nutrition.protein.maxRatio": "rules.protein_high.ratio",
    "nutrition.calories.minRatio": "rules.calories_low.ratio",
    "nutrition.calories.maxRatio": "rules.calories_high.ratio",
}
_DOC_ROOTS = {"weight", "bloodPressure", "heartRate", "nutrition"}


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _nest(flat: dict[str, Any]) -> dict:
    out: dict = {}
    for path, v in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out


def _get(d: dict, path: str) -> Any:
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def translate_custom(custom: dict, user_id: str, current: dict | None = None) -> dict:
    """customThresholds in the document's shape (weight.dailyChange, ...) -> config keys.
    A document-shaped key without a daily-log counterpart is an error, not silently ignored.

    A document key names one number (`weight.dailyChange: 3.0`: "alert above 3 kg"); where the
    engine grades it with a severity ladder (2 / 3 / 5 kg), the number moves the ladder's first
    level and the higher levels move in proportion (3.0 on 2/3/5 -> 3/4.5/7.5; on the elderly
    1.5/2.5/4 -> 3/5/8), so a document-shaped value can never make the ladder inconsistent.
    `current` is the config dict the value applies to (defaults plus the profile's other layers)."""
    doc = {k: v for k, v in custom.items() if k in _DOC_ROOTS}
    rest = {k: v for k, v in custom.items() if k not in _DOC_ROOTS}
    flat = _flatten(doc)
    unknown = [k for k in flat if k not in DOC_ALIASES]
    if unknown:
        raise ConfigError(f"user {user_id}: customThresholds key(s) {unknown} have no rule in this engine; "
                          f"supported document keys: {sorted(DOC_ALIASES)}")
    mapped: dict[str, Any] = {}
    for k, v in flat.items():
        path = DOC_ALIASES[k]
        ladder_path, level = path.rsplit(".", 1)
        ladder = _get(current or {}, ladder_path)
        old = ladder.get(level) if isinstance(ladder, dict) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and isinstance(old, (int, float)) and old > 0 \
                and len(ladder) > 1:
            for sev, t in ladder.items():
                mapped[f"{ladder_path}.{sev}"] = round(t * v / old, 6) if isinstance(t, (int, float)) else t
        else:
            mapped[path] = v
    return deep_merge(rest, _nest(mapped))


def _age_group_name(profile: UserProfile, groups: dict) -> tuple[float | None, str | None]:
    if isinstance(profile.age_group, str) and profile.age_group.strip().lower() in groups:
        name = profile.age_group.strip().lower()
        return age_of(name, groups), name
    age = age_of(profile.age_group, groups)
    return age, named_age_group(age, groups)


def implausible_changes(x: np.ndarray, abs_kg: float, per_day: float, shift_readings: int
                        ) -> tuple[dict[int, tuple[float, int]], list[tuple[int, float, int]]]:
    """Plausibility of a change ("检查数据合理性"): a reading is implausible when it differs from the
    last accepted reading by more than abs + per_day x days between them (what a body can do in
    that time), whatever the fixed plausible range says. Returns ({position: (accepted value, its
    position)} of implausible readings, [(position, previous level, readings dropped)] of level
    shifts): when `shift_readings` implausible readings in a row agree with each other, the new
    level is the series from then on (another scale or person, a unit change, or a first reading
    that was the typo) and the readings before it are no longer this series' history."""
    flagged: dict[int, tuple[float, int]] = {}
    shifts: list[tuple[int, float, int]] = []
    anchor: tuple[float, int] | None = None
    pending: list[int] = []
    for i in np.flatnonzero(np.isfinite(x)):
        i = int(i)
        if anchor is None or abs(x[i] - anchor[0]) <= abs_kg + per_day * (i - anchor[1]):
            anchor, pending = (float(x[i]), i), []
            continue
        if pending and abs(x[i] - x[pending[-1]]) <= abs_kg + per_day * (i - pending[-1]):
            pending.append(i)
        else:
            pending = [i]
        flagged[i] = anchor
        if len(pending) >= shift_readings:
            for p in pending:
                flagged.pop(p, None)
            dropped = [k for k in flagged if k < pending[0]]
            for k in dropped:
                flagged.pop(k)
            shifts.append((pending[0], anchor[0], int(np.isfinite(x[:pending[0]]).sum())))
            anchor, pending = (float(x[i]), i), []
    return flagged, shifts


def clean(days: pd.DataFrame, cfg: RulesConfig, user_id: str) -> tuple[pd.DataFrame, list[Finding]]:
    """Flag and exclude measurement errors (the document's "测量误差"): implausible values,
    implausible changes (faster than a body can change), device inconsistencies, and isolated
    spikes contradicted by the next reading. A reading in a clinically dangerous range (the
    `safety` block) is never excluded as a spike: safety first. Returns the cleaned frame
    (excluded values set to NaN) and one `data_problem` finding per excluded reading."""
    dq = cfg.data_quality
    days = days.copy()
    problems: list[Finding] = []

    def flag(mask: np.ndarray, metric: str, reason: str, extra: Callable[[int], dict] | None = None,
             exclude: Iterable[str] = ()) -> None:
        for i in np.flatnonzero(mask):
            d = days.index[i]
            ev = {"reason": reason, **(extra(int(i)) if extra else {})}
            problems.append(Finding(user_id, DATA_QUALITY, metric, DATA_PROBLEM, None,
                                    _num(days[metric].iloc[i]) if metric in days else None, d, d, ev))
        for col in (metric, *exclude):
            if col in days:
                days.loc[mask, col] = np.nan

    for metric, (lo, hi) in dq.plausible.items():
        x = days[metric].to_numpy(dtype=np.float64)
        flag(np.isfinite(x) & ((x < lo) | (x > hi)), metric, "implausible", lambda i: {"plausible_range": [lo, hi]})

    for metric, mc in dq.max_change.items():
        x = days[metric].to_numpy(dtype=np.float64)
        bad, shifts = implausible_changes(x, mc.abs, mc.per_day, dq.level_shift_readings)
        mask = np.zeros(len(x), dtype=bool)
        mask[list(bad)] = True
        flag(mask, metric, "implausible_change",
             lambda i: {"accepted_value": bad[i][0], "accepted_date": days.index[bad[i][1]],
                        "change": x[i] - bad[i][0], "allowed_change": mc.abs + mc.per_day * (i - bad[i][1]),
                        "advice": "re-measure"})
        for pos, level, n_dropped in shifts:
            d = days.index[pos]
            problems.append(Finding(user_id, DATA_QUALITY, metric, DATA_PROBLEM, None, _num(x[pos]), d, d,
                                    {"reason": "level_shift", "previous_level": level, "new_level": x[pos],
                                     "earlier_readings_dropped": n_dropped, "advice": "re-measure"}))
            days.iloc[:pos, days.columns.get_loc(metric)] = np.nan

    sy, di = days["systolic"].to_numpy(dtype=np.float64), days["diastolic"].to_numpy(dtype=np.float64)
    flag(np.isfinite(sy) & np.isfinite(di) & (sy - di < dq.min_pulse_pressure), "systolic",
         "systolic_not_above_diastolic", lambda i: {"diastolic": di[i], "min_pulse_pressure": dq.min_pulse_pressure},
         exclude=("diastolic",))

    ex, zone = days["exercise_minutes"].to_numpy(dtype=np.float64), days["hr_zone_high_minutes"].to_numpy(dtype=np.float64)
    flag(np.isfinite(ex) & np.isfinite(zone) & (zone > ex), "hr_zone_high_minutes", "zone_minutes_exceed_exercise",
         lambda i: {"exercise_minutes": ex[i]})

    # energy from macros vs logged calories: both cannot be right when they disagree this much
    mac = cfg.rules.macro_imbalance.kcal_per_g
    macro_kcal = (days["carbs_g"] * mac["carbs"] + days["protein_g"] * mac["protein"] + days["fat_g"] * mac["fat"]).to_numpy()
    kcal = days["calories_kcal"].to_numpy(dtype=np.float64)
    rel = np.abs(macro_kcal - kcal) / np.where(kcal > 0, kcal, np.nan)
    flag(np.isfinite(rel) & (rel > dq.macro_energy_tolerance), "calories_kcal", "macros_disagree_with_calories",
         lambda i: {"macro_kcal": macro_kcal[i], "relative_difference": rel[i]},
         exclude=("carbs_g", "protein_g", "fat_g"))

    for metric, jump in dq.spike_jump.items():
        s = days[metric]
        x = s.to_numpy(dtype=np.float64)
        ref = prior_median(s, dq.spike_reference_days).to_numpy()
        trig = np.isfinite(x) & np.isfinite(ref) & (np.abs(x - ref) >= jump)
        # a follow-up still a jump away from the reference confirms the reading (it is still abnormal)
        state, at = confirmation(trig, np.isfinite(x), keeps_deviation(x, ref, dq.spike_confirm.keep_fraction, jump),
                                 dq.spike_confirm, len(x) - 1)
        dangerous = danger_mask(cfg, metric, x)
        flag((state == REFUTED) & ~dangerous, metric, "isolated_spike",
             lambda i: {"reference": ref[i], "next_value": x[at[i]], "jump": jump})
    return days, problems


def _num(v: Any) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v


def merge_episodes(findings: list[Finding]) -> list[Finding]:
    """Day-by-day triggers of one rule and metric that touch or overlap become one episode
    (period = union, severity = worst, value/evidence from the worst and latest day)."""
    out = [f for f in findings if f.status != FINDING]
    groups: dict[tuple, list[Finding]] = {}
    for f in findings:
        if f.status == FINDING:
            groups.setdefault(f.key(), []).append(f)
    for group in groups.values():
        group.sort(key=lambda f: (f.start, f.end))
        cur = None
        for f in group:
            if cur is not None and f.start <= cur.end + pd.Timedelta(days=1):
                worst = f if f.severity_rank >= cur.severity_rank else cur
                days = cur.evidence.get("episode_days", 1) + 1
                cur = Finding(f.user_id, f.rule, f.metric, FINDING, worst.severity, worst.value,
                              min(cur.start, f.start), max(cur.end, f.end), dict(worst.evidence), f.label_kinds)
                cur.evidence["episode_days"] = days
            else:
                if cur is not None:
                    out.append(cur)
                cur = f
                cur.evidence.setdefault("episode_days", 1)
        out.append(cur)
    order = {s: i for i, s in enumerate((FINDING, AWAITING, DATA_PROBLEM, INSUFFICIENT))}
    return sorted(out, key=lambda f: (f.user_id, f.end, order[f.status], f.rule, f.metric))


class RuleEngine:
    """Run the rules of configs/rules_config.json over daily logs.

    `config`: path, dict or None (the default file). `store`: a FindingStore, a path to its
    SQLite file, or None (in-memory). `profiles`: user_id -> UserProfile (or dicts).
    `notifier`: called with one notification dict per new or escalated finding.
    """

    def __init__(self, config: str | Path | dict | None = None, store: FindingStore | str | Path | None = None,
                 profiles: dict[str, UserProfile | dict] | None = None,
                 notifier: Callable[[dict], None] | None = None, lang: str = "en"):
        self.base_dict = config if isinstance(config, dict) else read_rules_dict(config) if config else read_rules_dict()
        self.config = parse_rules_config(self.base_dict, where=str(config or "rules_config.json"))
        self.store = store if isinstance(store, FindingStore) else FindingStore(store or ":memory:")
        self.profiles: dict[str, UserProfile] = {}
        self.set_profiles(profiles or {})
        self.notifier = notifier
        self.lang = lang
        self.history = self.store.load_daily()
        self._effective: dict[str, tuple[RulesConfig, list[str]]] = {}

    # ------------------------------------------------------------ personalisation

    def set_profiles(self, profiles: dict[str, UserProfile | dict]) -> None:
        for uid, p in profiles.items():
            self.profiles[uid] = p if isinstance(p, UserProfile) else UserProfile.model_validate({"user_id": uid, **p})
        self._effective = {}

    def effective_config(self, user_id: str) -> RulesConfig:
        """The user's config; raises ConfigError for a bad profile (`evaluate` reports it instead)."""
        return self._personalise(user_id)[0]

    def effective_thresholds(self, user_id: str) -> dict:
        """The thresholds this user's rules actually use, and which overrides produced them."""
        cfg, layers, error = self._personalise_safe(user_id)
        return {"user_id": user_id, "applied_overrides": layers, "profile_error": error,
                "sensitivity": self.store.sensitivities(),
                "rules": cfg.rules.model_dump(mode="json")}

    def _personalise(self, user_id: str) -> tuple[RulesConfig, list[str]]:
        """The user's config; raises ConfigError (naming the user and key) for a bad profile."""
        cfg, applied, error = self._personalise_safe(user_id)
        if error:
            raise ConfigError(error)
        return cfg, applied

    def profile_error(self, user_id: str) -> str | None:
        return self._personalise_safe(user_id)[2]

    def _personalise_safe(self, user_id: str) -> tuple[RulesConfig, list[str], str | None]:
        """(config, applied layers, error). A bad customThresholds never stops anyone: the user is
        analysed without it (defaults plus the other layers) and the error is reported for that
        user (`evaluate` adds a `profile` data problem). The `safety` block is not personalisable."""
        if user_id in self._effective:
            return self._effective[user_id]
        profile = self.profiles.get(user_id)
        if profile is None:
            result = (self.config, [], None)
        else:
            ov = self.config.personalisation.overrides
            _, group = _age_group_name(profile, self.config.personalisation.age_groups)
            layers = [("age_group", group), ("sex", profile.sex),
                      *[("conditions", c.lower()) for c in profile.conditions],
                      *[("medications", m.lower()) for m in profile.medications]]
            d, applied = self.base_dict, []
            for kind, name in layers:
                if name and name in ov.get(kind, {}):
                    d = deep_merge(d, ov[kind][name])
                    applied.append(f"{kind}:{name}")
            d["safety"] = self.base_dict["safety"]  # dangerous ranges are the same for everyone
            error = None
            try:
                cfg = parse_rules_config(d, where=f"user {user_id} ({', '.join(applied) or 'defaults'})")
            except ConfigError as err:  # a shipped override the config made inconsistent: defaults
                cfg, error, applied = self.config, str(err), []
            if profile.custom_thresholds and error is None:
                try:
                    if "safety" in profile.custom_thresholds:
                        raise ConfigError(f"user {user_id}: customThresholds key 'safety': the dangerous ranges "
                                          f"are not personalisable")
                    dc = deep_merge(d, translate_custom(profile.custom_thresholds, user_id, d))
                    where = f"user {user_id} ({', '.join(applied + ['customThresholds'])})"
                    cfg, applied = parse_rules_config(dc, where=where), applied + ["customThresholds"]
                except ConfigError as err:
                    error = str(err)
                    log.warning("user %s: customThresholds rejected, analysed without them: %s", user_id, err)
            result = (cfg, applied, error)
        self._effective[user_id] = result
        return result

    # ------------------------------------------------------------ evaluation

    def evaluate(self, days: pd.DataFrame, user_id: str, rules: Iterable[str] | None = None) -> list[Finding]:
        """All findings for one user's contiguous daily frame (pure: nothing stored)."""
        if days.empty:
            return []
        cfg, _, error = self._personalise_safe(user_id)
        profile = self.profiles.get(user_id)
        age = _age_group_name(profile, cfg.personalisation.age_groups)[0] if profile else None
        cleaned, problems = clean(days, cfg, user_id)
        if error:
            problems.append(Finding(user_id, "profile", "customThresholds", DATA_PROBLEM, None, None, days.index[-1],
                                    days.index[-1], {"reason": "profile_error", "error": error,
                                                     "analysed_with": "defaults and the profile's other layers"}))
        ctx = Context(user_id, cleaned, cfg, profile, age, self.store.sensitivities())
        found: list[Finding] = []
        for name in rules or RULES:
            if cfg.rule(name).enabled:
                seen: set[str] = set()
                for f in RULES[name](ctx):  # one insufficient_data per rule and metric (the first reason)
                    if f.status == INSUFFICIENT:
                        if f.metric in seen:
                            continue
                        seen.add(f.metric)
                    found.append(f)
        return merge_episodes(problems + found)

    def load(self, daily: pd.DataFrame | Iterable[DailyLog | dict]) -> None:
        """Add daily logs (a DataFrame such as the simulator's `Population.daily`, or DailyLog rows).
        A later log for the same user and day replaces the earlier one (a correction)."""
        frame = normalise_frame(daily) if isinstance(daily, pd.DataFrame) else logs_to_frame(daily)
        self.history = (pd.concat([self.history, frame]) if len(self.history) else frame)
        self.history = (self.history.drop_duplicates(["user_id", "date"], keep="last")
                        .sort_values(["user_id", "date"], kind="stable").reset_index(drop=True))
        self.store.save_daily(frame)

    def run(self, daily: pd.DataFrame | None = None, users: Iterable[str] | None = None,
            store: bool = True) -> list[Finding]:
        """Evaluate every rule over the whole history of each user; store findings if asked."""
        if daily is not None:
            self.load(daily)
        users = list(users) if users is not None else list(pd.unique(self.history["user_id"]))
        out: list[Finding] = []
        for uid in users:
            out += self.evaluate(user_days(self.history, uid), uid)
        if store:
            self._store(out)
        return out

    def run_scheduled(self, users: Iterable[str] | None = None) -> list[Finding]:
        """The periodic job: run everything, store (idempotent thanks to episode keys), and
        return what changed (new, escalated or updated episodes) plus current statuses."""
        found = self.run(users=users)
        return [f for f in found if f.status != FINDING or getattr(f, "action", None) in ("new", "escalated", "updated")]

    def on_data_entry(self, user_id: str, record: dict | DailyLog) -> list[Finding]:
        """A user logged a day: validate it, run the rules that read its fields, store and notify.
        Returns the findings and statuses that concern this entry's date."""
        entry = record if isinstance(record, DailyLog) else DailyLog.model_validate({"user_id": user_id, **record})
        if entry.user_id != user_id:
            raise ValueError(f"record user_id {entry.user_id!r} does not match {user_id!r}")
        self.load([entry])
        logged = {k for k, v in entry.model_dump().items() if v is not None}
        rules = [r for r, inputs in RULE_INPUTS.items() if logged & set(inputs)]
        day = pd.Timestamp(entry.date)
        found = [f for f in self.evaluate(user_days(self.history, user_id), user_id, rules)
                 if f.end == day or (f.status == DATA_PROBLEM and f.start == day)]
        self._store(found)
        return found

    # ------------------------------------------------------------ storage and notification

    def _store(self, findings: list[Finding]) -> None:
        for f in sorted(findings, key=lambda f: (f.start, f.end)):
            if f.status == FINDING:
                # a reading in a dangerous range is never held back by a cooldown (safety first)
                cooldown = -1 if f.evidence.get("dangerous_range") else \
                    self._personalise_safe(f.user_id)[0].rule(f.rule).cooldown_days
                f.id, f.action = self.store.upsert_episode(f, cooldown)
                if f.action in ("new", "escalated") and self.notifier:
                    self.notifier(to_notification(f, self.config, self.lang))
            elif f.status == DATA_PROBLEM:
                self.store.add_data_problem(f)
