"""gc_tuning.tune_gc: what the served app and the CLI change in the collector, and that it can be undone."""
from __future__ import annotations

import gc

from wearable_monitor.gc_tuning import THRESHOLDS, tune_gc


def test_thresholds_are_raised_and_what_is_alive_is_frozen():
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    try:
        assert tune_gc(freeze=False) == before and gc.get_threshold() == THRESHOLDS
        assert gc.get_freeze_count() == frozen
        tune_gc()
        assert gc.get_freeze_count() > frozen + 1000  # modules, functions, the test session's objects
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_the_cli_tunes_the_collector(monkeypatch):
    from wearable_monitor import cli

    seen = []
    monkeypatch.setattr(cli, "tune_gc", lambda freeze=True: seen.append(freeze))
    assert cli.main(["validate", "test_data/example_window.json"]) in (0, 1)
    assert seen == [False]  # thresholds only: a CLI run does not freeze
