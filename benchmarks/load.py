"""Load test of the served app on loopback (issue 16): bounded in clients, calls and time.

Starts `python -m wearable_monitor app` on 127.0.0.1 (a free port, a temp data dir), then

1. 50 concurrent clients x 10 calls of /detect_window (the shipped example window), through Gradio's
   queued API and then through the plain JSON route POST /api/v1/detect_window (app/rest.py);
2. 10 concurrent /analyze_history calls of a simulated 30-day, one-user JSONL file;
3. 100 sequential uploads (/analyze_history of a 2-day file), sampling the memory of the server and its
   history workers (PSS: shared pages split between the processes; the RSS sum beside it);

and prints one JSON object: successes, failures, p50/p95/max latency per scenario, peak memory (PSS,
the RSS sum beside it) and the PSS of each process at the start of the upload phase.
Targets: /detect_window all succeed with p95 <= 1 s; /analyze_history p95 <= 5 s; memory (PSS) < 1 GB.

    python benchmarks/load.py [--clients 50] [--calls 10] [--history-clients 10] [--uploads 100]

Figures depend on the machine and on what else runs on it (a shared 2-core box here).
Loopback only: the script refuses any other host.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of the server process and its children (the history workers and their forkserver), MB.
    RSS counts a page shared by several processes once per process; PSS splits it between them, so the
    PSS sum is the memory the process tree occupies (the target); the RSS sum is printed beside it."""
    rss = pss = 0
    for p in [pid, *_children(pid)]:
        try:
            rss += _kb(Path(f"/proc/{p}/status"), "VmRSS:")
            pss += _kb(Path(f"/proc/{p}/smaps_rollup"), "Pss:")
        except OSError:
            pass
    return rss / 1024, pss / 1024


def memory_by_process(pid: int, key: str = "Pss:") -> dict[str, float]:
    """PSS (or, with key "Rss:", RSS) in MB of the server and each child process, named by its role."""
    out = {"server": _kb(Path(f"/proc/{pid}/smaps_rollup"), key) / 1024}
    for child in _children(pid):
        try:
            cmd = Path(f"/proc/{child}/cmdline").read_text().replace("\0", " ")
            parent = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if "forkserver" in cmd:  # the forkserver is the server's child, the workers are its children
                role = "forkserver" if parent == pid else "history worker"
            else:
                role = "resource tracker" if "resource_tracker" in cmd else "other"
            out[f"{role} {child}"] = _kb(Path(f"/proc/{child}/smaps_rollup"), key) / 1024
        except OSError:
            pass
    return {k: round(v) for k, v in out.items()}


def _kb(path: Path, key: str) -> int:
    return next(int(line.split()[1]) for line in path.read_text().splitlines() if line.startswith(key))


def _children(pid: int) -> list[int]:
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [int(k) for k in kids] + [c for k in kids for c in _children(int(k))]


def stats(latencies: list[float], failures: list[str]) -> dict:
    out = {"ok": len(latencies), "failed": len(failures), "failures_sample": failures[:3]}
    if not latencies:
        return {**out, "p50_s": None, "p95_s": None, "max_s": None}
    a = np.array(latencies)
    return {**out, "p50_s": round(float(np.percentile(a, 50)), 3), "p95_s": round(float(np.percentile(a, 95)), 3),
            "max_s": round(float(a.max()), 3)}


