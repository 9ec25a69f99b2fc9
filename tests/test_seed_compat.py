"""Issue 20: the seed model card's usage works as written (names, strict JSON, supplied baselines,
window sizes 6-24, missing heart rate, config names and typos, threshold warning)."""
from __future__ import annotations

import json
import subprocess
import sys
import warnings
from datetime import datetime, timedelta

import pytest

from wearable_monitor.baselines import BaselineStorage
from wearable_monitor.config import REPO_ROOT, ConfigError, DEFAULT_FEATURES_CONFIG, load_feature_config
from wearable_monitor.detector import InputError, WearableAnomalyDetector
from wearable_monitor.features import FeatureCalculator

START = datetime(2025, 3, 3, 10, 0)


def make_point(ts, hrv, hr, user="demo_user", baseline=(75.0, 5.0)):
    """The card's quickstart record."""
    p = {"timestamp": ts.isoformat(), "deviceId": user,
         "features": {"hr": hr, "hr_resting": 65, "hrv_rmssd": hrv, "time_period_primary": "day",
                      "data_quality": "high"},
         "static_features": {"age_group": 2, "sex": 0, "exercise": 1}}
    if baseline is not None:
        p["features"].update(baseline_hrv_mean=baseline[0], baseline_hrv_std=baseline[1])
    return p


def card_window(n=12, user="demo_user", baseline=(75.0, 5.0)):
    return [make_point(START + timedelta(minutes=5 * i), 75 - i * 0.5, 70 + i * 0.2, user, baseline) for i in range(n)]


@pytest.fixture(scope="module")
def detector():
    return WearableAnomalyDetector()


# ----------------------------------------------------------------------------- names and commands

