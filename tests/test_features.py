"""FeatureCalculator / Windows: layout, masks, normalisation, time deltas, context features."""
from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from wearable_monitor.config import DEFAULT_FEATURES_CONFIG, default_feature_config, load_feature_config
from wearable_monitor.features import FeatureCalculator, Windows, normalise
from wearable_monitor.data.records import records_to_frame

CFG = default_feature_config()
START = datetime(2024, 1, 3, 8, 0)  # a Wednesday morning


def make_records(n, user="u1", start=START, step_min=5, **features):
    """n records of one user; feature values may be scalars or per-record lists."""
    recs = []
    for i in range(n):
        feats = {k: (v[i] if isinstance(v, (list, np.ndarray)) else v) for k, v in features.items()}
        recs.append({"timestamp": (start + timedelta(minutes=step_min * i)).isoformat(), "deviceId": user,
                     "features": {k: v for k, v in feats.items() if v is not None},
                     "static_features": {"age_group": "40-49", "sex": "female"}})
    return recs


def make_frame(n, user="u1", **kw):
    return records_to_frame(make_records(n, user=user, **kw), CFG)


def random_frame(rng, n, user, missing=0.2):
    vals = {"hr": rng.normal(70, 8, n), "hr_resting": rng.normal(62, 3, n), "hrv_rmssd": rng.lognormal(3.6, 0.3, n),
            "spo2": rng.uniform(92, 100, n), "steps": rng.integers(0, 500, n).astype(float),
            "calories": rng.uniform(2, 20, n)}
    for v in vals.values():
        v[rng.random(n) < missing] = np.nan
    return make_frame(n, user=user, **{k: [None if math.isnan(x) else float(x) for x in v] for k, v in vals.items()})


def test_shapes_names_and_dtypes():
    frame = pd.concat([make_frame(30, "a", hr=70.0), make_frame(20, "b", hr=80.0)], ignore_index=True)
    w = FeatureCalculator(CFG).windows(frame)
    N, T = (30 - 11) + (20 - 11), 12
    assert len(w) == N and w.window_size == T
    assert w.numeric_names == [n for n in CFG.model_features if CFG.features[n].is_numeric]
    assert "baseline_hrv_mean" not in w.numeric_names  # model_input: false
    assert w.categorical_names == ["sleep_state", "time_period_primary", "data_quality"]
    assert w.categorical_cardinalities == [4, 4, 3]
    assert w.static_names == ["age_group", "sex", "exercise"] and w.static_cardinalities == [6, 3, 4]
    Fn, Fc, K, S, C = (len(w.numeric_names), len(w.categorical_names), len(w.known_names),
                       len(w.static_names), len(w.context_names))
    assert w.numeric.shape == w.numeric_mask.shape == (N, T, Fn) and w.numeric.dtype == np.float32
    assert w.categorical.shape == (N, T, Fc) and w.categorical.dtype == np.int64
    assert w.dt.shape == w.t.shape == (N, T) and w.known.shape == (N, T, K) and K == 5
    assert w.static.shape == (N, S) and w.static.dtype == np.int64
    assert w.context.shape == w.context_mask.shape == (N, C)
    n_keys = sum(len(spec.periods) for spec in CFG.baseline_metrics.values())
    assert C == 2 * 4 + 2 * len(CFG.baseline_metrics) + 2 * n_keys + 2
    assert {"physiological_mean", "activity_min", "hrv_deviation_abs", "hrv_z_score", "baseline_alpha",
            "observed_fraction"} <= set(w.context_names)
    assert w.end_times.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(w.static[0], [2, 0, 3])  # 40-49, female, exercise unknown