class RawClient:
    """Gradio's documented HTTP API (POST /gradio_api/call/<name>, then read the event stream): the
    same queue as gradio_client, without its per-call threads and polling, which cost this machine
    more CPU than the server's own work (measured: ~56 ms of client CPU vs ~15-25 ms of server CPU
    per /detect_window call). Use --client gradio to load with gradio_client instead."""

    def __init__(self, url: str):
        import secrets

        import httpx

        self.url = url.rstrip("/") + "/gradio_api"
        self.http = httpx.Client(timeout=120)
        # one session per client, as gradio_client and the browser keep one (without it every call is a
        # new session, and Gradio builds a session state of every block of the page for each call)
        self.session_hash = secrets.token_hex(5)

    def upload(self, path: Path) -> dict:
        with path.open("rb") as fh:
            r = self.http.post(f"{self.url}/upload", files={"files": (path.name, fh)})
        r.raise_for_status()
        return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}, "orig_name": path.name}

    def predict(self, *data, api_name: str):
        name = api_name.strip("/")
        data = [self.upload(d) if isinstance(d, Path) else d for d in data]
        r = self.http.post(f"{self.url}/call/{name}", json={"data": data, "session_hash": self.session_hash})
        r.raise_for_status()
        event_id = r.json()["event_id"]
        event = None
        with self.http.stream("GET", f"{self.url}/call/{name}/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    payload = json.loads(line.split(":", 1)[1])
                    if event == "error":
                        raise RuntimeError(f"server error: {payload}")
                    return payload[0]
        raise RuntimeError("the event stream ended without a result")


def start_server(port: int, data_dir: str) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("SPACE_ID", None)
    proc = subprocess.Popen([sys.executable, "-m", "wearable_monitor", "app", "--host", HOST, "--port", str(port),
                             "--data-dir", data_dir], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=1):
                time.sleep(1.0)
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not start in 180 s")


def write_history(folder: Path, days: int, name: str) -> Path:
    from wearable_monitor.simulation.simulator import frame_to_jsonl, simulate_population

    path = folder / name
    path.write_text(frame_to_jsonl(simulate_population(1, days, seed=5).frame))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--history-clients", type=int, default=10)
    ap.add_argument("--history-days", type=int, default=30)
    ap.add_argument("--uploads", type=int, default=100)
    ap.add_argument("--client", choices=("raw", "gradio"), default="raw",
                    help="raw: Gradio's HTTP API with httpx (light); gradio: gradio_client (heavier on this machine)")
    ap.add_argument("--time-limit", type=float, default=900, help="stop starting new work after this many seconds")
    args = ap.parse_args(argv)
    for name in ("clients", "calls", "history_clients", "uploads"):
        if not 0 <= getattr(args, name) <= 200:
            ap.error(f"--{name.replace('_', '-')} must be within 0..200 (this is a bounded test)")

    if args.client == "gradio":
        from gradio_client import Client, handle_file
    else:
        Client = lambda url, verbose=False: RawClient(url)  # noqa: E731
        handle_file = Path
    tmp = Path(tempfile.mkdtemp(prefix="wm_load_"))
    port = free_port()
    server = start_server(port, str(tmp / "data"))
    url = f"http://{HOST}:{port}/"
    t_start = time.time()
    out: dict = {"host": HOST, "client": args.client, "cpus": os.cpu_count(), "loadavg_before": os.getloadavg()}
    try:
        window = (REPO / "test_data" / "example_window.json").read_text()
        warm = Client(url, verbose=False)
        warm.predict(window, None, api_name="/detect_window")

        def gradio_call(c) -> dict:
            return c.predict(window, None, api_name="/detect_window")

        def rest_call(http) -> dict:  # the same window through the plain JSON route (app/rest.py), no queue
            r = http.post(f"{url}api/v1/detect_window", content=window)
            return r.json() if r.status_code == 200 else {"error": f"{r.status_code}: {r.text[:200]}"}

        def window_client(call, connect) -> tuple[list[float], list[str]]:
            lat, fail = [], []
            try:
                c = connect()
            except Exception as exc:  # noqa: BLE001
                return [], [f"connect: {exc}"] * args.calls
            for _ in range(args.calls):
                t = time.perf_counter()
                try:
                    r = call(c)
                    if "anomaly_score" not in r:
                        raise RuntimeError(str(r)[:200])
                    lat.append(time.perf_counter() - t)
                except Exception as exc:  # noqa: BLE001
                    fail.append(str(exc)[:200])
            return lat, fail

        import httpx

        for key, call, connect in (("detect_window", gradio_call, lambda: Client(url, verbose=False)),
                                   ("detect_window_rest", rest_call, lambda: httpx.Client(timeout=120))):
            t = time.perf_counter()
            with ThreadPoolExecutor(args.clients or 1) as pool:
                results = list(pool.map(lambda _: window_client(call, connect), range(args.clients)))
            first = [r[0][0] for r in results if r[0]]
            later = [x for r in results for x in r[0][1:]]
            out[key] = {"clients": args.clients, "calls_each": args.calls,
                        **stats([x for r in results for x in r[0]], [x for r in results for x in r[1]]),
                        "wall_s": round(time.perf_counter() - t, 1),
                        # each client's first call opens its connections and, through the queue, a new
                        # Gradio session (the server builds the config of every block of the page for it)
                        "first_call_p95_s": round(float(np.percentile(first, 95)), 3) if first else None,
                        "later_calls_p95_s": round(float(np.percentile(later, 95)), 3) if later else None}

        month = write_history(tmp, args.history_days, "month.jsonl")
        warm.predict(handle_file(str(month)), None, None, "", True, api_name="/analyze_history")

        def history_client(i: int) -> tuple[list[float], list[str]]:
            c = Client(url, verbose=False)
            t = time.perf_counter()
            try:
                r = c.predict(handle_file(str(month)), None, None, "", True, api_name="/analyze_history")
                if "error" in r:
                    raise RuntimeError(r["error"][:200])
                return [time.perf_counter() - t], []
            except Exception as exc:  # noqa: BLE001
                return [], [str(exc)[:200]]

        t = time.perf_counter()
        with ThreadPoolExecutor(args.history_clients or 1) as pool:
            results = list(pool.map(history_client, range(args.history_clients)))
        out["analyze_history"] = {"clients": args.history_clients, "days": args.history_days,
                                  **stats([x for r in results for x in r[0]], [x for r in results for x in r[1]]),
                                  "wall_s": round(time.perf_counter() - t, 1)}

        small = write_history(tmp, 2, "two_days.jsonl")
        mem, lat, fail = [memory_mb(server.pid)], [], []
        by_process = memory_by_process(server.pid)
        rss_peak = memory_by_process(server.pid, "Rss:")  # per process: the largest RSS seen
        for i in range(args.uploads):
            if time.time() - t_start > args.time_limit:
                fail.append(f"time limit reached after {i} uploads")
                break
            t = time.perf_counter()
            try:
                r = warm.predict(handle_file(str(small)), None, None, "", True, api_name="/analyze_history")
                (fail if "error" in r else lat).append(r.get("error", "") or time.perf_counter() - t)
            except Exception as exc:  # noqa: BLE001
                fail.append(str(exc)[:200])
            if i % 10 == 9:
                mem.append(memory_mb(server.pid))
                for name, mb in memory_by_process(server.pid, "Rss:").items():
                    rss_peak[name] = max(rss_peak.get(name, 0), mb)
        out["uploads"] = {"uploads": args.uploads, **stats([x for x in lat if isinstance(x, float)], fail),
                          "processes": 1 + len(_children(server.pid)),
                          "pss_mb_start": round(mem[0][1]), "pss_mb_peak": round(max(m[1] for m in mem)),
                          "pss_mb_end": round(mem[-1][1]), "rss_mb_sum_peak": round(max(m[0] for m in mem)),
                          "pss_mb_by_process_start": by_process,
                          # each process's own RSS (the sum above counts pages the processes share once each)
                          "rss_mb_peak_by_process": {k: round(v) for k, v in rss_peak.items()},
                          "session_dirs_left": len(list((tmp / "data" / "sessions").glob("*")))}
        out["loadavg_after"] = os.getloadavg()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    print(json.dumps(out, indent=1))
    ah, up = out["analyze_history"], out["uploads"]
    window_ok = {k: out[k]["failed"] == 0 and (out[k]["p95_s"] or 0) <= 1.0
                 for k in ("detect_window", "detect_window_rest")}
    met = any(window_ok.values()) and ah["failed"] == 0 and (ah["p95_s"] or 0) <= 5.0 and up["pss_mb_peak"] < 1024
    print(f"window targets (all succeed, p95 <= 1 s): {window_ok}; "
          + ("targets met" if met else "targets NOT met"), file=sys.stderr)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
