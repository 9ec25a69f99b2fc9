"""The baseline configuration (configs/baseline_config.json): blend curve, guard, forgetting, group priors."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from ..config import CONFIG_DIR, ConfigError, FeatureConfig, StrictModel, strip_comments


DEFAULT_BASELINE_CONFIG = CONFIG_DIR / "baseline_config.json"


ALL = "all"


MeanStd = tuple[float, float]


class BlendConfig(StrictModel):
    full_personal_days: float = Field(7.0, gt=0)
    curve: Literal["linear", "smoothstep"] = "linear"
    min_personal_count: int = Field(12, ge=2)


class GuardConfig(StrictModel):
    skip_low_quality: bool = True
    winsor_k: float = Field(4.0, gt=0)
    winsor_min_count: int = Field(30, ge=2)
    day_k: float = Field(3.0, gt=0)
    min_guard_days: int = Field(3, ge=2)
    min_day_values: int = Field(6, ge=1)
    max_frozen_days: int = Field(10, ge=0)
    day_std_floor_frac: float = Field(0.25, ge=0)


class ForgettingConfig(StrictModel):
    max_effective_count: float = Field(8640.0, gt=1)
    max_effective_days: float = Field(60.0, gt=1)


class PeriodAdjust(StrictModel):
    mean_add: float = 0.0
    mean_mul: float = Field(1.0, gt=0)
    std_mul: float = Field(1.0, gt=0)


class GroupTable(StrictModel):
    overall: dict[str, MeanStd]
    by_age_sex: dict[str, dict[str, dict[str, MeanStd]]] = {}
    period_adjust: dict[str, dict[str, PeriodAdjust]] = {}

    @model_validator(mode="after")
    def _positive_std(self) -> "GroupTable":
        cells = [("overall", self.overall)] + [(f"by_age_sex.{a}.{s}", c) for a, by_sex in self.by_age_sex.items()
                                               for s, c in by_sex.items()]
        for where, cell in cells:
            for metric, (mean, std) in cell.items():
                if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
                    raise ValueError(f"{where}.{metric}: needs a finite mean and a std > 0, got [{mean}, {std}]")
        return self


class BaselineConfig(StrictModel):
    """Policy and group priors of the adaptive baseline (`configs/baseline_config.json`)."""

    schema_version: int = 1
    blend: BlendConfig = BlendConfig()
    guard: GuardConfig = GuardConfig()
    forgetting: ForgettingConfig = ForgettingConfig()
    min_std: dict[str, float] = {}
    group: GroupTable
    path: str = ""

    def alpha(self, days: float | np.ndarray) -> float | np.ndarray:
        """Personal weight from days of history (0 at cold start, 1 from `full_personal_days`)."""
        if isinstance(days, (int, float)) or np.ndim(days) == 0:  # scalar fast path; same IEEE operations
            x = min(max(float(days) / self.blend.full_personal_days, 0.0), 1.0)
        else:
            x = np.clip(np.asarray(days, dtype=np.float64) / self.blend.full_personal_days, 0.0, 1.0)
        return x * x * (3.0 - 2.0 * x) if self.blend.curve == "smoothstep" else x

    def group_stats(self, metric: str, period: str = ALL, age_group: str | None = None,
                    sex: str | None = None) -> MeanStd:
        """Group (mean, std) for a metric; unknown age or sex pools the matching cells.

        Pooling is an equal-weight mixture: mean of means, variance = mean of variances +
        variance of the means. Neither known -> the explicit `overall` entry.
        """
        table = self.group.by_age_sex
        age_known = age_group in table
        sex_known = any(sex in by_sex for by_sex in table.values())
        cells = []
        for a in ([age_group] if age_known else list(table)):
            by_sex = table[a]
            cells += [by_sex[s][metric] for s in ([sex] if sex in by_sex else list(by_sex)) if metric in by_sex[s]]
        if (age_known or sex_known) and cells:
            means = np.array([m for m, _ in cells])
            var = float(np.mean([s * s for _, s in cells]) + means.var())
            mean, std = float(means.mean()), math.sqrt(var)
        elif metric in self.group.overall:
            mean, std = self.group.overall[metric]
        else:
            raise ConfigError(f"{self.path or 'baseline_config'}: group.overall has no metric '{metric}'")
        adj = self.group.period_adjust.get(period, {}).get(metric)
        if adj is not None:
            mean, std = mean * adj.mean_mul + adj.mean_add, std * adj.std_mul
        return mean, std

    def check_against(self, config: FeatureConfig) -> None:
        """Cross-check with the feature config: every baseline metric has a group prior, labels exist."""
        where = self.path or "baseline_config"
        for metric in config.all_baseline_metrics:
            if metric not in self.group.overall:
                raise ConfigError(f"{where}: group.overall has no entry for baseline metric '{metric}'")
            for a, by_sex in self.group.by_age_sex.items():
                for s, cell in by_sex.items():
                    if metric not in cell:
                        raise ConfigError(f"{where}: group.by_age_sex.{a}.{s} has no entry for '{metric}'")
        for name, labels in (("age_group", self.group.by_age_sex.keys()),
                             ("sex", {s for by_sex in self.group.by_age_sex.values() for s in by_sex})):
            spec = config.static.get(name)
            for label in labels:
                if spec is not None and label not in spec.categories:
                    raise ConfigError(f"{where}: group.by_age_sex uses {name} '{label}', "
                                      f"not a category of static feature '{name}'")
        for period in self.group.period_adjust:
            if period not in config.time_periods:
                raise ConfigError(f"{where}: group.period_adjust.{period} is not a time period")


def parse_baseline_config(raw: dict, where: str = "baseline_config") -> BaselineConfig:
    try:
        return BaselineConfig.model_validate({**strip_comments(raw), "path": where})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"{where}: {loc}: {err['msg']}") from exc


def load_baseline_config(path: str | Path | None = None) -> BaselineConfig:
    """Load and validate a baseline config; errors name the file and the key."""
    path = Path(path) if path else DEFAULT_BASELINE_CONFIG
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    return parse_baseline_config(raw, where=str(path))


_DEFAULT_BCFG: BaselineConfig | None = None


def default_baseline_config() -> BaselineConfig:
    global _DEFAULT_BCFG
    if _DEFAULT_BCFG is None:
        _DEFAULT_BCFG = load_baseline_config()
    return _DEFAULT_BCFG
