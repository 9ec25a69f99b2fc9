"""History analyses in worker processes, so that concurrent `/analyze_history` calls use every core.

A 30-day upload is about 0.6 s of work, most of it Python (validation, pandas day tables, the rule
engine) that holds the GIL: calls in two threads of the serving process take nearly as long as one
after the other (`python benchmarks/history_workers.py` times both ways). A small pool of processes
runs `MonitorService.history_api` instead and sends back its JSON-safe dict, which is small to pickle.

The workers come from a `forkserver` that has already imported the package (and so torch, pandas
and the model code): a worker starts in milliseconds and shares those pages with its siblings
instead of holding its own copy. Forking the serving process itself is not safe (it runs threads).
Each worker builds its own service once (`service.worker_service`: one torch thread, no pool of its
own, a data dir of its own under the server's) and analyses every call in a scratch workspace, as
the in-process path does: nothing of a call outlives it. A worker that dies (killed, out of memory) breaks only the calls it
held; the next call starts a fresh pool. A worker whose server is gone exits by itself (it watches
a pipe only the server writes to): the pool's queues and the forkserver's liveness pipe are shared
with the workers, so a `kill -9` of the server would otherwise leave them waiting forever.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Callable

_SERVICE: Any = None  # the worker's own service (one per worker process), with a `history_api` method
try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6")
    _LIBC.malloc_trim.restype = ctypes.c_int  # glibc only (AttributeError elsewhere)
except (OSError, AttributeError):
    _LIBC = None


def _start_worker(make_service: Callable[[Path], Any], data_dir: str, server: Connection) -> None:
    global _SERVICE
    import torch

    # one core per worker: the pool, not one call, spreads over the cores (two workers each taking every
    # core made ten concurrent calls 5x slower: OpenMP threads spinning against each other)
    torch.set_num_threads(1)
    folder = Path(data_dir) / f"worker_{os.getpid()}"
    _SERVICE = make_service(folder)
    threading.Thread(target=_exit_with, args=(server, folder), daemon=True, name="server-watch").start()


def _exit_with(server: Connection, folder: Path) -> None:
    """End this worker (and delete its folder) when the server's end of the pipe closes: the server
    stopped or was killed. (Polling the server's pid would not do: a killed server stays a zombie
    until its own parent reaps it.)"""
    try:
        server.recv()
    except (EOFError, OSError):
        pass
    shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


def _history_api(args: tuple, kwargs: dict) -> dict:
    assert _SERVICE is not None, "worker not initialised"
    try:
        return _SERVICE.history_api(*args, **kwargs)
    finally:
        _give_back_memory()


def _give_back_memory() -> None:
    """Return the freed heap of a big analysis to the system (glibc keeps it otherwise, and a worker's
    memory would stay at the high-water mark of the largest upload it ever analysed)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _ready(pause: float) -> int:
    time.sleep(pause)  # holds this worker, so the next call goes to (and starts) another
    return os.getpid()


class HistoryPool:
    """`workers` processes that each run `history_api` of the service `make_service(folder)` builds
    once per worker (a picklable callable; `preload` names its module, imported by the forkserver).
    `run` blocks the calling thread (a Gradio worker thread) until its call is done, so the queue's
    concurrency limit still applies."""

    def __init__(self, make_service: Callable[[Path], Any], workers: int, data_dir: str | Path, preload: str):
        self.make_service, self.workers, self.data_dir, self.preload = make_service, workers, str(data_dir), preload
        self._pool: ProcessPoolExecutor | None = None
        self._alive: Connection | None = None  # the server's end of the pipe each worker watches
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                if "forkserver" in multiprocessing.get_all_start_methods():
                    ctx = multiprocessing.get_context("forkserver")
                    ctx.set_forkserver_preload([self.preload])
                else:  # Windows: each worker starts afresh (slower to start, more memory)
                    ctx = multiprocessing.get_context("spawn")
                watched, self._alive = ctx.Pipe(duplex=False)
                self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_start_worker,
                                                 initargs=(self.make_service, self.data_dir, watched))
            return self._pool

    def warm_up(self) -> list[int]:
        """Start every worker now (the first upload should not wait for them); their process ids."""
        pool = self._executor()
        return sorted(set(pool.map(_ready, [0.2] * self.workers)))

    def run(self, *args: Any, **kwargs: Any) -> dict:
        pool = self._executor()
        try:
            return pool.submit(_history_api, args, kwargs).result()
        except BrokenProcessPool:
            with self._lock:  # the next call gets a fresh pool; this one says what happened
                if self._pool is pool:
                    self._pool = None
                    if self._alive is not None:
                        self._alive.close()  # the broken pool's other workers exit
                        self._alive = None
            pool.shutdown(wait=False, cancel_futures=True)
            return {"error": "the analysis worker stopped before it finished (out of memory?); please try again"}

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            alive, self._alive = self._alive, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if alive is not None:
            alive.close()
