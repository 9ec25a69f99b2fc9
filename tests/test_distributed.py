"""Dask scoring (wearable_monitor/distributed.py): the same windows, scores, verdicts and alerts as the
single-process replay, on a 2-worker LocalCluster; convert to Parquet, resume, one user's failure."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from wearable_monitor.distributed import (  # noqa: E402
                                          DONE_DIR, FAILURES_FILE, META_FILE, convert_to_parquet, dataset_users, done_users, partition_name,
                                          _score_task, read_results, read_user_records, score_population, start_local_cluster)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def cluster():
    """A 2-process LocalCluster (one thread each, loopback only), closed after the module."""
    cluster, client = start_local_cluster(2)
    try:
        yield cluster, client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def population(tmp_path_factory, shared_detector):
    """4 simulated users x 3 days with frequent events (so levels above normal occur), as a JSONL
    file and as a Parquet dataset, with the single-process windows and days as the reference."""
    from wearable_monitor.data.readers import load_any
    from wearable_monitor.simulation.simulator import SimConfig, frame_to_jsonl, simulate_population

    root = tmp_path_factory.mktemp("dask")
    cfg = SimConfig(acute_per_30d=30, illness_per_30d=10, desaturation_per_30d=30, bradycardia_per_30d=20,
                    event_free_fraction=0.0)
    pop = simulate_population(4, 3, seed=2, config=cfg)
    jsonl = root / "history.jsonl"
    jsonl.write_text(frame_to_jsonl(pop.frame))
    loaded = load_any(jsonl)
    windows = shared_detector.score_history(loaded, update_baseline=False)
    days = shared_detector.daily(windows)
    dataset = root / "records.parquet"
    convert_to_parquet([jsonl], dataset)
    return {"root": root, "jsonl": jsonl, "dataset": dataset, "frame": loaded.frame, "windows": windows,
            "days": days}


def assert_same_table(got: pd.DataFrame, want: pd.DataFrame, score: str | None = None, atol: float = 1e-5,
                      float_atol: float | None = None) -> None:
    """Same columns, rows and values; a score column to `atol`, other float columns exactly or to
    `float_atol`; string dtypes may be object or str."""
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for col in want.columns:
        if pd.api.types.is_string_dtype(want[col]) or want[col].dtype == object:
            assert got[col].astype(object).tolist() == want[col].astype(object).tolist(), col
        else:
            assert got[col].dtype == want[col].dtype, col
    if score:
        np.testing.assert_allclose(got[score].to_numpy(), want[score].to_numpy(), rtol=0, atol=atol)
        got, want = got.drop(columns=[score]), want.drop(columns=[score])
    if float_atol is None:
        pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=True)
    else:
        pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=0, atol=float_atol)


def assert_matches_reference(result, population, atol: float = 1e-5, float_atol: float | None = None) -> None:
    assert_same_table(result.windows(), population["windows"], score="anomaly_score", atol=atol)
    assert_same_table(result.days(), population["days"], float_atol=float_atol)


def test_the_population_exercises_the_verdict(population):
    w, d = population["windows"], population["days"]
    assert w["user_id"].nunique() == 4
    assert w["is_anomaly"].any() and (w["level"] != "normal").any()
    assert (d["level"] != "normal").any()


def test_workers_run_this_checkout_on_one_torch_thread(cluster):
    import wearable_monitor

    _, client = cluster
    here = str(Path(wearable_monitor.__file__).resolve())

    def where():
        import wearable_monitor as wm
        return str(Path(wm.__file__).resolve())

    assert set(client.run(where).values()) == {here}

    def env_and_threads():
        import os

        import torch
        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), torch.get_num_threads()

    from wearable_monitor.distributed import warm_workers

    warm_workers(client)  # loads the model on each worker: torch then runs on one thread
    assert set(client.run(env_and_threads).values()) == {(None, 1)}


def test_convert_writes_one_partition_per_user(population, tmp_path):
    ds = population["dataset"]
    frame = population["frame"]
    assert (ds / META_FILE).exists()
    assert dataset_users(ds) == sorted(frame["user_id"].unique())
    for user in dataset_users(ds):
        assert (ds / partition_name(user)).is_dir()
        want = frame[frame["user_id"] == user].reset_index(drop=True)
        pd.testing.assert_frame_equal(read_user_records(ds, user), want)
    whole = pd.read_parquet(ds)  # a standard hive dataset: pandas reads it whole
    assert len(whole) == len(frame)
    with pytest.raises(FileExistsError):
        convert_to_parquet([population["jsonl"]], ds)


def test_parquet_dataset_on_two_workers_matches_single_process(cluster, population, tmp_path):
    _, client = cluster
    result = score_population(population["dataset"], tmp_path / "out", client=client)
    assert sorted(result.done) == sorted(population["windows"]["user_id"].unique())
    assert not result.failures and result.windows_scored == len(population["windows"])
    assert_matches_reference(result, population)
    assert len(pd.read_parquet(tmp_path / "out" / "windows")) == len(population["windows"])

    def detectors_loaded():
        from wearable_monitor import distributed
        return sum(len(v) for v in distributed._POOL.values())

    assert set(client.run(detectors_loaded).values()) == {1}  # each worker loaded the model once


def test_jsonl_input_matches_and_resume_skips_written_users(cluster, population, tmp_path):
    _, client = cluster
    out = tmp_path / "out"
    first = score_population(population["jsonl"], out, client=client)
    assert len(first.done) == 4 and not first.resumed
    assert_matches_reference(first, population)

    again = score_population(population["jsonl"], out, client=client)
    assert again.done == [] and sorted(again.resumed) == sorted(first.done)

    user = sorted(first.done)[1]
    (out / DONE_DIR / f"{user}.json").unlink()  # as if the run had stopped before this user finished
    third = score_population(population["jsonl"], out, client=client)
    assert third.done == [user] and len(third.resumed) == 3
    assert_matches_reference(third, population)

    with pytest.raises(ValueError, match="other settings"):
        score_population(population["jsonl"], out, client=client, threshold=0.5)


def test_one_users_failure_is_reported_and_the_others_are_written(cluster, population, tmp_path):
    _, client = cluster
    ds = tmp_path / "records.parquet"
    shutil.copytree(population["dataset"], ds)
    users = dataset_users(ds)
    bad = users[2]
    part = next((ds / partition_name(bad)).glob("*.parquet"))
    good_bytes = part.read_bytes()
    part.write_bytes(b"not parquet at all")
    out = tmp_path / "out"
    result = score_population(ds, out, client=client)
    assert set(result.failures) == {bad}
    assert sorted(result.done) == [u for u in users if u != bad]
    assert (out / FAILURES_FILE).exists()
    assert done_users(out) == set(users) - {bad}

    part.write_bytes(good_bytes)  # fixed: the rerun scores only the failed user
    rerun = score_population(ds, out, client=client)
    assert rerun.done == [bad] and not rerun.failures
    assert not (out / FAILURES_FILE).exists()
    assert_matches_reference(rerun, population)


def test_cli_convert_and_score_engine_dask_write_the_local_csvs(cluster, population, tmp_path, capsys):
    from wearable_monitor.cli import main

    cluster_, _ = cluster
    jsonl = str(population["jsonl"])
    assert main(["score", jsonl, "--out", str(tmp_path / "local.csv"), "--daily", str(tmp_path / "local_days.csv")]) == 0
    assert main(["score", jsonl, "--engine", "dask", "--scheduler", cluster_.scheduler_address,
                 "--out", str(tmp_path / "dask.csv"), "--daily", str(tmp_path / "dask_days.csv")]) == 0
    assert (tmp_path / "dask.parquet" / "windows").is_dir()
    assert (tmp_path / "dask.csv").read_text() == (tmp_path / "local.csv").read_text()
    assert (tmp_path / "dask_days.csv").read_text() == (tmp_path / "local_days.csv").read_text()

    assert main(["convert", jsonl, "--to", "parquet", "--out", str(tmp_path / "ds"), "--quiet"]) == 0
    assert main(["score", str(tmp_path / "ds"), "--engine", "dask", "--scheduler", cluster_.scheduler_address,
                 "--out", str(tmp_path / "res"), "--daily", str(tmp_path / "ds_days.csv")]) == 0
    assert (tmp_path / "ds_days.csv").read_text() == (tmp_path / "local_days.csv").read_text()
    assert "scored 4 users" in capsys.readouterr().out

    assert main(["score", jsonl, "--engine", "dask", "--scheduler", cluster_.scheduler_address, "--db",
                 str(tmp_path / "b.db"), "--out", str(tmp_path / "x")]) == 2


def test_batches_of_users_per_task_give_the_same_tables(cluster, population, tmp_path):
    _, client = cluster
    result = score_population(population["dataset"], tmp_path / "out", client=client, users_per_task=3)
    assert len(result.done) == 4
    assert_matches_reference(result, population)


def test_fsspec_urls_and_user_ids_that_need_quoting(population, shared_detector):
    """Object storage goes through fsspec: the same code on a memory:// filesystem (in this process),
    with a user id holding a slash, a space and a non-ASCII letter."""
    import fsspec

    frame = population["frame"].copy()
    odd = "alice/ü 1"
    frame["user_id"] = frame["user_id"].replace({"u0001": odd})
    fs = fsspec.filesystem("memory")
    try:
        for user, rows in frame.groupby("user_id"):  # what convert_to_parquet writes, on memory://
            fs.makedirs(f"/wm-ds/{partition_name(user)}", exist_ok=True)
            with fs.open(f"/wm-ds/{partition_name(user)}/part-00000.parquet", "wb") as fh:
                rows.drop(columns=["user_id"]).to_parquet(fh, index=False)
        assert partition_name(odd) == "user_id=alice%2F%C3%BC%201"
        assert odd in dataset_users("memory://wm-ds")
        got = read_user_records("memory://wm-ds", odd)
        want = frame[frame["user_id"] == odd].reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want)
        infos = _score_task([(odd, None)], "memory://wm-ds", "memory://wm-out", None, None)
        assert infos[0]["status"] == "ok", infos
        assert done_users("memory://wm-out") == {odd}
        windows = read_results("memory://wm-out", "windows")
        ref = population["windows"]
        ref = ref[ref["user_id"] == "u0001"].reset_index(drop=True)
        assert (windows["user_id"] == odd).all() and len(windows) == len(ref)
        np.testing.assert_allclose(windows["anomaly_score"], ref["anomaly_score"], atol=1e-5, rtol=0)
        assert windows["level"].tolist() == ref["level"].tolist()
    finally:
        for root in ("/wm-ds", "/wm-out"):
            if fs.exists(root):
                fs.rm(root, recursive=True)


def test_convert_on_dask_one_task_per_file_and_a_bad_file_reported(cluster, population, tmp_path):
    from wearable_monitor.simulation.simulator import frame_to_jsonl

    _, client = cluster
    frame = population["frame"]
    users = sorted(frame["user_id"].unique())
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k, part in enumerate((users[:2], users[2:])):
        (inputs / f"part{k}.jsonl").write_text(frame_to_jsonl(frame[frame["user_id"].isin(part)]))
    (inputs / "broken.jsonl").write_bytes(b"")  # an empty file: reported, the others converted
    summary = convert_to_parquet([inputs], tmp_path / "ds", client=client)
    assert summary.files == 3 and len(summary.failed_files) == 1 and "broken.jsonl" in summary.failed_files[0]
    assert summary.users == 4 and summary.records == len(frame)
    for user in users:
        want = frame[frame["user_id"] == user].reset_index(drop=True)
        pd.testing.assert_frame_equal(read_user_records(tmp_path / "ds", user), want)


def test_a_user_with_too_few_records_is_skipped_and_remembered(population, tmp_path):
    frame = population["frame"]
    short = frame[frame["user_id"] == "u0000"].iloc[:5].reset_index(drop=True)
    infos = _score_task([("u0000", short)], None, str(tmp_path / "out"), None, None)
    assert infos[0]["status"] == "skipped" and infos[0]["records"] == 5
    assert done_users(tmp_path / "out") == {"u0000"}
    assert not (tmp_path / "out" / "windows").exists()


def test_a_model_that_cannot_load_fails_every_user_without_raising(cluster, population, tmp_path):
    _, client = cluster
    result = score_population(population["dataset"], tmp_path / "out", client=client,
                              model_dir=str(tmp_path / "no-such-model"))
    assert sorted(result.failures) == dataset_users(population["dataset"]) and not result.done
    assert done_users(tmp_path / "out") == set()


def test_workers_that_compile_the_model_score_as_the_single_process(cluster, population, tmp_path):
    from wearable_monitor.distributed import score_population

    _, client = cluster
    result = score_population(population["dataset"], tmp_path / "compiled", client=client, compile_model=True)
    assert not result.failures
    # compiled kernels sum in another order (~1e-6 apart), so a score rounded to 5 decimals may land one
    # step away and a day's mean score differ in its 6th decimal; levels, reasons and alerts are the same
    assert_matches_reference(result, population, atol=2e-5, float_atol=1e-5)