def test_the_cards_import_names_are_the_package_objects():
    sys.path.insert(0, str(REPO_ROOT))
    import feature_calculator
    import wearable_anomaly_detector

    from wearable_monitor import FeatureCalculator as FC, WearableAnomalyDetector as WAD

    assert wearable_anomaly_detector.WearableAnomalyDetector is WAD
    assert feature_calculator.FeatureCalculator is FC


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def test_run_official_inference_with_the_cards_flags_prints_strict_json():
    p = _run("run_official_inference.py", "--window-file", "test_data/example_window.json",
             "--model-dir", "checkpoints/phase2/exp_factor_balanced", "--no-llm")
    assert p.returncode == 0, p.stderr
    result = json.loads(p.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert result["details"]["window_size"] == 12


def test_wearable_monitor_detect_prints_null_not_nan():
    p = _run("-m", "wearable_monitor", "detect", "--window-file", "test_data/example_window.json")
    assert p.returncode == 0, p.stderr
    assert "NaN" not in p.stdout and "Infinity" not in p.stdout
    result = json.loads(p.stdout)
    assert result["baseline"]["metrics"]["hrv"]["personal_mean"] is None  # a new user: no personal mean yet


def test_quickstart_script_runs():
    p = _run("test_quickstart.py")
    assert p.returncode == 0, p.stderr
    assert "mean 74.84  records 31" in p.stdout and "all scenarios ran" in p.stdout


def test_case_pipeline_script_takes_the_cards_flags(tmp_path):
    p = _run("simulate_patchad_case_pipeline.py", "--mode", "all", "--data-file", "test_data/fitbit_A0NVTRV.jsonl",
             "--save-dir", str(tmp_path), "--sample-name", "your_case", timeout=600)
    assert p.returncode == 0, p.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert "your_case" in json.dumps(manifest)


# ----------------------------------------------------------------------------- strict JSON

def test_results_are_strict_json(detector):
    result = detector.predict(card_window(baseline=None, user="json_user"))
    json.dumps(result, allow_nan=False)
    assert result["baseline"]["metrics"]["hrv"]["personal_mean"] is None


# ----------------------------------------------------------------------------- supplied baselines

def test_per_record_baselines_are_used_and_reported(detector):
    a = detector.predict(card_window(baseline=(75.0, 5.0), user="rec_a"))
    b = detector.predict(card_window(baseline=(200.0, 1.0), user="rec_b"))
    assert a["baseline"]["source"] == b["baseline"]["source"] == "record"
    assert a["baseline"]["record_metrics"] == ["hrv"]
    assert a["baseline"]["metrics"]["hrv"]["mean"] == 75.0 and a["baseline"]["metrics"]["hrv"]["source"] == "record"
    assert b["baseline"]["metrics"]["hrv"]["mean"] == 200.0
    assert a["anomaly_score"] != b["anomaly_score"]
    za = {f["feature"]: f.get("z_score") for f in a["top_features"]}
    zb = {f["feature"]: f.get("z_score") for f in b["top_features"]}
    if "hrv_rmssd" in za and "hrv_rmssd" in zb:
        assert za["hrv_rmssd"] != zb["hrv_rmssd"]


def test_per_record_baselines_are_used_in_history_replay(detector):
    frame = detector._frame(card_window(24, user="rep", baseline=(75.0, 5.0)))
    assert (detector._frame_record_baselines(frame.assign(bl_hrv_mean=35.0, bl_hrv_std=15.0))["bl_hrv_mean"] == 75.0).all()


def test_a_seeded_store_is_used_without_days_and_reported():
    store = BaselineStorage(":memory:")
    store.set_stats("seeded", "hrv", mean=75.0, std=5.0, count=30)
    det = WearableAnomalyDetector(storage=store)
    result = det.predict(card_window(user="seeded", baseline=None))
    hrv = result["baseline"]["metrics"]["hrv"]
    assert hrv["source"] == "personal" and hrv["mean"] == 75.0
    assert result["baseline"]["alpha"] == 1.0 and result["baseline"]["source"] == "personal"


def test_set_stats_refuses_too_few_values():
    with pytest.raises(ValueError, match="min_personal_count"):
        BaselineStorage(":memory:").set_stats("u", "hrv", mean=75.0, std=5.0, count=3)


# ----------------------------------------------------------------------------- window sizes

@pytest.mark.parametrize("n", [6, 9, 12, 24])
def test_windows_of_6_to_24_points_are_scored_at_their_length(detector, n):
    result = detector.predict(card_window(n, user=f"size{n}"))
    assert result["details"]["window_size"] == n == result["window"]["n_points"]


def test_a_list_longer_than_any_window_is_a_history(detector):
    result = detector.predict(card_window(30, user="long"))
    assert result["details"]["window_size"] == 12


def test_a_window_below_6_points_is_refused(detector):
    with pytest.raises(InputError, match="needs 6 to 24 records"):
        detector.predict(card_window(5))


def test_mixed_sizes_in_one_batch(detector):
    results = detector.predict_batch([card_window(6, "b6"), card_window(24, "b24"), card_window(12, "b12")])
    assert [r["details"]["window_size"] for r in results] == [6, 24, 12]
    assert results[1]["anomaly_score"] == detector.predict(card_window(24, "b24"))["anomaly_score"]


def test_feature_calculator_takes_the_cards_sizes():
    for n in (6, 12, 24):
        assert FeatureCalculator(window_size=n).window_from_records(card_window(n)).numeric.shape[1] == n
    with pytest.raises(ValueError):
        FeatureCalculator(window_size=25)


# ----------------------------------------------------------------------------- missing data

def test_a_window_without_heart_rate_scores_with_a_caveat(detector):
    window = card_window(user="nohr")
    for p in window:
        p.pop("static_features")
        for k in ("hr", "hr_resting", "data_quality"):
            p["features"].pop(k)
    result = detector.predict(window)
    assert 0.0 <= result["anomaly_score"] <= 1.0
    assert result["data_quality"]["heart_rate_missing"] is True
    assert "no heart rate" in result["data_quality"]["caveats"][0]
    from wearable_monitor.formatter import AnomalyFormatter

    assert "no heart rate" in AnomalyFormatter().format(result).as_markdown()


# ----------------------------------------------------------------------------- config

def test_category_mapping_is_read_as_categories(tmp_path):
    text = DEFAULT_FEATURES_CONFIG.read_text().replace('"categories"', '"category_mapping"')
    path = tmp_path / "features_config.json"
    path.write_text(text)
    seed_style, ours = load_feature_config(path), load_feature_config()
    assert seed_style.features["sleep_state"].categories == ours.features["sleep_state"].categories
    assert seed_style.static == ours.static


@pytest.mark.parametrize("old,new,where,hint", [
    ('"required": false, "default": 62.0', '"requried": false, "default": 62.0', "features.hr_resting", "required"),
    ('"sampling_minutes"', '"sampling_minute"', "unknown key 'sampling_minute'", "sampling_minutes"),
    ('"method": "zscore", "mean": 72.0', '"methd": "zscore", "mean": 72.0', "hr.normalization", "method"),
])
def test_unknown_config_keys_are_refused_with_line_and_suggestion(tmp_path, old, new, where, hint):
    text = DEFAULT_FEATURES_CONFIG.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    path = tmp_path / "features_config.json"
    path.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if new.split(":")[0] in s)
    with pytest.raises(ConfigError) as err:
        load_feature_config(path)
    msg = str(err.value)
    assert where in msg and f"line {line}" in msg and f"did you mean '{hint}'" in msg


# ----------------------------------------------------------------------------- threshold

def test_a_far_threshold_warns_with_the_calibrated_value():
    with pytest.warns(UserWarning, match=r"calibrated threshold 0\.98.*chosen for maximum event-level F1"):
        det = WearableAnomalyDetector(threshold=0.53)
    result = det.predict(card_window(user="thr"))
    assert "0.53" in result["details"]["threshold_warning"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = WearableAnomalyDetector(threshold=det.checkpoint["threshold"])
    assert "threshold_warning" not in quiet.predict(card_window(user="thr2"))["details"]


def test_the_apps_threshold_gets_the_same_warning(detector):
    from wearable_monitor.app.service import rethreshold

    result = detector.predict(card_window(user="app_thr"))
    assert "calibrated threshold 0.985" in rethreshold(result, 0.53)["details"]["threshold_warning"]
    assert "threshold_warning" not in rethreshold(result, detector.threshold)["details"]
