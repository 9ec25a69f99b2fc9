"""Feature configuration: the single place that says which channels exist.

Everything downstream (validation, FeatureCalculator, the model's input width,
baselines) reads `FeatureConfig`, so adding a channel means editing
`configs/features_config.json` only.
"""
from __future__ import annotations

import difflib
import hashlib
import json
import math
import sys
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from .errors import ConfigError  # noqa: F401 - defined in errors.py, importable from here as before

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent
CONFIG_DIR = REPO_ROOT / "configs"
DEFAULT_FEATURES_CONFIG = CONFIG_DIR / "features_config.json"

NUMERIC, CATEGORICAL = "numeric", "categorical"
CHANNELS = ("physiological", "activity", "environment", "baseline")
NORMALISATIONS = ("zscore", "log_zscore", "log1p_zscore", "none")
DERIVE_FROM_TIMESTAMP = "derive_from_timestamp"


def _category_code(categories: dict[str, int], value: Any) -> int | None:
    """Categories are given by label (case-insensitive) or by integer code, as the seed's records do."""
    if isinstance(value, str):
        code = categories.get(value)  # labels are stored lower-case: most inputs match as given
        return code if code is not None else categories.get(value.strip().lower())
    if isinstance(value, bool):
        return None
    if isinstance(value, int):  # compared as an int: float() of a 400-digit integer overflows
        return value if value in categories.values() else None
    if isinstance(value, float) and value.is_integer():  # inf and NaN are not integers
        code = int(value)
        return code if code in categories.values() else None
    return None


class _Coded:
    """What a spec with `categories` (FeatureSpec, StaticSpec) shares: `_category_code` with the common case
    first, a label or an int code as given in one dict lookup (validation and encoding look up every value)."""

    @cached_property
    def _codes(self) -> dict[Any, int]:
        return {**self.categories, **{c: c for c in self.categories.values()}}

    def _code_of(self, value: Any) -> int | None:
        if type(value) in (str, int):  # type() keeps True out of code 1
            code = self._codes.get(value)
            if code is not None:
                return code
        return _category_code(self.categories, value)


def _category_label(name: str, categories: dict[str, int], code: int) -> str:
    for label, c in categories.items():
        if c == code:
            return label
    raise KeyError(f"{name}: no category with code {code}")


@dataclass(frozen=True)
class FeatureSpec(_Coded):
    name: str
    type: str
    channel: str
    required: bool = False
    default: Any = None
    unit: str = ""
    valid_range: tuple[float, float] | None = None
    norm_method: str = "none"
    norm_mean: float = 0.0
    norm_std: float = 1.0
    categories: dict[str, int] = field(default_factory=dict)
    model_input: bool = True

    @property
    def is_numeric(self) -> bool:
        return self.type == NUMERIC

    def category_code(self, value: Any) -> int | None:
        """Code of a category given by label ('deep') or by code (2); None if unknown."""
        return self._code_of(value)

    def category_label(self, code: int) -> str:
        return _category_label(self.name, self.categories, code)


@dataclass(frozen=True)
class StaticSpec(_Coded):
    name: str
    default: str
    categories: dict[str, int]

    def code(self, value: Any) -> int | None:
        """Code of a label or code; the default's code for None; None if unknown."""
        return self.categories[self.default] if value is None else self._code_of(value)

    def label(self, code: int) -> str:
        return _category_label(self.name, self.categories, code)

    @property
    def cardinality(self) -> int:
        return max(self.categories.values()) + 1


@dataclass(frozen=True)
class BaselineMetricSpec:
    name: str
    source: str
    periods: tuple[str, ...]
    at_rest: bool = False   # learn only from records taken at rest (stream_context's definition)


