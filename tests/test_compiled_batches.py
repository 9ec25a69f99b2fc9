"""Batches through torch.compile (LearnedDetector.compile_batches): the same scores as eager mode, on
every path that offers it (the detector, `score --compile`, the Dask workers)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wearable_monitor import WearableAnomalyDetector
from wearable_monitor.simulation.simulator import frame_to_jsonl, simulate_population


@pytest.fixture(scope="module")
def frame():
    return simulate_population(3, 2, seed=4).frame  # ~1,700 windows: not a multiple of any batch size


def test_compiled_batches_score_as_eager_mode_including_a_padded_last_slice(frame):
    det = WearableAnomalyDetector()
    det.learned.batch_size = 256  # several slices and a short last one, padded to 256 and cut again
    windows = det.calculator.windows(frame)
    assert len(windows) % 256
    keys = ("probability", "variable_weights")
    eager = det.learned.outputs(windows, keys=keys)
    assert det.learned.compile_batches()
    compiled = det.learned.outputs(windows, keys=keys)
    for k in keys:
        assert compiled[k].shape == eager[k].shape
        np.testing.assert_allclose(compiled[k], eager[k], atol=1e-5)
    one = det.learned.outputs(windows[:1])["probability"]  # a single window keeps the traced path
    np.testing.assert_allclose(one, eager["probability"][:1], atol=1e-5)
    det.learned.use_eager()
    np.testing.assert_allclose(det.learned.outputs(windows)["probability"], eager["probability"], atol=1e-6)


def test_score_compile_writes_the_same_tables(frame, tmp_path):
    from wearable_monitor.cli import main

    src = tmp_path / "three.jsonl"
    src.write_text(frame_to_jsonl(frame))
    assert main(["score", str(src), "--out", str(tmp_path / "eager.csv"), "--daily", str(tmp_path / "e_days.csv")]) == 0
    assert main(["score", str(src), "--compile", "--out", str(tmp_path / "compiled.csv"),
                 "--daily", str(tmp_path / "c_days.csv")]) == 0
    eager, compiled = pd.read_csv(tmp_path / "eager.csv"), pd.read_csv(tmp_path / "compiled.csv")
    assert len(eager) == len(compiled) > 1000
    np.testing.assert_allclose(compiled["anomaly_score"], eager["anomaly_score"], atol=2e-4)  # 4 decimals written
    pd.testing.assert_frame_equal(compiled.drop(columns="anomaly_score"), eager.drop(columns="anomaly_score"))
    # days: the same levels, reasons and alerts; a day's mean score may differ in its 6th decimal
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "c_days.csv"), pd.read_csv(tmp_path / "e_days.csv"),
                                  check_exact=False, rtol=0, atol=1e-5)


def test_where_torch_cannot_compile_batches_stay_eager_with_a_warning(frame, monkeypatch):
    import torch

    det = WearableAnomalyDetector()
    windows = det.calculator.windows(frame.iloc[:200])
    eager = det.learned.outputs(windows)["probability"]

    def no_compiler(*args, **kwargs):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(torch, "compile", no_compiler)
    with pytest.warns(RuntimeWarning, match="eager mode"):
        assert det.learned.compile_batches() is False
    assert det.learned._compiled is None
    np.testing.assert_array_equal(det.learned.outputs(windows)["probability"], eager)
