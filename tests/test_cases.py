"""Case pipeline: sample-name sanitising, atomic manifest updates, an end-to-end run on a short
simulated user, reproducible bytes, rejected lines reported.

The learned detector here is a small randomly initialised WearableAnomalyNet saved to tmp (the
shipped checkpoint may be retrained at any time), so nothing below depends on particular scores:
the tests check the files, their keys and the consistency between the two paths.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from wearable_monitor import cases
from wearable_monitor.cases import CaseError, CaseModels, CaseRequest, check_sample_name, run_case, update_manifest
from wearable_monitor.cli import main as cli_main

USER = "case-user"
TITLE = ("--title", "Acute (small)")


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A small WearableAnomalyNet on the current feature layout, threshold 0.5."""
    import torch

    from wearable_monitor.config import default_feature_config
    from wearable_monitor.features import FeatureCalculator
    from wearable_monitor.detectors.learned import WearableAnomalyNet
    from wearable_monitor.detectors.learned.network import ModelConfig

    fc = default_feature_config()
    torch.manual_seed(0)
    model = WearableAnomalyNet(ModelConfig.from_windows(FeatureCalculator(fc), d_model=8, selector_hidden=8, n_heads=2))
    out = tmp_path_factory.mktemp("tiny_model")
    model.save_pretrained(out, extra_config={"threshold": 0.5, "feature_config_sha256": fc.sha256})
    return out


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    """Three simulated days with an acute episode, plus one broken line (line 5) in the middle."""
    from wearable_monitor.simulation.simulator import EventRequest, frame_to_jsonl, simulate_user

    acute = EventRequest("acute", start=datetime(2024, 1, 2, 15), minutes=40)
    sim = simulate_user(USER, days=3, seed=5, events=[acute])
    lines = frame_to_jsonl(sim.frame).splitlines(keepends=True)
    lines.insert(4, '{"timestamp": "2024-01-01T00:17:00", "deviceId": "case-user", "features": {"hr": 900}}\n')
    path = tmp_path_factory.mktemp("data") / "case_user.jsonl"
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def prescreen_threshold(data_file) -> float:
    """A PatchTrAD threshold that flags the top 10 % of this user's records, so segments exist."""
    from wearable_monitor.detectors.patchtrad import PatchTrADDetector
    from wearable_monitor.data.readers import load_history

    scores = PatchTrADDetector.from_pretrained(cases.PRESCREEN_DIR).score_series(load_history(data_file).frame)
    return float(np.nanquantile(scores, 0.9))


def _args(data_file, save_dir, name, model, thr, *extra) -> list[str]:
    return ["cases", "--mode", "all", "--data-file", str(data_file), "--save-dir", str(save_dir),
            "--sample-name", name, "--model-dir", str(model), "--prescreen-threshold", repr(thr), "--quiet", *extra]


@pytest.fixture(scope="module")
def case_run(tmp_path_factory, data_file, tiny_model, prescreen_threshold):
    """One CLI run into a fresh folder: (save_dir, return code, stdout, stderr)."""
    import contextlib
    import io

    save = tmp_path_factory.mktemp("run1") / "cases"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = cli_main(_args(data_file, save, "acute_small", tiny_model, prescreen_threshold, *TITLE))
    return save, rc, out.getvalue(), err.getvalue()


# ----------------------------------------------------------------------------- names

@pytest.mark.parametrize("bad", ["../x", "..", ".", "", "/etc/passwd", "a/b", "a\\b", "C:x", "manifest.json",
                                 ".hidden", "-flag", "x" * 65, "tab\tname", "é"])
def test_unsafe_sample_names_are_rejected(bad):
    with pytest.raises(CaseError, match="sample name"):
        check_sample_name(bad)


def test_safe_sample_names_pass_and_slugify_suggests_one():
    for good in ("acute_1", "A-b", "x" * 64, "fitbit_A0NVTRV"):
        assert check_sample_name(good) == good
    assert check_sample_name(cases.slugify("../../etc/My Case!")) == "etc_My_Case"


def test_bad_name_writes_nothing(tmp_path, data_file, tiny_model):
    with pytest.raises(CaseError):
        run_case(CaseRequest(data_file, tmp_path / "cases", "../escape"), CaseModels(model_dir=tiny_model),
                 progress=False)
    assert not (tmp_path / "cases").exists() and not (tmp_path / "escape").exists()
    with pytest.raises(CaseError):
        update_manifest(tmp_path, {"name": "../x", "files": {}})
    assert not (tmp_path / "manifest.json").exists()


# ----------------------------------------------------------------------------- manifest

def _entry(name: str, title: str = "t") -> dict:
    return {"name": name, "title": title, "source": "s", "created": "2024-01-01T00:00:00",
            "files": {k: f"{name}/{v}" for k, v in cases.FILES.items()}}


