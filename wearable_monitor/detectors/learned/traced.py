"""The network traced to TorchScript for the realtime path: one window, scored again and again.

Scoring one window eagerly spends most of its time in Python, not in arithmetic: about 80
module calls and 400 small tensor ops, each a few microseconds of dispatch. Tracing
`WearableAnomalyNet.score` once per input layout runs the same ops from C++: measured 2.2-2.3 vs
0.6-0.7 ms per window in a tight loop (`python benchmarks/trace_vs_eager.py`: one thread, this
project's 2-core CPU; inside a realtime call, with the rest of the call in between, about twice that).

Why `torch.jit.trace`, which torch marks as deprecated: `torch.export` runs its graph back in
Python (measured no faster than eager), and `torch.compile` needs a C++ toolchain and tens of
seconds of compilation at start-up. torch is pinned (requirements.txt), the trace is checked
against the eager forward when it is made, and any failure falls back to the eager forward.

A trace is specialised to its input layout (which fields, their shapes and dtypes: the Phased
LSTM loop is unrolled over the window's steps), so it is cached per layout and used only for an
exact match. It is frozen (weights as constants) and takes the static context as an input; both
are remade when a parameter changes in place (`TracedScorer` below).
"""
from __future__ import annotations

import logging
import threading
import warnings
from operator import attrgetter

import torch
import torch.nn as nn

log = logging.getLogger(__name__)

# What the trace returns, in this order (forward's outputs without the auxiliary heads).
OUTPUT_KEYS = ("logits", "probability", "variable_weights", "static_weights", "context_weights",
               "attention", "kind_logits", "representation")


_VERSION = attrgetter("_version")  # a tensor's in-place modification counter
CONTEXT_KEYS = ("selection", "enrichment", "state_h", "state_c")  # StaticCovariateEncoder.NAMES


class _ScoreAsTuple(nn.Module):
    """score(batch, aux=False, static_context) with positional tensors in and a tuple out, as
    tracing wants: first the static weights and the four context vectors, then the batch fields."""

    def __init__(self, model: nn.Module, keys: tuple[str, ...]):
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, static_weights: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        context = dict(zip(CONTEXT_KEYS, tensors[:len(CONTEXT_KEYS)]))
        batch = dict(zip(self.keys, tensors[len(CONTEXT_KEYS):]))
        out = self.model.score(batch, aux=False, static_context=(static_weights, context))
        return tuple(out[k] for k in OUTPUT_KEYS)


class TracedScorer:
    """`scorer(batch)` -> forward's outputs (OUTPUT_KEYS) from a trace of the batch's layout,
    or None when no trace can serve it (training mode, or tracing failed for that layout).

    The caller has already run `model.check_batch(batch)`: the trace contains no input checks.

    Two things are computed once and reused while the weights stay the same:
    - the static context (static VSN + four GRNs, ~12 % of the graph), per static-code tuple: a
      user's age group and sex do not change from one window to the next;
    - the trace itself, frozen (`torch.jit.freeze`: weights become constants, so the interpreter
      no longer fetches ~280 attributes per call).
    Both are keyed by the parameters' version counters, which every in-place change bumps
    (`load_state_dict`, an optimiser step), so a changed weight is seen at the next call. A
    parameter replaced by a new tensor object (`load_state_dict(..., assign=True)`) is not: make a
    new scorer then.
    """

    def __init__(self, model: nn.Module, max_layouts: int = 8, max_contexts: int = 256, atol: float = 1e-5):
        self.model = model
        self.max_layouts = max_layouts
        self.max_contexts = max_contexts
        self.atol = atol
        self._params = list(model.parameters())
        self._version: tuple[int, ...] | None = None
        self._traces: dict[tuple, torch.jit.ScriptModule | None] = {}  # None: tracing failed
        self._contexts: dict[tuple, tuple[torch.Tensor, ...]] = {}
        self._lock = threading.Lock()  # the app may score from several threads

    @torch.inference_mode()  # the cached contexts and the frozen trace are inference-only tensors
    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
        if self.model.training:
            return None  # dropout is live in training: a trace would freeze one draw of it
        version = tuple(map(_VERSION, self._params))
        if version != self._version:
            with self._lock:
                self._traces.clear()
                self._contexts.clear()
                self._version = version
        keys = tuple(sorted(batch))
        layout = tuple((k, tuple(batch[k].shape), batch[k].dtype) for k in keys)
        context = self._static_context(batch)
        trace = self._traces.get(layout, False)
        if trace is False:
            with self._lock:
                trace = self._traces.get(layout, False)
                if trace is False:
                    if len(self._traces) >= self.max_layouts:
                        self._traces.clear()
                    trace = self._traces[layout] = self._trace(batch, keys, context)
        if trace is None:
            return None
        return dict(zip(OUTPUT_KEYS, trace(*context, *(batch[k] for k in keys))))

    def _static_context(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """(static weights, c_s, c_e, c_h, c_c) for the batch's static codes, cached per code tuple."""
        static = batch.get("static")
        key = (batch["numeric"].shape[0], None if static is None else tuple(static.flatten().tolist()))
        context = self._contexts.get(key)
        if context is None:
            with torch.no_grad():
                weights, ctx = self.model.static_context(static, batch["numeric"].shape[0])
            context = (weights, *(ctx[k] for k in CONTEXT_KEYS))
            with self._lock:
                if len(self._contexts) >= self.max_contexts:
                    self._contexts.clear()
                self._contexts[key] = context
        return context

    def _trace(self, batch: dict[str, torch.Tensor], keys: tuple[str, ...], context: tuple[torch.Tensor, ...]
               ) -> torch.jit.ScriptModule | None:
        example = (*context, *(batch[k] for k in keys))
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecation and tracer warnings: see the module docstring
                trace = torch.jit.freeze(torch.jit.trace(_ScoreAsTuple(self.model, keys).eval(), example,
                                                         check_trace=False))
                eager = self.model.score(dict(batch), aux=False)
                traced = dict(zip(OUTPUT_KEYS, trace(*example)))
            for k in OUTPUT_KEYS:
                if not torch.allclose(traced[k], eager[k], atol=self.atol, rtol=0):
                    raise RuntimeError(f"traced output '{k}' differs from the eager forward")
        except Exception as exc:  # noqa: BLE001 - any tracing problem means: stay eager for this layout
            log.warning("scoring this input layout eagerly: tracing failed (%s)", exc)
            return None
        return trace