def test_known_time_features():
    frame = make_frame(12, start=datetime(2024, 1, 6, 6, 0), hr=70.0)  # Saturday 06:00
    w = FeatureCalculator(CFG).windows(frame)
    k = dict(zip(w.known_names, w.known[0, 0]))
    assert k["hour_sin"] == pytest.approx(1.0, abs=1e-6) and k["hour_cos"] == pytest.approx(0.0, abs=1e-6)
    assert k["weekday_sin"] == pytest.approx(math.sin(2 * math.pi * 5 / 7), abs=1e-6)
    assert k["is_weekend"] == 1.0


def test_masks_and_missing_codes():
    hr = [70.0, None, 75.0, None] * 3
    sleep = ["deep", None, "light", "rem"] * 3
    frame = make_frame(12, hr=hr, sleep_state=sleep)
    w = FeatureCalculator(CFG).windows(frame)
    j = w.numeric_names.index("hr")
    np.testing.assert_array_equal(w.numeric_mask[0, :, j], [h is not None for h in hr])
    assert np.all(w.numeric[0, :, j][w.numeric_mask[0, :, j] == 0] == 0)
    # a feature never given is fully masked and zero
    jr = w.numeric_names.index("resp_rate")
    assert w.numeric_mask[0, :, jr].sum() == 0 and np.all(w.numeric[0, :, jr] == 0)
    c = w.categorical_names.index("sleep_state")
    np.testing.assert_array_equal(w.categorical[0, :, c], [2, 4, 1, 3] * 3)  # missing -> cardinality 4
    tp = w.categorical_names.index("time_period_primary")
    assert np.all(w.categorical[0, :, tp] == CFG.features["time_period_primary"].categories["morning"])
    assert w.context[0, w.context_names.index("observed_fraction")] == pytest.approx(6 / (12 * len(w.numeric_names)))


def test_normalisation_values():
    hrv = math.exp(3.6 + 0.55)   # log_zscore -> 1
    steps = math.exp(2.0 + 2.5) - 1  # log1p_zscore -> 1
    frame = make_frame(12, hr=87.0, hrv_rmssd=hrv, steps=steps, spo2=94.5)
    w = FeatureCalculator(CFG).windows(frame)
    got = dict(zip(w.numeric_names, w.numeric[0, -1]))
    assert got["hr"] == pytest.approx(1.0, abs=1e-5)
    assert got["hrv_rmssd"] == pytest.approx(1.0, abs=1e-5)
    assert got["steps"] == pytest.approx(1.0, abs=1e-5)
    assert got["spo2"] == pytest.approx(-1.0, abs=1e-5)
    none_spec = dataclasses.replace(CFG.features["hr"], norm_method="none")
    np.testing.assert_array_equal(normalise(np.array([80.0, np.nan]), none_spec), [80.0, np.nan])
    with pytest.raises(ValueError, match="hrv_rmssd.*row 1"):
        normalise(np.array([30.0, 0.0]), CFG.features["hrv_rmssd"])


def test_dt_and_t_with_irregular_gap():
    minutes = [0, 5, 10, 40, 45, 50, 55]
    recs = [{"timestamp": (START + timedelta(minutes=m)).isoformat(), "deviceId": "u", "features": {"hr": 70}}
            for m in minutes]
    w = FeatureCalculator(CFG, window_size=6).windows(records_to_frame(recs, CFG))
    assert len(w) == 2
    np.testing.assert_array_equal(w.dt[0], [5, 5, 5, 30, 5, 5])
    np.testing.assert_array_equal(w.t[0], [-50, -45, -40, -10, -5, 0])
    np.testing.assert_array_equal(w.dt[1], [5, 5, 30, 5, 5, 5])  # first step is sampling_minutes, not the gap
    np.testing.assert_array_equal(w.t[1], [-50, -45, -15, -10, -5, 0])