def test_manifest_update_keeps_other_entries_and_replaces_same_name(tmp_path):
    other = {"name": "hand_made", "title": "kept as is", "files": {}, "extra": [1, 2]}
    (tmp_path / "manifest.json").write_text(json.dumps({"cases": [other]}))
    update_manifest(tmp_path, _entry("a", "first"))
    update_manifest(tmp_path, _entry("b"))
    update_manifest(tmp_path, _entry("a", "second"))
    got = json.loads((tmp_path / "manifest.json").read_text())["cases"]
    assert [c["name"] for c in got] == ["hand_made", "a", "b"]  # replaced in place, not appended
    assert got[0] == other and got[1]["title"] == "second"


def test_manifest_write_is_temp_file_plus_replace(tmp_path, monkeypatch):
    update_manifest(tmp_path, _entry("a"))
    before = (tmp_path / "manifest.json").read_bytes()
    calls = []
    real_replace = os.replace

    def spy(src, dst):
        calls.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(cases.os, "replace", spy)
    update_manifest(tmp_path, _entry("b"))
    (src, dst), = calls
    assert dst == tmp_path / "manifest.json" and src.parent == tmp_path and src != dst
    assert not src.exists()

    def crash(src, dst):  # the process dies between writing the temp file and the rename
        raise OSError("disk gone")

    monkeypatch.setattr(cases.os, "replace", crash)
    after_b = (tmp_path / "manifest.json").read_bytes()
    with pytest.raises(OSError):
        update_manifest(tmp_path, _entry("c"))
    assert (tmp_path / "manifest.json").read_bytes() == after_b != before  # old file intact, complete
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]  # temp file cleaned up


def test_broken_manifest_is_reported_not_overwritten(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CaseError, match="manifest.json"):
        update_manifest(tmp_path, _entry("a"))
    assert (tmp_path / "manifest.json").read_text() == "{not json"


# ----------------------------------------------------------------------------- end to end

def test_end_to_end_writes_the_three_files_with_their_keys(case_run):
    save, rc, out, err = case_run
    assert rc == 0, err
    folder = save / "acute_small"
    assert sorted(p.name for p in folder.iterdir()) == ["case.json", "llm_input.md", "prescreen.json"]
    pre = json.loads((folder / "prescreen.json").read_text())
    assert {"user_id", "timestamps", "scores", "threshold", "segments"} <= set(pre)
    assert pre["user_id"] == USER and len(pre["timestamps"]) == len(pre["scores"]) > 0
    assert pre["segments"] and all(set(s) == {"start", "end", "max_score"} for s in pre["segments"])
    assert all(s["max_score"] >= pre["threshold"] for s in pre["segments"])

    case = json.loads((folder / "case.json").read_text())
    assert {"data", "prescreen", "precheck", "llm_case", "summary", "disclaimer"} <= set(case)
    assert case["data"]["user_id"] == USER and case["data"]["calendar_days"] == 3
    chk = case["precheck"]
    assert {"segments", "top_window", "pattern", "threshold", "windows"} <= set(chk)
    assert len(chk["segments"]) == len(pre["segments"])
    assert {"is_anomaly", "anomaly_score", "top_features", "baseline"} <= set(chk["top_window"])
    assert chk["pattern"]["days"] and len(chk["pattern"]["days"]) == 3

    manifest = json.loads((save / "manifest.json").read_text())["cases"]
    files = {k: f"acute_small/{v}" for k, v in cases.FILES.items()}
    assert manifest == [{"name": "acute_small", "title": "Acute (small)", "source": "file case_user.jsonl",
                         "created": case["data"]["end"], "files": files}]
    md = (folder / "llm_input.md").read_text()
    assert md.startswith("## System prompt") and f"`{USER}`" in md and "patchtrad_prescreen" in md


def test_segment_verdicts_agree_with_the_precheck_windows(case_run):
    save, *_ = case_run
    chk = json.loads((save / "acute_small" / "case.json").read_text())["precheck"]
    thr = chk["threshold"]
    for seg in chk["segments"]:
        assert seg["windows_inside"] <= seg["windows_around"] and seg["anomalous_inside"] <= seg["anomalous_around"]
        assert seg["verdict"] == ("confirmed" if seg["anomalous_around"] else "not_confirmed")
        assert (seg["precheck_max_score"] >= thr) == (seg["verdict"] == "confirmed")
        assert seg["start"] <= seg["end"]
        # the realtime re-score (baseline from earlier days only) equals the replayed window score
        assert seg["realtime"]["anomaly_score"] == pytest.approx(seg["precheck_max_score"], abs=2e-4)
    assert chk["segments_confirmed"] == sum(s["verdict"] == "confirmed" for s in chk["segments"])
    scores = [s["precheck_max_score"] for s in chk["segments"]]
    assert chk["top_window"]["anomaly_score"] >= max(scores) - 2e-4  # the top window is the history's max


