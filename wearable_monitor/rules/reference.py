"""Medical reference classifications (rules document, section "医学参考标准").

Cut-offs come from the `reference` block of the rules config. These label a
value for the rules' text and evidence; they screen, they do not diagnose.
"""
from __future__ import annotations

import math
import re

from .config import Reference

BP_CATEGORIES = ("normal", "elevated", "stage_1", "stage_2")


def bp_category(systolic: float, diastolic: float, ref: Reference) -> str:
    """Normal <120/<80; elevated 120-129 and <80; stage 1 130-139 or 80-89; stage 2 >=140 or >=90."""
    bp = ref.blood_pressure
    if systolic >= bp.stage2_systolic or diastolic >= bp.stage2_diastolic:
        return "stage_2"
    if systolic >= bp.stage1_systolic or diastolic >= bp.stage1_diastolic:
        return "stage_1"
    if systolic >= bp.elevated_systolic:
        return "elevated"
    return "normal"


def resting_hr_category(hr: float, ref: Reference) -> str:
    lo, hi = ref.resting_hr_normal
    return "low" if hr < lo else "high" if hr > hi else "normal"


def max_hr(age: float, ref: Reference) -> float:
    """Estimated maximum heart rate: 220 - age."""
    return ref.max_hr_base - age


def target_zone(age: float, ref: Reference) -> tuple[float, float]:
    """Exercise target zone: 50-85 % of the estimated maximum heart rate."""
    m = max_hr(age, ref)
    lo, hi = ref.target_zone_fraction
    return lo * m, hi * m


def bmi(weight_kg: float, height_cm: float) -> float:
    return weight_kg / (height_cm / 100.0) ** 2


def bmi_category(value: float, ref: Reference) -> str:
    """Chinese adult cut-offs of the document: <18.5 underweight, 18.5-23.9 normal, 24-27.9 overweight, >=28 obese."""
    c = ref.bmi_cutoffs
    if value < c["underweight_below"]:
        return "underweight"
    if value >= c["obese_from"]:
        return "obese"
    if value >= c["overweight_from"]:
        return "overweight"
    return "normal"


def body_fat_range(sex: str | None, age: float | None, ref: Reference) -> tuple[float, float] | None:
    """Normal body-fat range: men 15-20 %, women 20-25 %, shifted up per decade above the base age.

    The document says "every 10 years add 2-3 %" without a starting age; the
    config fixes both (base age and per-decade step) and docs/rules.md states it.
    """
    if sex not in ref.body_fat_normal:
        return None
    lo, hi = ref.body_fat_normal[sex]
    if age is not None and age > ref.body_fat_base_age:
        shift = (age - ref.body_fat_base_age) / 10.0 * ref.body_fat_per_decade
        lo, hi = lo + shift, hi + shift
    return lo, hi


def body_fat_category(pct: float, sex: str | None, age: float | None, ref: Reference) -> str | None:
    rng = body_fat_range(sex, age, ref)
    if rng is None:
        return None
    return "low" if pct < rng[0] else "high" if pct > rng[1] else "normal"


def age_of(age_group: str | int | None, named_groups: dict[str, tuple[float, float]]) -> float | None:
    """A representative age for '40-49', '70+', 45, or a named group ('elderly' -> its range middle)."""
    if age_group is None:
        return None
    if isinstance(age_group, (int, float)):
        return float(age_group)
    g = age_group.strip().lower()
    if g in named_groups:
        lo, hi = named_groups[g]
        return (lo + min(hi, 90.0)) / 2.0
    m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", g)
    if m:
        return (int(m.group(1)) + int(m.group(2)) + 1) / 2.0
    m = re.fullmatch(r"(\d+)\s*\+", g) or re.fullmatch(r"(\d+)", g)
    if m:
        return float(m.group(1)) + (5.0 if g.endswith("+") else 0.0)
    return None


def named_age_group(age: float | None, named_groups: dict[str, tuple[float, float]]) -> str | None:
    """'young' / 'adult' / 'elderly' (the document's PersonalizedRules.ageGroup) for an age."""
    if age is None or math.isnan(age):
        return None
    for name, (lo, hi) in named_groups.items():
        if lo <= age < hi:
            return name
    return None
