"""/analyze_history in worker processes (app/workers.py): the same answer as in-process, errors as
errors, a dead worker reported, and no worker left behind when the server is killed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.fixture(scope="module")
def pooled(tmp_path_factory):
    from wearable_monitor.app.service import AppConfig, MonitorService

    svc = MonitorService(AppConfig.load(data_dir=str(tmp_path_factory.mktemp("pooled")), history_workers=2))
    yield svc
    svc.close()


def test_a_pooled_call_answers_as_the_serving_process_would(pooled, history_jsonl, tmp_path):
    from wearable_monitor.app.service import AppConfig, MonitorService

    local = MonitorService(AppConfig.load(data_dir=str(tmp_path / "local"), history_workers=0))
    assert local.history_pool is None and pooled.history_pool is not None
    for summary_only in (True, False):
        got = pooled.history_api(str(history_jsonl), summary_only=summary_only, markers="2024-01-01 travel")
        want = local.history_api(str(history_jsonl), summary_only=summary_only, markers="2024-01-01 travel")
        assert got == want and "error" not in got and got["summary"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": "2024-01-01T00:00:00", "deviceId": "u1", "features": {"hr": "fast"}}\n')
    assert pooled.history_api(str(bad)) == local.history_api(str(bad))
    assert "error" in pooled.history_api(str(bad))


def test_history_workers_is_a_count(tmp_path):
    from wearable_monitor.app.service import AppConfig

    with pytest.raises(ValueError, match="positive"):
        AppConfig.load(data_dir=str(tmp_path), history_workers=-1)
    assert AppConfig.load().history_workers == 2  # the shipped configs/app_config.json


def test_concurrent_calls_each_get_their_own_answer(pooled, history_jsonl, tmp_path):
    one = tmp_path / "one_user.jsonl"
    one.write_text("\n".join(history_jsonl.read_text().splitlines()[:300]) + "\n")
    files = [str(history_jsonl), str(one)] * 3
    with ThreadPoolExecutor(6) as ex:
        out = list(ex.map(lambda p: pooled.history_api(p, summary_only=True), files))
    users = [sorted(o["summary"]) for o in out]
    assert users[0] != users[1] and users == [users[0], users[1]] * 3
    assert not any(pooled.history_pool.data_dir in str(o) for o in out)  # worker paths do not leak out


def test_a_killed_worker_fails_its_call_with_a_message_and_the_next_call_works(pooled, history_jsonl):
    pids = pooled.history_pool.warm_up()
    assert len(pids) == 2 and os.getpid() not in pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    first = pooled.history_api(str(history_jsonl), summary_only=True)
    assert "worker stopped" in first.get("error", "")
    assert "error" not in pooled.history_api(str(history_jsonl), summary_only=True)
    assert set(pooled.history_pool.warm_up()).isdisjoint(pids)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return stat[0] != "Z"  # a zombie has exited


def test_workers_exit_when_the_server_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        from wearable_monitor.app.service import AppConfig, MonitorService
        svc = MonitorService(AppConfig.load(data_dir={str(tmp_path / 'd')!r}, history_workers=2))
        print(*svc.history_pool.warm_up(), flush=True)
        os.kill(os.getpid(), 9)  # no atexit, no pool shutdown: as `kill -9` of the server
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    pids = [int(p) for p in run.stdout.split()]
    assert len(pids) == 2, run.stderr[-2000:]
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)
    assert not list((tmp_path / "d" / "workers").glob("worker_*"))  # each worker deleted its folder