def test_rejected_line_is_reported_with_its_line_number(case_run):
    save, rc, out, err = case_run
    assert rc == 0 and "rejected records: 1" in err and "line 5, features.hr" in err
    val = json.loads((save / "acute_small" / "case.json").read_text())["data"]["validation"]
    assert val["rejected"] == 1 and val["errors_total"] == len(val["errors"]) >= 1
    assert all(e.startswith("line 5, features.hr") for e in val["errors"])
    assert val["accepted"] == val["items"] - 1


def test_regeneration_gives_identical_bytes(tmp_path, case_run, data_file, tiny_model, prescreen_threshold, capsys):
    first, *_ = case_run
    second = tmp_path / "cases"
    assert cli_main(_args(data_file, second, "acute_small", tiny_model, prescreen_threshold, *TITLE)) == 0
    for rel in ("manifest.json", *(f"acute_small/{v}" for v in cases.FILES.values())):
        assert (second / rel).read_bytes() == (first / rel).read_bytes(), rel


def test_prescreen_then_precheck_and_language(tmp_path, data_file, tiny_model, prescreen_threshold):
    models = CaseModels(model_dir=tiny_model, prescreen_threshold=prescreen_threshold)
    kw = dict(progress=False, log=lambda m: None)
    first = run_case(CaseRequest(data_file, tmp_path, "two_step", mode="prescreen"), models, **kw)
    assert set(first.files) == {"prescreen", "case", "llm_input"}  # segments alone are formatted as findings
    assert first.case["precheck"] is None and "官方" not in (tmp_path / "two_step/llm_input.md").read_text()
    second = run_case(CaseRequest(data_file, tmp_path, "two_step", mode="precheck", language="zh"), models, **kw)
    assert len(second.case["precheck"]["segments"]) == len(first.case["prescreen"]["segments"])
    assert "## 系统提示" in (tmp_path / "two_step/llm_input.md").read_text()
    assert [c["name"] for c in cases.read_manifest(tmp_path)] == ["two_step"]


def test_unknown_user_and_empty_input_fail_cleanly(tmp_path, data_file, tiny_model, capsys):
    assert cli_main(["cases", "--data-file", str(data_file), "--save-dir", str(tmp_path), "--sample-name", "x",
                     "--user", "nobody", "--model-dir", str(tiny_model), "--quiet"]) == 2
    assert "nobody" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": "nope", "deviceId": "u"}\n')
    assert cli_main(["cases", "--data-file", str(bad), "--save-dir", str(tmp_path), "--sample-name", "x",
                     "--model-dir", str(tiny_model), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no valid records" in err and "line 1" in err
    assert not (tmp_path / "manifest.json").exists()


def test_segment_findings_put_confirmed_first_and_cap_the_list():
    segs = [{"start": f"2024-01-01T{h:02d}:00:00", "end": f"2024-01-01T{h:02d}:55:00", "max_score": float(h)}
            for h in range(12)]
    prescreen = {"threshold": 0.5, "segments": segs}
    checked = [{**{k: s[k] for k in ("start", "end")}, "verdict": "confirmed" if i == 2 else "not_confirmed",
                "precheck_max_score": 0.9 if i == 2 else 0.1, "anomalous_around": int(i == 2), "windows_around": 24}
               for i, s in enumerate(segs)]
    found = cases.segment_findings(prescreen, {"segments": checked}, limit=4)
    assert [f["value"] for f in found] == [2.0, 11.0, 10.0, 9.0]
    assert found[0]["severity"] == "MEDIUM" and {f["severity"] for f in found[1:]} == {"LOW"}
    assert all(f["status"] == "finding" for f in found)
    unchecked = cases.segment_findings(prescreen, None)
    assert len(unchecked) == 10 and {f["status"] for f in unchecked} == {"awaiting_confirmation"}


def test_precheck_leaves_the_detectors_own_baseline_store_alone(tmp_path, data_file, tiny_model):
    from wearable_monitor.detector import WearableAnomalyDetector
    from wearable_monitor.data.readers import load_history

    det = WearableAnomalyDetector(tiny_model, storage=tmp_path / "baselines.sqlite")
    frame = load_history(data_file).frame
    det.users.ingest(USER, frame.iloc[:300])
    before = det.storage.history(USER, "hr_resting")
    days = det.users.days_of_history(USER)
    out = cases.run_precheck(frame, det, [])
    assert out["windows"] > 0 and out["top_window"]["baseline"]["days_of_history"] <= 2
    assert det.users.days_of_history(USER) == days and det.storage.history(USER, "hr_resting").equals(before)
