"""WearableAnomalyDetector: the public API (as in the seed) around the learned model.

    from wearable_monitor import WearableAnomalyDetector
    detector = WearableAnomalyDetector()                      # shipped checkpoint, its threshold
    detector.detect_realtime(window)                          # 12 latest 5-minute records
    detector.score_history(records)                           # replay, no look-ahead
    detector.detect_pattern(records)                          # multi-day pattern

One instance serves many users: per-user baselines live in a `BaselineStorage` (SQLite;
in memory unless a path is given). Every score is made against the baseline built from
data strictly before the window's day (baselines/), and then the baseline is updated.

This is a screening aid, not a diagnosis.
"""
from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .baselines import BaselineStorage, UserDataManager, causal_baseline_columns
from .config import REPO_ROOT, FeatureConfig, default_feature_config
from .data.readers import load_any
from .data.records import TIME, USER, is_contract_frame, records_to_columns, static_column
from .data.validation import NOTED, Issue, RecordMemo, ValidationResult, validate_items, validate_table
from .detectors.learned import LearnedDetector, WearableAnomalyNet
from .errors import InputError  # noqa: F401 - defined in errors.py, importable from here as before
from .features import Columns, FeatureCalculator, Windows, baseline_rows, frame_columns
from .features.vitals import VitalsConfig, nightly_vitals
from .jsonio import json_safe
from .verdict.findings import Finding, Level, decide
from .verdict.patterns import PatternConfig, daily_pattern_table, summarize_pattern, trend_of
from .verdict.red_flags import RedFlagConfig, default_red_flag_config
from .verdict.verdict import (StreamEvidence, VerdictConfig, apply_verdict, carry_pattern, combine_levels, day_verdicts,
                              level_labels, model_finding, pattern_finding)

DEFAULT_MODEL_DIR = REPO_ROOT / "checkpoints" / "phase2" / "exp_factor_balanced"
TOP_K = 5
REALTIME_MEMO_RECORDS = 48  # inputs up to this many records use the detector's RecordMemo (validation.py)
HEART_RATE_COLUMNS = ("hr", "hr_resting")  # what a heart-rate-and-steps device (e.g. Fitbit's export) still gives


# How far a user's threshold may sit from the calibrated one before the detector says so.
THRESHOLD_WARN_DISTANCE = 0.05


def threshold_warning(threshold: float | None, checkpoint: Mapping[str, Any]) -> str | None:
    """A note when a user-given threshold is far from the checkpoint's calibrated one (None otherwise).

    The model's scores are calibrated to its own training: a threshold copied from another model
    (e.g. the original card's 0.53) moves the operating point without saying so.
    """
    calibrated = checkpoint.get("threshold")
    if threshold is None or calibrated is None or abs(float(threshold) - float(calibrated)) <= THRESHOLD_WARN_DISTANCE:
        return None
    criterion = checkpoint.get("threshold_criterion") or "the checkpoint's calibration"
    return (f"threshold {float(threshold):g} is far from this checkpoint's calibrated threshold "
            f"{float(calibrated):g} (chosen for {criterion}); the model's own finding "
            f"(details.model_anomalous) now flags {'more' if threshold < calibrated else 'fewer'} windows than "
            f"calibrated. Thresholds of other models (e.g. the original card's 0.53) do not carry over; pass "
            f"threshold=None to use the calibrated value.")


NO_HEART_RATE_CAVEAT = ("no heart rate in this window: the score rests on the other channels only "
                        "(heart rate is the channel the model relies on most); treat it with extra caution")


def _with_issues(result: dict, checked: pd.DataFrame | ValidationResult) -> dict:
    """`result` with what validation changed in its records (`input_issues`), if anything, and a note
    when more records were given than the scored window holds."""
    validated = isinstance(checked, ValidationResult)
    issues = [issue.to_dict() for issue in checked.errors + checked.warnings] if validated else []
    size, given = result["details"]["window_size"], len(checked.records) if validated else len(checked)
    if given > size:
        issues.append(Issue(None, "<window>", f"{given} valid records given: the latest {size} are scored as the "
                            "window (a realtime window is 6-24 records; score_history scores every window of a "
                            "history)", NOTED).to_dict())
    if issues:
        result["input_issues"] = issues
    return result