def test_windows_never_cross_users_and_stride():
    frame = pd.concat([make_frame(15, "a", hr=60.0), make_frame(15, "b", hr=90.0),
                       make_frame(11, "c", hr=70.0)], ignore_index=True)
    calc = FeatureCalculator(CFG)
    w = calc.windows(frame)
    assert len(w) == 8  # 4 + 4, user c has fewer records than a window
    users = frame["user_id"].to_numpy()
    for end, uid in zip(w.end_index, w.user_ids):
        assert set(users[end - 11:end + 1]) == {uid}
    j = w.numeric_names.index("hr")
    per_user = {u: w.numeric[w.user_ids == u][:, :, j] for u in ("a", "b")}
    assert np.all(per_user["a"] == (60 - 72) / 15) and np.all(per_user["b"] == pytest.approx((90 - 72) / 15))
    ws = calc.windows(frame, stride=2)
    np.testing.assert_array_equal(ws.end_index, [11, 13, 26, 28])
    with pytest.raises(ValueError, match="not contiguous"):
        calc.windows(frame.iloc[[0, 20, 1] + list(range(2, 15))].reset_index(drop=True))
    with pytest.raises(ValueError, match="row 1"):
        calc.windows(frame.iloc[[1, 0] + list(range(2, 15))].reset_index(drop=True))


def test_factor_stats_match_numpy():
    rng = np.random.default_rng(3)
    frame = random_frame(rng, 20, "u")
    calc = FeatureCalculator(CFG, window_size=6)
    w = calc.windows(frame)
    for ch in CFG.factor_channels:
        names = CFG.channel_features(ch)
        for i, end in enumerate(w.end_index):
            rows = frame.iloc[end - 5:end + 1]
            vals = np.concatenate([normalise(rows[n].to_numpy(), CFG.features[n]) for n in names])
            vals = vals[~np.isnan(vals)]
            expect = {"mean": vals.mean(), "std": vals.std(), "max": vals.max(), "min": vals.min()}
            for s in CFG.factor_stats:
                k = w.context_names.index(f"{ch}_{s}")
                assert w.context[i, k] == pytest.approx(expect[s], abs=1e-4), (ch, s, i)
                assert w.context_mask[i, k] == 1


def test_factor_channel_without_values_is_masked():
    w = FeatureCalculator(CFG, window_size=6).windows(make_frame(6, hr=70.0))
    k = w.context_names.index("activity_mean")
    assert w.context_mask[0, k] == 0 and w.context[0, k] == 0
    assert w.context_mask[0, w.context_names.index("physiological_std")] == 1


def test_baseline_deviation_and_z_score():
    day = make_frame(12, hr_resting=70.0, hr=150.0)
    day = day.assign(bl_hr_resting_mean=62.0, bl_hr_resting_std=4.0, bl_hr_resting_night_mean=58.0,
                     bl_hr_resting_night_std=3.0, bl_hr_mean=60.0, bl_hr_std=1.0, bl_alpha=0.3)
    night = make_frame(12, user="n", start=datetime(2024, 1, 3, 23, 0), hr_resting=70.0)
    night = night.assign(bl_hr_resting_mean=62.0, bl_hr_resting_std=4.0, bl_hr_resting_night_mean=58.0,
                         bl_hr_resting_night_std=3.0)
    w = FeatureCalculator(CFG).windows(pd.concat([day, night], ignore_index=True))
    ctx = {u: dict(zip(w.context_names, w.context[i])) for i, u in enumerate(w.user_ids)}
    msk = {u: dict(zip(w.context_names, w.context_mask[i])) for i, u in enumerate(w.user_ids)}
    assert ctx["u1"]["hr_resting_z_score"] == pytest.approx(2.0)           # (70 - 62) / 4, day: period "all"
    assert ctx["u1"]["hr_resting_deviation_abs"] == pytest.approx(8 / 9)   # scaled by the norm std 9
    assert ctx["n"]["hr_resting_z_score"] == pytest.approx(4.0)            # night window: (70 - 58) / 3
    assert ctx["u1"]["hr_z_score"] == 10.0                                  # (150 - 60) / 1 clipped
    assert ctx["u1"]["baseline_alpha"] == pytest.approx(0.3) and msk["u1"]["baseline_alpha"] == 1
    assert msk["n"]["baseline_alpha"] == 0 and ctx["n"]["baseline_alpha"] == 0
    for name in ("resp_rate_z_score", "resp_rate_deviation_abs", "hrv_z_score"):  # no baseline/no data
        assert msk["u1"][name] == 0 and ctx["u1"][name] == 0