@dataclass(frozen=True)
class FeatureConfig:
    features: dict[str, FeatureSpec]
    static: dict[str, StaticSpec]
    sampling_minutes: int
    window_size: int
    allowed_window_sizes: tuple[int, ...]
    time_periods: dict[str, tuple[int, int]]
    factor_channels: tuple[str, ...]
    factor_stats: tuple[str, ...]
    baseline_metrics: dict[str, BaselineMetricSpec]
    schema_version: int
    sha256: str
    path: str = ""
    # Baselines kept for the verdict's evidence only (not model inputs, so the checkpoint's layout is
    # unchanged), e.g. heart rate at rest per time of day.
    evidence_baselines: dict[str, BaselineMetricSpec] = field(default_factory=dict)

    @property
    def all_baseline_metrics(self) -> dict[str, BaselineMetricSpec]:
        """Model baselines and evidence baselines: what the baseline store keeps."""
        return {**self.baseline_metrics, **self.evidence_baselines}

    # Ordered views used to lay out arrays; order = order in the JSON file.
    @property
    def model_features(self) -> list[str]:
        """Dynamic features the model sees (numeric and categorical codes)."""
        return [n for n, s in self.features.items() if s.model_input]

    @property
    def numeric_features(self) -> list[str]:
        return [n for n, s in self.features.items() if s.is_numeric]

    @property
    def categorical_features(self) -> list[str]:
        return [n for n, s in self.features.items() if not s.is_numeric]

    @cached_property
    def numeric_bounds(self) -> dict[str, tuple[float, float]]:
        """Numeric feature -> (low, high) a value must lie in: its valid_range, else the finite floats
        (so NaN and +-inf fail the comparison). Looked up once per value by validation."""
        top = sys.float_info.max
        return {n: s.valid_range or (-top, top) for n, s in self.features.items() if s.is_numeric}

    @cached_property
    def feature_index(self) -> dict[str, int]:
        """Feature name -> its position in the config (the order of a record's encoded row)."""
        return {name: j for j, name in enumerate(self.features)}

    @cached_property
    def required_features(self) -> list[str]:
        return [n for n, s in self.features.items() if s.required]

    def channel_features(self, channel: str) -> list[str]:
        return [n for n, s in self.features.items() if s.channel == channel and s.model_input and s.is_numeric]

    @cached_property
    def period_by_hour(self) -> np.ndarray:
        """The time period of each hour of the day (24 names): looked up per row on hot paths."""
        return np.array([self.time_period_of_hour(h) for h in range(24)], dtype=object)

    def time_period_of_hour(self, hour: int) -> str:
        for name, (start, end) in self.time_periods.items():
            if (start <= hour < end) if start < end else (hour >= start or hour < end):
                return name
        raise ConfigError(f"time_periods do not cover hour {hour}")


def strip_comments(obj: Any) -> Any:
    """Drop keys starting with '_' (the configs' "_source" notes) at every level."""
    if isinstance(obj, dict):
        return {k: strip_comments(v) for k, v in obj.items() if not str(k).startswith("_")}
    return obj


# The package's two kinds of configuration, one style each:
# - a configuration file a person edits (features_config.json is read by hand below, for its own
#   error messages; baselines, rules, red flags) is a pydantic model on `StrictModel`: every
#   value is checked, and an unknown key is refused, so a typo fails loudly;
# - a group of parameters set in code (model architecture, training, simulation, patterns,
#   verdict, app) is a dataclass; where one is also read from JSON, `check_known_keys` refuses unknown keys.
class StrictModel(BaseModel):
    """Base of the configuration-file models: unknown keys refused, frozen once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_known_keys(cls: type, raw: dict, where: str) -> None:
    """Refuse keys a dataclass does not have: a typo in a config file must not be silently ignored."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known: {sorted(known)}")


# Known keys per level of features_config.json; keys starting with "_" are comments.
_TOP_KEYS = {"schema_version", "sampling_minutes", "window_size", "allowed_window_sizes", "features",
             "static_features", "time_periods", "factor_channels", "factor_stats", "baseline_metrics",
             "evidence_baselines"}
_FEATURE_KEYS = {"type", "channel", "required", "default", "unit", "valid_range", "normalization", "categories",
                 "category_mapping", "model_input", "description"}
_NORMALIZATION_KEYS = {"method", "mean", "std"}
_STATIC_KEYS = {"categories", "category_mapping", "default", "description"}
_BASELINE_METRIC_KEYS = {"source", "periods", "description", "at_rest"}


def _line_of(text: str, key: str, after: tuple[str, ...] = ()) -> int | None:
    """1-based line of `"key":` in the JSON text, searched after each of `after` in turn (the
    enclosing keys), so the line of the right occurrence is found; None if not found."""
    pos = 0
    for outer in after:
        i = text.find(f'"{outer}"', pos)
        if i < 0:
            break
        pos = i + 1
    i = text.find(f'"{key}"', pos)
    return None if i < 0 else text.count("\n", 0, i) + 1


