"""Row-level arrays: a frame's columns as numpy arrays, and the sliding-window gathers over them."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from ..data.records import EPOCH


NS_PER_MIN = 60 * 10**9


NS_PER_DAY = 24 * 60 * NS_PER_MIN


EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


# A frame's columns as numpy arrays, name -> [R] (what `frame_columns` and
# `records.records_to_columns` return): the feature maths runs on these, not on pandas.
Columns = Mapping[str, np.ndarray]


def frame_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every column of `frame` as a numpy array (views where pandas allows)."""
    return {c: frame[c].to_numpy() for c in frame.columns}


def as_ns(times: np.ndarray) -> np.ndarray:
    """Naive timestamps (datetime64 of any unit, or int64 ns) as int64 nanoseconds."""
    times = np.asarray(times)
    if times.dtype == np.int64:
        return times
    if times.dtype == _NS:
        return times.view(np.int64)  # the same numbers, no copy (read-only use, as the int64 case above)
    return times.astype("datetime64[ns]").astype(np.int64)


_NS = np.dtype("datetime64[ns]")


def iso_of_ns(ns: int) -> str:
    """`pd.Timestamp(ns).isoformat()` of a naive time in int64 nanoseconds (the same text), through
    `datetime` when the time has no nanosecond digits: a Timestamp costs several times as much to build."""
    ns = int(ns)
    if ns % 1000:
        return pd.Timestamp(ns).isoformat()
    return (EPOCH + timedelta(microseconds=ns // 1000)).isoformat()


def first_true(mask: np.ndarray) -> tuple[int, int]:
    """(row, column) of the first True of [R, K] `mask` in column order (the first column with
    any, then its first row): an error names the first bad feature, then where it went wrong."""
    col = int(np.flatnonzero(mask.any(axis=0))[0])
    return int(np.flatnonzero(mask[:, col])[0]), col


def window_sums(x: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """Sum of x[start:start+size] along axis 0 for every start, via one cumulative sum (O(rows))."""
    if len(x) == size and len(starts) == 1:  # the realtime case, the rows are the window: the same sums
        return np.cumsum(x, axis=0, dtype=np.float64)[-1:]
    cs = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0, dtype=np.float64)])
    return cs[starts + size] - cs[starts]


def gather(x: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """Windows [N, size, ...] of row-level x [R, ...] starting at `starts` (strided view, one copy)."""
    if len(starts) == 0:  # also covers frames shorter than one window
        return np.zeros((0, size) + x.shape[1:], dtype=x.dtype)
    if len(x) == size:  # the realtime case: the rows are the window
        return np.repeat(x[None], len(starts), axis=0)
    view = sliding_window_view(x, size, axis=0)[starts]  # [N, ..., size]
    return np.ascontiguousarray(np.moveaxis(view, -1, 1))


def interleave(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[N, K] and [N, K] -> [N, 2K] with columns a0, b0, a1, b1, ... (the context_names order)."""
    out = np.empty((len(a), 2 * a.shape[1]), dtype=np.result_type(a, b))
    out[:, 0::2], out[:, 1::2] = a, b
    return out