def test_record_level_hrv_baseline_seed_example():
    """The seed's records carry baseline_hrv_mean/std; they serve as the hrv baseline."""
    recs = make_records(14, hr=[70 + 0.2 * i for i in range(14)], hrv_rmssd=[75 - 0.5 * i for i in range(14)],
                        hr_resting=65, time_period_primary="day", data_quality="high",
                        baseline_hrv_mean=75.0, baseline_hrv_std=5.0)
    calc = FeatureCalculator(CFG)
    w = calc.window_from_records(recs)
    assert len(w) == 1 and w.end_times[0] == np.datetime64(START + timedelta(minutes=65))
    hrv_mean = np.mean([75 - 0.5 * i for i in range(2, 14)])
    ctx = dict(zip(w.context_names, w.context[0]))
    assert ctx["hrv_z_score"] == pytest.approx((hrv_mean - 75) / 5, abs=1e-5)
    assert ctx["hrv_deviation_abs"] == pytest.approx((math.log(hrv_mean) - math.log(75)) / 0.55, abs=1e-5)
    # explicit baselines take precedence over the record's own
    w2 = calc.window_from_records(recs, baselines={"hrv": {"mean": 80.0, "std": 4.0}, "alpha": 0.5})
    ctx2 = dict(zip(w2.context_names, w2.context[0]))
    assert ctx2["hrv_z_score"] == pytest.approx((hrv_mean - 80) / 4, abs=1e-5)
    assert ctx2["baseline_alpha"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="need 12 records"):
        calc.window_from_records(recs[:5])


def test_out_of_range_codes_in_a_frame_name_the_row_and_column():
    """Hand-built frames skip validation; a code the model has no embedding for must fail loudly."""
    calc = FeatureCalculator(CFG)
    frame = make_frame(14, sleep_state="light")
    bad = frame.copy()
    bad.loc[9, "sleep_state"] = 7.0      # sleep_state has codes 0..3
    bad.loc[11, "data_quality"] = 1.5    # a later column, not an integer code
    with pytest.raises(ValueError, match=r"frame row 9: sleep_state code 7.0 is not in 0..3"):
        calc.windows(bad)
    bad = frame.copy()
    bad.loc[4, "static_sex"] = 5
    with pytest.raises(ValueError, match=r"frame row 4: static_sex code 5 is not in 0\.\."):
        calc.windows(bad)
    # only some static columns present: the others get their config default
    w = calc.windows(frame.drop(columns=["static_sex"]))
    assert w.static[0, w.static_names.index("sex")] == CFG.static["sex"].categories[CFG.static["sex"].default]
    assert w.static[0, w.static_names.index("age_group")] == CFG.static["age_group"].categories["40-49"]


def test_sparse_window_without_static_is_finite():
    rng = np.random.default_rng(0)
    names = CFG.numeric_features
    recs = []
    for i in range(12):
        feats = {n: float(CFG.features[n].default or 1.0) for n in names if rng.random() > 0.4}
        recs.append({"timestamp": (START + timedelta(minutes=5 * i)).isoformat(), "features": feats})
    calc = FeatureCalculator(CFG)
    w = calc.window_from_records(recs)
    for name in Windows.array_fields():
        arr = getattr(w, name)
        if arr.dtype.kind in "fi":
            assert np.all(np.isfinite(arr)), name
    defaults = [CFG.static[n].categories[CFG.static[n].default] for n in w.static_names]
    np.testing.assert_array_equal(w.static[0], defaults)
    observed = w.context[0, w.context_names.index("observed_fraction")]
    assert 0.4 < observed < 0.8
    # a hand-built frame without static columns or time_period_primary works the same way
    frame = records_to_frame(recs, CFG).drop(columns=["static_age_group", "time_period_primary"])
    w2 = calc.windows(frame)
    assert w2.static[0, 0] == CFG.static["age_group"].categories["unknown"]
    assert w2.categorical[0, 0, w2.categorical_names.index("time_period_primary")] == 4  # missing index


