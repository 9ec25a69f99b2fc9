"""Python's cyclic garbage collector, tuned for a process that analyses whole histories.

An analysis allocates hundreds of thousands of small container objects (parsed JSON records, their
feature dicts, pydantic records) that are freed by reference counting, not by the cyclic collector.
With CPython's default thresholds (700, 10, 10) they still trigger a young collection every 700
allocations and a full one every 70,000, and a full collection walks *every* tracked object of the
process: in the served app that is also Gradio, torch's modules and every cached analysis. Measured
(`python benchmarks/gc_tuning.py`, alternating in one process): the 91-day Fitbit pair analysed in
~15-20 % less time, the 30-day JSONL unchanged.

What `tune_gc` changes, process-wide, for programs (the app's `launch`, the CLI), never on import:
- thresholds (50,000, 20, 20): collections 70x rarer; reference cycles (rare here) live a little longer;
- `freeze`: the objects alive once start-up is over (modules, the model, the page) move to a
  permanent generation that full collections skip (what Instagram did for its forked workers).
"""
from __future__ import annotations

import gc

THRESHOLDS = (50_000, 20, 20)


def tune_gc(freeze: bool = True) -> tuple[int, int, int]:
    """Raise the collector's thresholds and (by default) freeze what is alive now; returns the old thresholds."""
    before = gc.get_threshold()
    gc.set_threshold(*THRESHOLDS)
    if freeze:
        gc.collect()  # what start-up left as garbage is freed now, not kept for good
        gc.freeze()
    return before