def _check_keys(raw: dict, known: set[str], where: str, text: str = "", path: tuple[str, ...] = ()) -> None:
    """Refuse unknown keys (a misspelt `requried` must not be silently ignored), naming the line
    and the closest known key."""
    for key in raw:
        if key in known or str(key).startswith("_"):
            continue
        close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
        line = _line_of(text, str(key), path) if text else None
        hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {sorted(known)}"
        at = f" (line {line})" if line else ""
        raise ConfigError(f"{where}: unknown key '{key}'{at}{hint}")


def _categories_of(raw: dict, where: str) -> Any:
    """`categories`, or the seed card's name for it, `category_mapping` (not both)."""
    if "categories" in raw and "category_mapping" in raw:
        raise ConfigError(f"{where}: give 'categories' or its seed name 'category_mapping', not both")
    return raw["category_mapping"] if "category_mapping" in raw else _require(raw, "categories", where)


def _require(mapping: dict, key: str, where: str) -> Any:
    if key not in mapping:
        raise ConfigError(f"{where}: missing key '{key}'")
    return mapping[key]


def _parse_feature(name: str, raw: dict, where: str, text: str = "") -> FeatureSpec:
    where = f"{where}.features.{name}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be an object")
    _check_keys(raw, _FEATURE_KEYS, where, text, ("features", name))
    ftype = _require(raw, "type", where)
    if ftype not in (NUMERIC, CATEGORICAL):
        raise ConfigError(f"{where}.type: '{ftype}' is not one of {NUMERIC}, {CATEGORICAL}")
    channel = _require(raw, "channel", where)
    if channel not in CHANNELS:
        raise ConfigError(f"{where}.channel: '{channel}' is not one of {', '.join(CHANNELS)}")
    kwargs: dict[str, Any] = dict(
        name=name, type=ftype, channel=channel,
        required=bool(raw.get("required", False)), default=raw.get("default"),
        unit=str(raw.get("unit", "")), model_input=bool(raw.get("model_input", True)),
    )
    if ftype == NUMERIC:
        vr = raw.get("valid_range")
        if vr is not None:
            if (not isinstance(vr, list) or len(vr) != 2 or not all(isinstance(v, (int, float)) for v in vr)
                    or vr[0] >= vr[1]):
                raise ConfigError(f"{where}.valid_range: must be [low, high] with low < high")
            kwargs["valid_range"] = (float(vr[0]), float(vr[1]))
        norm = raw.get("normalization", {"method": "none"})
        if isinstance(norm, dict):
            _check_keys(norm, _NORMALIZATION_KEYS, f"{where}.normalization", text, ("features", name, "normalization"))
        method = norm.get("method", "none")
        if method not in NORMALISATIONS:
            raise ConfigError(f"{where}.normalization.method: '{method}' is not one of {', '.join(NORMALISATIONS)}")
        std = float(norm.get("std", 1.0))
        if not math.isfinite(std) or std <= 0:
            raise ConfigError(f"{where}.normalization.std: must be a positive number")
        kwargs.update(norm_method=method, norm_mean=float(norm.get("mean", 0.0)), norm_std=std)
    else:
        cats = _categories_of(raw, where)
        if not isinstance(cats, dict) or not cats:
            raise ConfigError(f"{where}.categories: must be a non-empty object label -> code")
        codes = list(cats.values())
        if sorted(codes) != list(range(len(codes))):
            raise ConfigError(f"{where}.categories: codes must be 0..{len(codes) - 1}, each once")
        kwargs["categories"] = {str(k).lower(): int(v) for k, v in cats.items()}
        default = kwargs["default"]
        if default not in (None, DERIVE_FROM_TIMESTAMP) and str(default).lower() not in kwargs["categories"]:
            raise ConfigError(f"{where}.default: '{default}' is not a category")
    return FeatureSpec(**kwargs)