def test_min_observed_filters_empty_windows():
    hr = [70.0] * 12 + [None] * 12 + [70.0] * 6
    w = FeatureCalculator(CFG, window_size=6).windows(make_frame(30, hr=hr), min_observed=0.5)
    frac = np.array([(w.numeric_mask[i].sum(axis=1) > 0).mean() for i in range(len(w))])
    assert np.all(frac >= 0.5)
    assert len(w) < 25 and 20 not in w.end_index  # rows 15..20 have no observation


def test_windows_indexing_concat_and_tensors():
    rng = np.random.default_rng(1)
    frame = pd.concat([random_frame(rng, 20, "a"), random_frame(rng, 18, "b")], ignore_index=True)
    w = FeatureCalculator(CFG, window_size=6).windows(frame)
    one = w[3]
    assert len(one) == 1 and one.numeric.shape == (1, 6, len(w.numeric_names))
    sel = w[w.user_ids == "b"]
    assert len(sel) == 13 and set(sel.user_ids) == {"b"}
    back = Windows.concat([w[:5], w[5:]])
    for name in Windows.array_fields():
        np.testing.assert_array_equal(getattr(back, name), getattr(w, name))
    other = FeatureCalculator(CFG, window_size=12).windows(frame)
    with pytest.raises(ValueError, match="window size"):
        Windows.concat([w, other])
    tensors = w.to_tensors()
    import torch

    assert tensors["numeric"].dtype == torch.float32 and tensors["categorical"].dtype == torch.int64
    assert tuple(tensors["context"].shape) == w.context.shape and "user_ids" not in tensors


def test_window_summary():
    frame = make_frame(12, hr=[70.0, 80.0, None] * 4, data_quality=["high", "low", "high"] * 4)
    frame.loc[6:, "timestamp"] += pd.Timedelta(minutes=20)
    s = FeatureCalculator(CFG).window_summary(frame)
    assert s["measurements"]["hr"] == {"mean": 75.0, "min": 70.0, "max": 80.0, "unit": "bpm"}
    assert s["data_quality"]["low_quality_points"] == 4
    assert s["data_quality"]["max_gap_minutes"] == 25.0
    assert s["window"]["n_points"] == 12 and s["window"]["time_period"] == "morning"
    assert s["window"]["observed_fraction"] + s["data_quality"]["missing_fraction"] == pytest.approx(1.0)


def test_window_size_must_be_allowed():
    with pytest.raises(ValueError, match="window_size 25"):
        FeatureCalculator(CFG, window_size=25)
    assert FeatureCalculator(CFG).window_size == 12