def _as_frame(checked: pd.DataFrame | ValidationResult) -> pd.DataFrame:
    """The frame of what `_checked` returned (a contract frame is its own)."""
    return checked.frame if isinstance(checked, ValidationResult) else checked


def _heart_rate_caveat(summary: dict, rows: Mapping[str, np.ndarray]) -> None:
    """A window without any heart-rate value is scored from what it has; its data_quality says so."""
    hr = rows.get("hr")
    has_hr = hr is not None and bool(np.isfinite(np.asarray(hr, dtype=np.float64)).any())
    quality = summary["data_quality"]
    quality["heart_rate_missing"] = not has_hr
    if not has_hr:
        quality.setdefault("caveats", []).append(NO_HEART_RATE_CAVEAT)


def _summary_of(model_dir: Path) -> dict:
    """The checkpoint's summary.json (threshold criterion, metrics), {} when absent or unreadable."""
    try:
        return json.loads((Path(model_dir) / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _is_night_and_resting(frame: pd.DataFrame, windows: Windows, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per window: last record at night; no steps recorded anywhere in the window."""
    end = windows.end_index
    night_code = config.features["time_period_primary"].categories.get("night") \
        if "time_period_primary" in config.features else None
    if night_code is not None and "time_period_primary" in frame:
        is_night = frame["time_period_primary"].to_numpy()[end] == night_code
    else:
        is_night = np.isin(pd.DatetimeIndex(windows.end_times).hour, [22, 23, 0, 1, 2, 3, 4, 5])
    if "steps" in frame:
        steps = np.nan_to_num(frame["steps"].to_numpy(dtype=np.float64), nan=0.0)
        csum = np.r_[0.0, np.cumsum(steps)]
        T = windows.window_size
        is_resting = (csum[end + 1] - csum[np.maximum(end + 1 - T, 0)]) <= 0
    else:
        is_resting = np.ones(len(end), dtype=bool)
    return is_night, is_resting


class WearableAnomalyDetector:
    """Load once, monitor many users. See the module docstring."""

    def __init__(self, model_dir: str | Path | None = None, threshold: float | None = None, device: str = "cpu",
                 storage: BaselineStorage | str | Path | None = None, feature_config: FeatureConfig | None = None,
                 pattern_config: PatternConfig | None = None, vitals_config: VitalsConfig | None = None,
                 red_flag_config: RedFlagConfig | None = None, verdict_config: VerdictConfig | None = None,
                 window_size: int | None = None):
        model_dir = model_dir or DEFAULT_MODEL_DIR
        self.model = WearableAnomalyNet.from_pretrained(model_dir).to(device).eval()
        self.checkpoint = dict(self.model.checkpoint_config)
        self.model_dir = Path(self.model.checkpoint_dir)
        self.config = feature_config or default_feature_config()
        # window_size None: a realtime window is the records given (any allowed size, 6-24 by the
        # config; a longer list is a history whose latest default-size window is scored);
        # an int fixes the size (the last `window_size` records are scored).
        self.fixed_window_size = None if window_size is None else int(window_size)
        self.calculator = FeatureCalculator(self.config, window_size=window_size or self.model.config.window_size)
        self._calculators = {self.calculator.window_size: self.calculator}
        self._record_memo = RecordMemo(self.config)
        self._observed_plans: dict[tuple, tuple] = {}  # window layout -> _observed_layout's plan
        self._check_layout()
        self.threshold = float(threshold if threshold is not None else self.checkpoint.get("threshold", 0.5))
        self.threshold_warning = threshold_warning(threshold, {**_summary_of(self.model_dir), **self.checkpoint})
        if self.threshold_warning:
            warnings.warn(self.threshold_warning, UserWarning, stacklevel=2)
        self.learned = LearnedDetector(self.model, self.threshold)
        if not isinstance(storage, BaselineStorage):
            storage = BaselineStorage(storage or ":memory:")
        self.storage = storage
        self.users = UserDataManager(storage, self.config)
        self.pattern_config = pattern_config or PatternConfig()
        self.vitals_config = vitals_config or VitalsConfig()
        self.red_flag_config = red_flag_config or default_red_flag_config()
        self.verdict_config = verdict_config or VerdictConfig()
        self.device = device

    def _check_layout(self) -> None:
        """The checkpoint must see the inputs it was trained on: same names, same order."""
        c, calc = self.model.config, self.calculator
        expected = {"numeric_names": calc.numeric_names, "categorical_names": calc.categorical_names,
                    "static_names": calc.static_names, "context_names": calc.context_names}
        for key, names in expected.items():
            if list(getattr(c, key)) != list(names):
                raise InputError(f"checkpoint {key} {list(getattr(c, key))} differ from the feature config's "
                                 f"{list(names)}; retrain (wearable-monitor train) after changing features_config.json")

    @property
    def window_size(self) -> int:
        """The default window size (history replay, and realtime lists longer than any allowed window)."""
        return self.calculator.window_size

    def calculator_for(self, size: int) -> FeatureCalculator:
        """The FeatureCalculator of one window size (any of the config's allowed_window_sizes)."""
        calc = self._calculators.get(size)
        if calc is None:
            calc = self._calculators[size] = FeatureCalculator(self.config, window_size=size)
        return calc

    def realtime_size(self, n_records: int) -> int:
        """How many of a realtime input's `n_records` newest records make its window."""
        if self.fixed_window_size is not None:
            return self.fixed_window_size
        allowed = self.config.allowed_window_sizes
        return n_records if n_records in allowed else self.window_size if n_records > max(allowed) else -1

    # ------------------------------------------------------------------ input
    def _validated(self, data: Any):
        """ValidationResult of records (dicts / Records), a ValidationResult or a path."""
        if isinstance(data, (str, Path)):
            data = load_any(data, self.config)
        if not isinstance(data, ValidationResult):
            items = list(data)
            # a realtime window's records, most of them seen in the previous call of a live stream
            memo = self._record_memo if len(items) <= REALTIME_MEMO_RECORDS else None
            data = validate_items(enumerate(items, start=1), self.config, source="<records>", memo=memo)
        if not data.records:
            raise InputError("no valid records to score:\n" + data.summary())
        return data

    def _frame(self, data: Any) -> pd.DataFrame:
        """Validated frame from records (dicts / Records), a frame, a ValidationResult or a path."""
        return _as_frame(self._checked(data))

    def _checked(self, data: Any) -> pd.DataFrame | ValidationResult:
        """A frame in the package's contract as it is; anything else validated (a ValidationResult keeps
        what validation changed). A caller's table in another layout (`deviceId`, `heart_rate`, string
        numbers...) is read row by row as records are, so no column is dropped or misread in silence."""
        if isinstance(data, pd.DataFrame):
            if is_contract_frame(data, self.config):
                return data
            data = validate_table(data, self.config, source="<frame>")
        return data if isinstance(data, ValidationResult) else self._validated(data)

    def _columns(self, data: Any) -> Columns:
        """The same rows as `_frame`, as numpy columns (no DataFrame built for record input)."""
        if isinstance(data, pd.DataFrame):
            return frame_columns(data)
        return records_to_columns(self._validated(data).records, self.config, encoded=self._record_memo)

    # ------------------------------------------------------------------ realtime
    def _observed_variables(self, windows: Windows) -> np.ndarray:
        """[N, n_vars] True where a model variable is a measurement observed in the window.

        Selection weight also lands on time-of-day, the gap and on channels the device does not
        have (their "missing" embedding); those stay in `variable_importance` but are never
        offered as "what drove the score", which must name something that was measured.
        """
        layout = (tuple(windows.numeric_names), tuple(windows.categorical_names),
                  tuple(windows.categorical_cardinalities))
        plan = self._observed_plans.get(layout)
        if plan is None:
            plan = self._observed_plans[layout] = self._observed_layout(*layout)
        numeric, categorical, cards = plan
        out = np.zeros((len(windows), len(self.model.config.variable_names)), dtype=bool)
        out[:, numeric] = windows.numeric_mask.any(axis=1) > 0
        if len(categorical):
            out[:, categorical[:, 1]] = (windows.categorical[:, :, categorical[:, 0]] < cards).any(axis=1)
        return out

    def _observed_layout(self, numeric_names: tuple, categorical_names: tuple, cardinalities: tuple):
        """`_observed_variables`' column plan for one window layout: the numeric variables' positions, and
        (window column, variable position) of the measured categorical variables with their cardinalities."""
        names = list(self.model.config.variable_names)
        cat = [(j, names.index(n), card) for j, (n, card) in enumerate(zip(categorical_names, cardinalities))
               if n in self.config.features and self.config.features[n].channel != "environment"]
        return (np.array([names.index(n) for n in numeric_names], dtype=np.int64),
                np.array([(j, v) for j, v, _ in cat], dtype=np.int64).reshape(-1, 2),
                np.array([c for *_, c in cat], dtype=np.int64))

    def _explain(self, weights: np.ndarray, observed: np.ndarray, summary: dict, baseline: dict) -> list[dict]:
        """Top contributing observed measurements (selection weights), with values and baseline deviations."""
        names = list(self.model.config.variable_names)
        by_source = {spec.source: key for key, spec in self.config.baseline_metrics.items()}
        metrics = baseline["metrics"]
        period = summary["window"]["time_period"]
        items = []
        for j in np.argsort(-weights):
            name = names[j]
            if not observed[j]:
                continue
            item: dict[str, Any] = {"feature": name, "importance": round(float(weights[j]), 4)}
            m = summary["measurements"].get(name)
            if m:
                item.update(value=m["mean"], unit=m["unit"])
            key = by_source.get(name)
            b = metrics.get(f"{key}_{period}") or metrics.get(key) if key else None
            if m and b and b["std"] > 0:
                item.update(baseline_mean=round(b["mean"], 3), baseline_std=round(b["std"], 3),
                            z_score=round((m["mean"] - b["mean"]) / b["std"], 2))
            items.append(item)
            if len(items) == TOP_K:
                break
        return items

    def _static_of(self, rows: Columns) -> dict | None:
        """Known static codes of the newest record (None -> the stored profile is used)."""
        static = {}
        for n, spec in self.config.static.items():
            col = static_column(n)
            if col in rows and int(rows[col][-1]) != spec.categories[spec.default]:
                static[n] = int(rows[col][-1])
        return static or None

    def _window_rows(self, cols: Columns) -> tuple[str, dict[str, np.ndarray]]:
        """(user, the last `window_size` rows) of one user's columns; InputError if unusable."""
        users = np.asarray(cols[USER], dtype=object)
        if len(users) and (users != users[-1]).any():
            raise InputError(f"a realtime window belongs to one user, got {len(pd.unique(users))}")
        user = str(users[-1]) if len(users) else "?"
        size = self.realtime_size(len(users))
        if size < 0 or len(users) < size:
            allowed = self.config.allowed_window_sizes
            need = (f"needs {size} records" if size > 0 else
                    f"needs {min(allowed)} to {max(allowed)} records (allowed_window_sizes; default {self.window_size})")
            raise InputError(f"user {user}: a window {need} (5-minute points), got {len(users)}")
        return user, {k: np.asarray(v)[-size:] for k, v in cols.items()}

    def _results(self, inputs: list[Columns], update_baseline: bool) -> list[dict]:
        """Score one window per input (each = one user's rows as columns) in one forward pass.

        Plain numpy from the validated records to the model inputs (`FeatureCalculator.window`
        runs the batch feature code on the window's 12 rows), one store read per window and,
        with `update_baseline`, one store write.
        """
        prepared, meta = [], []
        for cols in inputs:
            user, rows = self._window_rows(cols)
            static = self._static_of(rows)
            # The window is read against the baseline of its newest record's day (one store read).
            baseline = self.users.summary(user, static, as_of=rows[TIME][-1])
            self._use_record_baselines(rows, baseline)
            columns = {f"bl_{name}_{stat}": b[stat] for name, b in baseline["metrics"].items()
                       for stat in ("mean", "std", "suspect_days", "suspect_z")}
            columns.update(bl_alpha=baseline["alpha"], bl_days=baseline["days_of_history"])
            # as the rows' own columns, made once for the features and the verdict
            with_baseline = {**rows, **baseline_rows(columns, len(rows[TIME]))}
            prepared.append(self.calculator_for(len(rows[TIME])).window(with_baseline))
            meta.append((user, rows, baseline, with_baseline))
        out, observed = self._score_prepared(prepared)
        for (user, *_), seen in zip(meta, observed):
            if not seen.any():  # "normal" would claim what no record shows
                raise InputError(f"user {user}: no record of the window holds a measured value (heart rate, "
                                 "steps, SpO2...): nothing to score")
        names = self.model.config.variable_names
        results = []
        for i, (user, rows, baseline, with_baseline) in enumerate(meta):
            score = float(out["probability"][i])
            summary = self.calculator.summary_from_columns(rows, prepared[i])
            _heart_rate_caveat(summary, rows)
            weights = out["variable_weights"][i]
            top = self._explain(weights, observed[i], summary, baseline)
            verdict, context = self._window_verdict(with_baseline, score, top)
            results.append({
                "is_anomaly": verdict.is_anomaly,
                "level": verdict.level.label,
                "reasons": [f.to_dict() for f in verdict.reasons],
                "advice": verdict.to_dict()["advice"],
                "anomaly_score": round(score, 4),
                "threshold": round(self.threshold, 4),
                "details": {"window_size": int(len(rows[TIME])), "model_output": round(score, 4),
                            "model_anomalous": bool(score >= self.threshold),
                            "prediction_confidence": round(abs(score - self.threshold), 4),
                            "variable_importance": {n: round(float(w), 4) for n, w in zip(names, weights)}},
                "user_id": user,
                **summary,
                "top_features": top,
                "baseline": baseline,
                "static": {n: self.config.static[n].label(int(rows[static_column(n)][-1]))
                           for n in self.config.static if static_column(n) in rows},
                "disclaimer": "Screening aid, not a diagnosis.",
            })
            if self.threshold_warning:
                results[-1]["details"]["threshold_warning"] = self.threshold_warning
            results[-1] = json_safe(results[-1])  # strict JSON: missing numbers are None, never NaN
            if update_baseline:
                self.users.ingest(user, rows, context=context)  # the verdict's rest context, not made twice
        return results

    def _record_metric_keys(self) -> dict[str, list[str]]:
        """metric -> its baseline keys (`hrv`, `hrv_night`, ...), for metrics whose per-record
        baseline fields (`baseline_<metric>_mean` / `_std`, the seed's quickstart) the config has."""
        out = {}
        for m, spec in self.config.baseline_metrics.items():
            if f"baseline_{m}_mean" in self.config.features and f"baseline_{m}_std" in self.config.features:
                out[m] = [m if p == "all" else f"{m}_{p}" for p in spec.periods]
        return out

    def _use_record_baselines(self, rows: Mapping[str, np.ndarray], baseline: dict) -> None:
        """Baselines the records carry (e.g. `baseline_hrv_mean` / `baseline_hrv_std`) are evidence
        from the caller: they replace the stored / group baseline of that metric (every period) for
        this window, and the baseline block says so (`source` "record", `record_metrics`)."""
        used = []
        for m, keys in self._record_metric_keys().items():
            mean, std = rows.get(f"baseline_{m}_mean"), rows.get(f"baseline_{m}_std")
            if mean is None or std is None:
                continue
            mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
            ok = np.isfinite(mean) & np.isfinite(std)
            if not ok.any():
                continue
            mu, sd = float(mean[ok][-1]), float(std[ok][-1])  # the newest record's statement
            for key in keys:
                if key in baseline["metrics"]:
                    baseline["metrics"][key].update(mean=mu, std=sd, source="record")
            used.append(m)
        if used:
            baseline["record_metrics"] = used
            baseline["source"] = "record"

    def _frame_record_baselines(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`_use_record_baselines` for a replayed frame: rows carrying their own baseline use it."""
        out = None
        for m, keys in self._record_metric_keys().items():
            cm, cs = f"baseline_{m}_mean", f"baseline_{m}_std"
            if cm not in frame or cs not in frame:
                continue
            ok = (frame[cm].notna() & frame[cs].notna()).to_numpy()
            if not ok.any():
                continue
            out = frame.copy() if out is None else out
            for key in keys:
                for stat, col in (("mean", cm), ("std", cs)):
                    name = f"bl_{key}_{stat}"
                    if name in out:
                        out[name] = np.where(ok, out[col].to_numpy(dtype=np.float64), out[name].to_numpy())
        return frame if out is None else out

    def _score_prepared(self, prepared: list[Windows]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Model outputs and observed variables of prepared one-window batches, in order (one
        forward pass per window size)."""
        sizes = [w.window_size for w in prepared]
        if len(set(sizes)) == 1:
            windows = Windows.concat(prepared) if len(prepared) > 1 else prepared[0]
            return self.learned.outputs(windows, keys=("probability", "variable_weights")), \
                self._observed_variables(windows)
        out = {"probability": np.zeros(len(prepared), np.float32),
               "variable_weights": np.zeros((len(prepared), len(self.model.config.variable_names)), np.float32)}
        observed = np.zeros((len(prepared), len(self.model.config.variable_names)), dtype=bool)
        for size in sorted(set(sizes)):
            idx = [i for i, s in enumerate(sizes) if s == size]
            part, obs = self._score_prepared([prepared[i] for i in idx])
            for k in out:
                out[k][idx] = part[k]
            observed[idx] = obs
        return out, observed

    def _window_verdict(self, rows: Columns, score: float, top: list[dict]):
        """The leveled verdict of one window (red flags and baseline deviations on its rows, which carry
        their baseline's `bl_` columns; the model's score) and the rows' stream context it read."""
        evidence = StreamEvidence.of(rows, self.config, self.red_flag_config, self.verdict_config.deviations)
        findings = evidence.window_findings()
        model = model_finding(score, self.threshold, self.verdict_config, top[0]["feature"] if top else None)
        return decide(findings + ([model] if model else [])), evidence.context

    def predict(self, data_points: Iterable[Mapping] | pd.DataFrame, return_score: bool = True,
                return_details: bool = True, update_baseline: bool = False) -> dict:
        """Seed API: score the latest window of `data_points` (one user).

        What validation changed in the records (a rejected record, a removed field, an ignored name;
        each with its 1-based position in `data_points` and the field) is listed under `input_issues`,
        present only when there is something to say: nothing is dropped without a word.
        """
        checked = self._checked(data_points)
        try:
            result = _with_issues(self._results([self._columns(checked)], update_baseline)[0], checked)
        except InputError as exc:  # what validation changed is often why: say it with the error
            if isinstance(checked, ValidationResult) and (checked.errors or checked.warnings):
                notes = "; ".join(str(i) for i in (checked.errors + checked.warnings)[:3])
                raise InputError(f"{exc} (validation: {notes})") from exc
            raise
        if not return_details:
            result = {k: result[k] for k in ("is_anomaly", "anomaly_score", "threshold")}
        if not return_score:
            result.pop("anomaly_score", None)
        return result

    def detect_realtime(self, window: Iterable[Mapping] | pd.DataFrame, update_baseline: bool = True,
                        history: Any = None) -> dict:
        """Score the newest window and then (by default) feed it to the user's baseline.

        `history`: the same user's earlier records (any input `score_history` takes). With it, the
        multi-day pattern (nightly vitals, day scores; patterns.py) joins the window's verdict as
        `pattern` evidence: the stronger of the newest finished day (as in `score_history`) and the
        window's own day so far. With `update_baseline` as well, the user's stored baseline first takes
        in the history's records before the window (records it holds already are skipped), so the
        window is read against the personal baseline its history builds, as the app's and the CLI's
        window with a history is. With `update_baseline=False` the store is left as it is.
        """
        if history is None or (isinstance(history, (list, tuple, pd.DataFrame)) and len(history) == 0):
            return self.predict(window, update_baseline=update_baseline)
        window = self._checked(window)  # validated once for the three uses below
        history = self._frame(history)
        if update_baseline:
            self._absorb_history(history, self._frame(window))
        result = self.predict(window, update_baseline=update_baseline)
        found = self.pattern_findings(history, window, result)
        if found:
            self._add_findings(result, found)
        return result

    def _absorb_history(self, history: pd.DataFrame, window: pd.DataFrame) -> None:
        """The window's user's stored baseline takes in that user's history records from before the
        window's first record (the guard holds deviant days back, as for any update)."""
        if not len(window) or window[USER].nunique() != 1:
            return  # predict refuses such a window with the reason
        user, start = window[USER].iloc[0], window[TIME].min()
        rows = history[(history[USER] == user) & (history[TIME] < start)]
        if len(rows):
            self.users.ingest(str(user), rows.sort_values(TIME, kind="stable").reset_index(drop=True))

    def pattern_findings(self, history: Any, window: Any, result: dict) -> list:
        """The multi-day pattern's finding for the window: the day before and the day so far, from history + window."""
        frame = pd.concat([self._frame(history), self._frame(window)], ignore_index=True)
        frame = frame[frame[USER] == result["user_id"]]
        frame = frame.drop_duplicates([USER, TIME], keep="last").sort_values(TIME, kind="stable")
        if len(frame) < self.window_size:
            return []
        scored = self._score_frame(causal_baseline_columns(frame.reset_index(drop=True), self.config, self.users.bcfg))
        days = self.daily(scored)
        today = pd.Timestamp(result["window"]["end"]).normalize()
        # the newest finished day (what score_history's windows carry: carry_pattern) and the day so far
        # (the live call knows it; a replay would have to rebuild the day table at every window)
        days = days[days["date"].isin([today - pd.Timedelta(days=1), today])]
        days = days[days["alert"].to_numpy(bool) | days["is_anomalous_day"].to_numpy(bool)]
        found = [pattern_finding(day, self.verdict_config) for _, day in days.iterrows()]
        return [max(reversed(found), key=lambda f: int(f.level))] if found else []

    @staticmethod
    def _add_findings(result: dict, extra: list) -> None:
        """Merge findings into a result's verdict (level, reasons, is_anomaly)."""
        apply_verdict(result, decide([Finding.from_dict(f) for f in result["reasons"]] + list(extra)))

    def predict_batch(self, windows: Iterable[Iterable[Mapping] | pd.DataFrame], update_baseline: bool = False) -> list[dict]:
        """Many users' windows in one forward pass (one result per window, same order; `input_issues`
        as in `predict`)."""
        checked = [self._checked(w) for w in windows]
        return [_with_issues(r, c) for r, c in zip(self._results([self._columns(c) for c in checked], update_baseline),
                                                   checked)]

    # ------------------------------------------------------------------ history
    def score_history(self, data: Any, progress: bool = False, update_baseline: bool = True) -> pd.DataFrame:
        """Replay histories in time order as the live service would; one row per window.

        Each window is scored against the baseline built only from data before its day, then
        the baseline absorbs the data. Users without stored state are replayed in one fast
        batch (causal columns); users with state continue from it, day by day. Each window
        carries the multi-day pattern of the finished day before its own and, from the end of the
        night (07:00), what its own day's nights already say (`carry_pattern`).
        """
        return self.score_history_and_days(data, progress, update_baseline)[0]

    def score_history_and_days(self, data: Any, progress: bool = False,
                               update_baseline: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
        """`score_history` and the `daily` table of its windows, the day table computed once.

        Records given as records or a path are validated here; when that rejects records or removes
        fields, a warning says how many and names the first (`load_any(path)` or `validate_items` gives
        the whole report, and a ValidationResult passed in is used as it is).
        """
        checked = self._checked(data)
        frame = _as_frame(checked)
        parts = []
        users = list(pd.unique(frame[USER]))
        known_users = set(self.storage.list_users())
        for user in tqdm(users, desc="scoring users", disable=not progress):
            rows = frame[frame[USER] == user].reset_index(drop=True)
            if len(rows) < self.window_size:
                continue
            if user not in known_users:
                with_bl = causal_baseline_columns(rows, self.config, self.users.bcfg)
                if update_baseline:
                    self.users.ingest(user, rows)
            else:  # continue from the stored state, one day at a time
                chunks = []
                for _, day_rows in rows.groupby(rows[TIME].dt.normalize(), sort=True):
                    chunks.append(self.users.baseline_columns(user, day_rows))
                    if update_baseline:
                        self.users.ingest(user, day_rows)
                with_bl = pd.concat(chunks, ignore_index=True)
            parts.append(self._score_frame(with_bl))
        if not parts:
            raise InputError(f"no user has {self.window_size} records: nothing to score")
        scored = pd.concat(parts, ignore_index=True)
        days = self.daily(scored)
        scored = self.with_pattern(scored, days)
        if isinstance(checked, ValidationResult) and checked.errors and checked is not data:
            # records validated here: say what was dropped (a caller who validated holds the report already)
            warnings.warn(f"score_history: validation rejected {checked.counts['rejected']} record(s) and removed "
                          f"{checked.counts['fields_removed']} field(s); first: {checked.errors[0]}",
                          UserWarning, stacklevel=3)
        return scored, days

    def with_pattern(self, scored: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
        """The windows carrying the multi-day pattern of `days` (`verdict.carry_pattern` with this
        detector's verdict, pattern and night settings)."""
        return carry_pattern(scored, days, self.verdict_config, self.pattern_config, self.vitals_config.night_end_hour)

    def _score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = self._frame_record_baselines(frame)
        windows = self.calculator.windows(frame)
        out = self.learned.outputs(windows, keys=("probability", "variable_weights"))
        is_night, is_resting = _is_night_and_resting(frame, windows, self.config)
        names = np.array(self.model.config.variable_names, dtype=object)
        score = out["probability"].astype(np.float64)
        evidence = StreamEvidence.of(frame, self.config, self.red_flag_config, self.verdict_config.deviations)
        levels = evidence.window_levels(windows.end_index, windows.window_size)
        model_flags = score >= self.threshold
        level = combine_levels(levels, model_flags, self.verdict_config)
        return pd.DataFrame({
            USER: windows.user_ids, TIME: pd.DatetimeIndex(windows.end_times),
            "anomaly_score": np.round(score, 5), "is_anomaly": level >= int(Level.ALERT),
            "level": level_labels(level), "reasons": levels["reasons"],
            "level_red_flag": levels["level_red_flag"], "level_baseline": levels["level_baseline"],
            "model_anomalous": model_flags,
            "is_night": is_night, "is_resting": is_resting,
            "baseline_alpha": frame["bl_alpha"].to_numpy()[windows.end_index] if "bl_alpha" in frame else np.nan,
            "top_feature": names[np.argmax(np.where(self._observed_variables(windows), out["variable_weights"], -1.0),
                                               axis=1)],
            # the newest record's vitals, so daily() can read each night against earlier nights (vitals.py)
            **{c: frame[c].to_numpy()[windows.end_index] for c in self.vitals_config.sources if c in frame},
        })

    def daily(self, scored: pd.DataFrame, pattern_config: PatternConfig | None = None) -> pd.DataFrame:
        """Per user and day: windows, anomalous windows, shares, run length, alert, 7-day trend.

        A day is anomalous when its window scores stand out (`model_anomalous`) or its night's vitals
        deviate from the person's earlier nights (`vitals_anomalous`, `vitals_flags`; vitals.py).
        Days with heart rate and steps only (`limited_channels`) need a higher day score (patterns.py).
        `pattern_config`: another pattern setting than the detector's (the evaluation's ablations).
        """
        pattern_config = pattern_config or self.pattern_config
        nights = nightly_vitals(scored, self.vitals_config)
        model_flags = scored["model_anomalous"] if "model_anomalous" in scored else scored["is_anomaly"]
        days = daily_pattern_table(scored[TIME], model_flags, scored["is_night"], scored["is_resting"],
                                   scored[USER], pattern_config, scores=scored["anomaly_score"], nights=nights,
                                   limited=self._heart_rate_and_steps_only(scored))
        trends = []
        for _, g in days.groupby("user_id", sort=False):
            shares = g["day_score"].where(g["sufficient"]).to_numpy()
            trends += [trend_of(shares[max(0, i - 6):i + 1], pattern_config)[0] for i in range(len(g))]
        days["trend"] = trends
        return day_verdicts(days, scored, self.verdict_config)

    def _heart_rate_and_steps_only(self, scored: pd.DataFrame) -> np.ndarray | None:
        """Per window: its newest record carried none of the vitals beyond heart rate (HRV,
        respiration, SpO2, skin temperature). None when the table has none of those columns."""
        cols = [s.source for s in self.vitals_config.signals.values()
                if s.source not in HEART_RATE_COLUMNS and s.source in scored]
        return scored[cols].isna().all(axis=1).to_numpy() if cols else None

    def detect_pattern(self, data: Any, user_id: str | None = None) -> dict:
        """Multi-day pattern of one user: per-day shares, consecutive days, trend, alert.

        `data`: that user's records over several days (or a `score_history` table).
        """
        scored = data if isinstance(data, pd.DataFrame) and "anomaly_score" in data else self.score_history(data)
        if user_id is None:
            users = pd.unique(scored[USER])
            if len(users) != 1:
                raise InputError(f"detect_pattern: records of {len(users)} users; pass user_id=")
            user_id = users[0]
        days = self.daily(scored[scored[USER] == user_id])
        return {"user_id": str(user_id), **summarize_pattern(days, self.pattern_config)}