def parse_feature_config(raw: dict, where: str = "features_config", sha256: str = "", text: str = "") -> FeatureConfig:
    """Parse a features config. Unknown keys at any level are refused (with the line when `text`,
    the file's JSON text, is given, and the closest known key); `category_mapping` is read as the
    seed card's name for `categories`."""
    _check_keys(raw, _TOP_KEYS, where, text)
    feats_raw = _require(raw, "features", where)
    if not isinstance(feats_raw, dict) or not feats_raw:
        raise ConfigError(f"{where}.features: must be a non-empty object")
    features = {name: _parse_feature(name, spec, where, text) for name, spec in feats_raw.items()}
    static = {}
    for name, spec in raw.get("static_features", {}).items():
        _check_keys(spec, _STATIC_KEYS, f"{where}.static_features.{name}", text, ("static_features", name))
        cats = {str(k).lower(): int(v) for k, v in _categories_of(spec, f"{where}.static_features.{name}").items()}
        default = str(spec.get("default", "unknown")).lower()
        if default not in cats:
            raise ConfigError(f"{where}.static_features.{name}.default: '{default}' is not a category")
        static[name] = StaticSpec(name=name, default=default, categories=cats)
    window_size = int(raw.get("window_size", 12))
    allowed = tuple(int(w) for w in raw.get("allowed_window_sizes", [6, 12, 24]))
    if window_size not in allowed:
        raise ConfigError(f"{where}.window_size: {window_size} is not in allowed_window_sizes {list(allowed)}")
    periods = {k: (int(v[0]), int(v[1])) for k, v in raw.get(
        "time_periods", {"morning": [6, 12], "day": [12, 18], "evening": [18, 22], "night": [22, 6]}).items()}
    factor_channels = tuple(raw.get("factor_channels", ["physiological", "activity"]))
    for ch in factor_channels:
        if ch not in CHANNELS:
            raise ConfigError(f"{where}.factor_channels: '{ch}' is not a channel")
    baseline_metrics = _baseline_specs(raw, "baseline_metrics", features, periods, where, text)
    evidence_baselines = _baseline_specs(raw, "evidence_baselines", features, periods, where, text)
    for name in evidence_baselines:
        if name in baseline_metrics:
            raise ConfigError(f"{where}.evidence_baselines.{name}: already a baseline_metrics entry")
    return FeatureConfig(
        features=features, static=static,
        sampling_minutes=int(raw.get("sampling_minutes", 5)),
        window_size=window_size, allowed_window_sizes=allowed, time_periods=periods,
        factor_channels=factor_channels,
        factor_stats=tuple(raw.get("factor_stats", ["mean", "std", "max", "min"])),
        baseline_metrics=baseline_metrics, evidence_baselines=evidence_baselines,
        schema_version=int(raw.get("schema_version", 1)), sha256=sha256,
    )


def _baseline_specs(raw: dict, section: str, features: dict, periods: dict, where: str,
                    text: str) -> dict[str, BaselineMetricSpec]:
    out = {}
    for name, spec in raw.get(section, {}).items():
        _check_keys(spec, _BASELINE_METRIC_KEYS, f"{where}.{section}.{name}", text, (section, name))
        source = _require(spec, "source", f"{where}.{section}.{name}")
        if source not in features or not features[source].is_numeric:
            raise ConfigError(f"{where}.{section}.{name}.source: '{source}' is not a numeric feature")
        periods_m = tuple(spec.get("periods", ["all"]))
        for p in periods_m:
            if p != "all" and p not in periods:
                raise ConfigError(f"{where}.{section}.{name}.periods: '{p}' is not a time period")
        out[name] = BaselineMetricSpec(name=name, source=source, periods=periods_m, at_rest=bool(spec.get("at_rest", False)))
    return out


def load_feature_config(path: str | Path | None = None) -> FeatureConfig:
    """Load and validate a features config; errors name the file and the key."""
    path = Path(path) if path else DEFAULT_FEATURES_CONFIG
    try:
        data = path.read_bytes()
        raw = json.loads(data)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    cfg = parse_feature_config(raw, where=path.name, sha256=hashlib.sha256(data).hexdigest(),
                               text=data.decode("utf-8", errors="replace"))
    return FeatureConfig(**{**cfg.__dict__, "path": str(path)})


@lru_cache(maxsize=1)
def default_feature_config() -> FeatureConfig:
    return load_feature_config(DEFAULT_FEATURES_CONFIG)