def test_new_channel_needs_only_config_edit(tmp_path):
    raw = json.loads(DEFAULT_FEATURES_CONFIG.read_text())
    raw["features"]["skin_conductance"] = {
        "type": "numeric", "channel": "physiological", "unit": "uS", "valid_range": [0, 100],
        "normalization": {"method": "zscore", "mean": 5.0, "std": 2.0}}
    raw["factor_channels"] = ["physiological", "activity", "environment"]
    path = tmp_path / "features_config.json"
    path.write_text(json.dumps(raw))
    cfg = load_feature_config(path)

    recs = make_records(12, hr=72.0, skin_conductance=25.0, light=100.0)  # skin conductance z = 10
    frame_new = records_to_frame(recs, cfg)
    assert "skin_conductance" in frame_new.columns
    w_new = FeatureCalculator(cfg).window_from_records(frame_new)
    w_old = FeatureCalculator(CFG).window_from_records(records_to_frame(recs, CFG))
    assert "skin_conductance" in w_new.numeric_names and "skin_conductance" not in w_old.numeric_names
    assert w_new.numeric.shape[2] == w_old.numeric.shape[2] + 1
    j = w_new.numeric_names.index("skin_conductance")
    assert np.all(w_new.numeric[0, :, j] == pytest.approx(10.0)) and np.all(w_new.numeric_mask[0, :, j] == 1)
    new, old = dict(zip(w_new.context_names, w_new.context[0])), dict(zip(w_old.context_names, w_old.context[0]))
    assert old["physiological_max"] == pytest.approx(0.0) and new["physiological_max"] == pytest.approx(10.0)
    assert new["physiological_mean"] == pytest.approx(5.0)  # hr z = 0 and conductance z = 10, pooled
    assert "environment_mean" in new and "environment_mean" not in old


def test_guard_memory_becomes_multi_day_context():
    """Days the baseline guard held back (an ongoing deviation) reach the model as context."""
    from wearable_monitor.baselines import causal_baseline_columns
    from wearable_monitor.simulation.simulator import EventRequest, simulate_user
    from datetime import datetime

    sim = simulate_user("ill", days=14, seed=5, events=[EventRequest("illness", start=datetime(2024, 1, 9), days=4)])
    frame = causal_baseline_columns(sim.frame)
    w = FeatureCalculator().windows(frame)
    day_cols = [i for i, n in enumerate(w.context_names) if n.endswith("_suspect_days")]
    assert len(day_cols) == sum(len(s.periods) for s in CFG.baseline_metrics.values())
    assert w.context_mask[:, day_cols].all()
    evidence = w.context[:, day_cols].sum(axis=1)  # how many metrics were held back, and how long
    ill = sim.labels.iloc[0]
    end = pd.DatetimeIndex(w.end_times)
    before = end < ill["start"]
    later_in_illness = (end >= ill["start"] + pd.Timedelta(days=2)) & (end < ill["end"])
    assert evidence[later_in_illness].mean() > 3 * evidence[before].mean()
    assert evidence[later_in_illness].mean() > 0.5


def test_the_normaliser_names_the_first_value_a_log_cannot_take():
    """hrv_rmssd is log-normalised and steps log1p: a value at or below the log's floor is an error naming
    the feature and the row; a column normalised by "none" takes any value; NaN stays missing."""
    from wearable_monitor.features.normalise import ColumnNormaliser

    cfg = default_feature_config()
    norm = ColumnNormaliser([cfg.features[n] for n in ("hr", "sleep_state", "hrv_rmssd", "steps")])
    ok = norm(np.array([[60.0, -1.0, 40.0, 0.0], [np.nan, 2.0, np.nan, np.nan]]))
    assert np.isfinite(ok[0]).all() and np.isnan(ok[1, [0, 2, 3]]).all() and ok[1, 1] == 2.0
    with pytest.raises(ValueError, match=r"hrv_rmssd: value 0\.0 at frame row 1 cannot be log_zscore-normalised"):
        norm(np.array([[60.0, 0.0, 40.0, 0.0], [61.0, 0.0, 0.0, -1.5]]))
    with pytest.raises(ValueError, match=r"steps: value -1\.5 at frame row 2 cannot be log1p_zscore"):
        norm(np.array([[60.0, 0.0, 40.0, 0.0], [61.0, 0.0, 41.0, 0.0], [62.0, -9.0, 42.0, -1.5]]))
    safe = norm.safe(np.array([[60.0, 0.0, 0.0, -1.5]]))  # the baseline's reading: NaN, not an error
    assert np.isnan(safe[0, 2:]).all() and np.isfinite(safe[0, :2]).all()
