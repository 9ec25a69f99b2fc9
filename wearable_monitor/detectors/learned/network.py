"""WearableAnomalyNet: a Phased LSTM encoder inside a Temporal Fusion Transformer.

Data path for one batch of windows (field names = the `Windows` arrays, docs/architecture.md s.3):

  static codes ---------> static VSN -> StaticCovariateEncoder -> c_s, c_e, c_h, c_c
  numeric (+mask), categorical, known, gap
      -> temporal VSN: per-variable maps into d, weighted by c_s-conditioned selection [B, T, d]
      -> Phased LSTM driven by timestamps t, initial state (c_h, c_c)        [B, T, d]
      -> gated skip + LayerNorm -> static enrichment GRN (c_e)
      -> interpretable attention (query = last step, keys = all observed steps)
      -> gated skip, position-wise GRN, gated skip to the encoder output     [B, d]
  context (+mask) -> context VSN (c_s) -> fused through a GRN                [B, d]
      -> heads: anomaly logit [B], anomaly kind logits, next-step forecast, masked reconstruction

Every output comes with the selection weights (per-feature importance) and the attention over
time steps, which the detector turns into "top contributing features".
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...config import check_known_keys
from ..hub import HubMixin
from .phased_lstm import PhasedLSTM
from .tft import (
    GateAddNorm,
    GatedResidualNetwork,
    InterpretableMultiHeadAttention,
    StaticCovariateEncoder,
    VariableSelectionNetwork,
)

GAP_VARIABLE = "gap"  # name of the extra variable made from `dt` (log minutes since the last record)
BATCH_FIELDS = ("numeric", "numeric_mask", "categorical", "dt", "t", "known", "static", "context", "context_mask")


def batch_from_windows(windows: Any, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """The model's input dict from a `Windows` object (numpy arrays, shared memory where possible)."""
    return {k: torch.as_tensor(getattr(windows, k)).to(device) for k in BATCH_FIELDS}


@dataclass
class ModelConfig:
    numeric_names: list[str]
    categorical_names: list[str] = field(default_factory=list)
    categorical_cardinalities: list[int] = field(default_factory=list)  # without the "missing" index
    known_names: list[str] = field(default_factory=list)
    static_names: list[str] = field(default_factory=list)
    static_cardinalities: list[int] = field(default_factory=list)
    context_names: list[str] = field(default_factory=list)
    window_size: int = 12
    sampling_minutes: float = 5.0
    d_model: int = 48
    d_select: int = 4          # width of the categorical embeddings that feed the selection weights
    selector_hidden: int = 32  # hidden size of the GRNs that produce selection weights
    n_heads: int = 4
    dropout: float = 0.1
    use_gap: bool = True       # dt as an extra selectable variable (gap length is information)
    tau_min: float = 10.0      # Phased LSTM periods are initialised log-uniform in [tau_min, tau_max] minutes
    tau_max: float = 240.0
    r_on: float = 0.4          # initial open ratio
    leak_alpha: float = 1e-3   # closed-gate leak while training (paper: 1e-3) ...
    eval_leak_alpha: float = 0.0  # ... and at inference (paper: 0)
    n_kinds: int = 5           # auxiliary anomaly-kind classes (e.g. none, acute, illness, desaturation, bradycardia)

    def __post_init__(self):
        if not self.numeric_names:
            raise ValueError("ModelConfig.numeric_names: at least one numeric feature is required")
        for names, cards, what in ((self.categorical_names, self.categorical_cardinalities, "categorical"),
                                   (self.static_names, self.static_cardinalities, "static")):
            if len(names) != len(cards):
                raise ValueError(f"ModelConfig: {len(names)} {what}_names but {len(cards)} {what}_cardinalities")
            if any(int(c) < 1 for c in cards):
                raise ValueError(f"ModelConfig.{what}_cardinalities: every cardinality must be >= 1")

    @property
    def variable_names(self) -> list[str]:
        """Order of `variable_weights` columns: real-valued inputs first, then categoricals."""
        return [*self.numeric_names, *self.known_names, *([GAP_VARIABLE] if self.use_gap else []),
                *self.categorical_names]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        check_known_keys(cls, d, "ModelConfig")
        return cls(**d)

    @classmethod
    def from_windows(cls, windows: Any, **overrides) -> "ModelConfig":
        """Feature layout from a `Windows` batch or a `FeatureCalculator` (both carry the name
        lists and `window_size`); everything else from overrides."""
        layout = dict(
            numeric_names=list(windows.numeric_names), categorical_names=list(windows.categorical_names),
            categorical_cardinalities=[int(c) for c in windows.categorical_cardinalities],
            known_names=list(windows.known_names), static_names=list(windows.static_names),
            static_cardinalities=[int(c) for c in windows.static_cardinalities],
            context_names=list(windows.context_names), window_size=int(windows.window_size),
        )
        return cls(**{**layout, **overrides})


class WearableAnomalyNet(nn.Module, HubMixin):
    """Phased LSTM + TFT anomaly scorer. forward(batch) -> dict (see `forward`)."""

    config_class = ModelConfig

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = c = config
        self._shapes: dict[tuple[int, int], dict[str, tuple[int, ...]]] = {}  # check_batch's input_shapes, per (B, T)
        d, p = c.d_model, c.dropout
        self.n_vars = len(c.variable_names)
        n_real = len(c.numeric_names) + len(c.known_names) + int(c.use_gap)
        # Inputs (Sec. 4.2 of Lim et al.): categoricals get an extra "missing" index.
        self.temporal_vsn = VariableSelectionNetwork(n_real, [k + 1 for k in c.categorical_cardinalities], d,
                                                     context_size=d, d_select=c.d_select,
                                                     selector_hidden=c.selector_hidden, dropout=p)
        # Static covariates: no statics -> one learned vector stands in for "unknown person".
        if c.static_names:
            self.static_vsn = VariableSelectionNetwork(0, list(c.static_cardinalities), d, d_select=c.d_select,
                                                       selector_hidden=c.selector_hidden, dropout=p)
        else:
            self.static_default = nn.Parameter(torch.zeros(d))
        self.static_encoder = StaticCovariateEncoder(d, p)
        if c.context_names:
            self.context_vsn = VariableSelectionNetwork(len(c.context_names), [], d, context_size=d,
                                                        selector_hidden=c.selector_hidden, dropout=p)
        # Temporal processing.
        self.encoder = PhasedLSTM(d, d, tau_range=(c.tau_min, c.tau_max), r_on=c.r_on,
                                  alpha=c.leak_alpha, eval_alpha=c.eval_leak_alpha)
        self.post_encoder = GateAddNorm(d, p)
        self.enrichment = GatedResidualNetwork(d, d, d, context_size=d, dropout=p)
        self.attention = InterpretableMultiHeadAttention(d, c.n_heads, p)
        self.post_attention = GateAddNorm(d, p)
        self.position_wise = GatedResidualNetwork(d, d, d, dropout=p)
        self.pre_output = GateAddNorm(d, p)
        self.context_fusion = GatedResidualNetwork(d, d, d, context_size=d if c.context_names else None, dropout=p)
        # Heads.
        self.anomaly_head = nn.Linear(d, 1)
        self.kind_head = nn.Linear(d, c.n_kinds) if c.n_kinds else None
        self.forecast_head = nn.Linear(d, len(c.numeric_names))        # step i -> numeric at step i+1
        self.reconstruction_head = nn.Linear(d, len(c.numeric_names))  # step i -> numeric at step i

    @property
    def variable_names(self) -> list[str]:
        return self.config.variable_names

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------ inputs
    def input_shapes(self, batch_size: int, steps: int) -> dict[str, tuple[int, ...]]:
        """The shape of each batch field for `batch_size` windows of `steps` records (`check_batch`
        holds a batch to them; "categorical" and "static" hold integer codes)."""
        c, B, T = self.config, batch_size, steps
        return {"numeric": (B, T, len(c.numeric_names)), "numeric_mask": (B, T, len(c.numeric_names)),
                "t": (B, T), "dt": (B, T), "categorical": (B, T, len(c.categorical_names)),
                "known": (B, T, len(c.known_names)), "static": (B, len(c.static_names)),
                "context": (B, len(c.context_names)), "context_mask": (B, len(c.context_names))}

    def check_batch(self, batch: dict[str, torch.Tensor]) -> None:
        """Shapes and code ranges, with errors that name the field (cheap: a few reductions)."""
        c = self.config
        if "numeric" not in batch:
            raise KeyError("batch: missing field 'numeric'")
        shape = tuple(batch["numeric"].shape[:2])
        expected = self._shapes.get(shape)
        if expected is None:  # one dict per (batch size, steps): the realtime path checks the same shapes each call
            expected = self._shapes[shape] = self.input_shapes(*shape)
        for key, shape in expected.items():
            if shape[-1] == 0 and key not in batch:
                continue  # a model without e.g. context features does not need the field
            if key not in batch:
                raise KeyError(f"batch: missing field '{key}' (expected shape {list(shape)})")
            if tuple(batch[key].shape) != shape:
                raise ValueError(f"batch['{key}']: shape {list(batch[key].shape)}, expected {list(shape)}")
        for key, cards, missing_ok in (("categorical", c.categorical_cardinalities, True),
                                       ("static", c.static_cardinalities, False)):
            if not cards:
                continue
            codes = batch[key]
            if codes.dtype not in (torch.int64, torch.int32):
                raise TypeError(f"batch['{key}']: integer codes expected, got {codes.dtype}")
            if not codes.numel():
                continue
            # per-variable extremes: two small reductions, then plain Python over a handful of variables
            # (a realtime call checks one window: a few tensor ops, not a dozen)
            lo, hi = torch.aminmax(codes.reshape(-1, len(cards)), dim=0)
            for j, (low, high, card) in enumerate(zip(lo.tolist(), hi.tolist(), cards)):
                if low < 0 or high >= card + int(missing_ok):
                    names = c.categorical_names if key == "categorical" else c.static_names
                    raise ValueError(f"batch['{key}']: code out of range for '{names[j]}' "
                                     f"(valid 0..{card + int(missing_ok) - 1})")

    def _temporal_inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Real-valued variables [B, T, R] and their observed mask: numeric, known-future, gap."""
        c = self.config
        # Multiplying by the mask makes "missing" mean missing even if a caller left a value behind it.
        reals, masks = [batch["numeric"] * batch["numeric_mask"]], [batch["numeric_mask"]]
        if c.known_names:
            reals.append(batch["known"])
        if c.use_gap:  # log-scaled gap, 0 at the regular sampling interval
            gap = torch.log1p(batch["dt"].clamp(min=0)) - math.log1p(c.sampling_minutes)
            reals.append(gap.unsqueeze(-1))
        n_always = sum(r.shape[-1] for r in reals[1:])  # time features and gaps are always known
        if n_always:
            masks.append(reals[0].new_ones(*reals[0].shape[:-1], n_always))
        return torch.cat(reals, dim=-1), torch.cat(masks, dim=-1)

    # ------------------------------------------------------------------ forward
    def static_context(self, static: torch.Tensor | None, batch_size: int = 1
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Static selection weights [B, S] and the context vectors c_s, c_e, c_h, c_c [B, d].

        They depend on the static codes alone, so a caller that scores the same person again
        and again may compute them once and pass them to `score` (traced.py does).
        """
        if self.config.static_names:
            codes = static.long()
            # a batch holds few distinct people-types (one, for one user's history): encode each once; not
            # when compiled (the number of distinct rows would be a new shape, a recompilation, each time)
            if not torch.jit.is_tracing() and not torch.compiler.is_compiling() and codes.shape[0] > 1:
                if bool((codes == codes[:1]).all()):  # the usual case, without unique's sort
                    distinct, row = codes[:1], codes.new_zeros(codes.shape[0])
                else:
                    distinct, row = torch.unique(codes, dim=0, return_inverse=True)
                if distinct.shape[0] < codes.shape[0]:
                    weights, ctx = self.static_context(distinct, distinct.shape[0])
                    return weights[row], {k: v[row] for k, v in ctx.items()}
            static_vec, static_weights = self.static_vsn(codes=codes)
        else:
            d = self.config.d_model
            static_vec = self.static_default.expand(batch_size, d)
            static_weights = self.static_default.new_zeros(batch_size, 0)
        return static_weights, self.static_encoder(static_vec)

    def forward(self, batch: dict[str, torch.Tensor], aux: bool = True) -> dict[str, torch.Tensor]:
        """Score a batch of windows.

        batch: Windows fields as tensors (numeric, numeric_mask, categorical, dt, t, known, static,
        context, context_mask); optional `step_mask` [B, T] (1 = step observed) overrides the
        default "any numeric feature observed".
        Returns logits [B], probability [B], variable_weights [B, n_vars] (averaged over observed
        steps, order = `variable_names`), static_weights [B, S], context_weights [B, C],
        attention [B, T], kind_logits [B, n_kinds], representation [B, d], and with aux=True
        forecast [B, T, Fn] (position i predicts numeric at i+1) and reconstruction [B, T, Fn].
        """
        self.check_batch(batch)
        return self.score(batch, aux)

    def score(self, batch: dict[str, torch.Tensor], aux: bool = True,
              static_context: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None) -> dict[str, torch.Tensor]:
        """forward() without the input checks: only tensor ops, no branch on values, so it can be
        traced (traced.py) once the batch has passed `check_batch`.

        `static_context`: `self.static_context(batch["static"])` if the caller has it already.
        """
        c = self.config
        numeric = batch["numeric"]
        B, T = numeric.shape[:2]
        step_mask = batch.get("step_mask")
        observed = (batch["numeric_mask"].amax(-1) > 0) if step_mask is None else step_mask > 0  # [B, T]

        # Static covariate encoders.
        static_weights, ctx = static_context or self.static_context(batch.get("static"), B)

        # Variable selection over the dynamic inputs, conditioned on who the person is.
        reals, real_mask = self._temporal_inputs(batch)
        codes = batch["categorical"].long() if c.categorical_names else None
        selected, weights = self.temporal_vsn(reals, real_mask, codes, ctx["selection"])

        # Phased LSTM: the time gate reads the real timestamps; unobserved steps keep the state.
        encoded, _ = self.encoder(selected, batch["t"], (ctx["state_h"], ctx["state_c"]), observed)
        temporal = self.post_encoder(encoded, selected)                     # [B, T, d]
        enriched = self.enrichment(temporal, ctx["enrichment"])

        # Attention from the last step to every observed step (the last step always counts:
        # it carries the state forward even when its own record is empty).
        key_mask = observed.clone()
        key_mask[:, -1] = True
        attended, attention = self.attention(enriched[:, -1:], enriched, enriched, key_mask)
        z = self.post_attention(attended[:, 0], enriched[:, -1])
        z = self.pre_output(self.position_wise(z), temporal[:, -1])         # [B, d]

        # Window-level context (factor stats, deviation from the personal baseline).
        if c.context_names:
            context_vec, context_weights = self.context_vsn(batch["context"], batch["context_mask"],
                                                            context=ctx["selection"])
            h = self.context_fusion(z, context_vec)
        else:
            h, context_weights = self.context_fusion(z), numeric.new_zeros(B, 0)

        logits = self.anomaly_head(h).squeeze(-1)
        obs = observed.to(weights.dtype).unsqueeze(-1)
        n_obs = obs.sum(1)
        variable_weights = torch.where(n_obs > 0, (weights * obs).sum(1) / n_obs.clamp(min=1), weights.mean(1))
        out = {
            "logits": logits,
            "probability": torch.sigmoid(logits),
            "variable_weights": variable_weights,
            "static_weights": static_weights,
            "context_weights": context_weights,
            "attention": attention[:, 0],
            "kind_logits": self.kind_head(h) if self.kind_head is not None else h.new_zeros(B, 0),
            "representation": h,
        }
        if aux:
            out["forecast"] = self.forecast_head(temporal)
            out["reconstruction"] = self.reconstruction_head(temporal)
        return out

    @torch.no_grad()
    def forward_chunked(self, batch: dict[str, torch.Tensor], chunk_size: int = 512, aux: bool = False
                        ) -> dict[str, torch.Tensor]:
        """forward() over slices of `chunk_size` windows, outputs concatenated.

        For batch scoring on a CPU: a few hundred windows per call keeps every intermediate
        tensor small enough to be reused from the allocator's cache instead of freshly mapped
        (and page-faulted) memory, which measured faster than one huge call.
        """
        n = batch["numeric"].shape[0]
        parts = [self({k: v[s:s + chunk_size] for k, v in batch.items()}, aux=aux) for s in range(0, n, chunk_size)]
        if not parts:
            raise ValueError("forward_chunked: empty batch")
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    # ------------------------------------------------------------------ self-supervision
    def pretrain_forward(self, batch: dict[str, torch.Tensor], mask_prob: float = 0.15,
                         forecast_weight: float = 1.0, generator: torch.Generator | None = None
                         ) -> dict[str, torch.Tensor]:
        """Masked-feature reconstruction + next-step forecast, no labels needed.

        A random `mask_prob` share of the *observed* numeric entries is hidden (value 0, mask 0,
        exactly like real missing data); the model reconstructs them from the other features and
        the history. The forecast head predicts every observed value of the next step.
        Returns the forward outputs plus loss, reconstruction_loss, forecast_loss, hidden [B,T,Fn].
        """
        numeric, mask = batch["numeric"], batch["numeric_mask"]
        draw = torch.rand(numeric.shape, generator=generator, device=numeric.device)
        hidden = (draw < mask_prob) & (mask > 0)
        masked = dict(batch, numeric=numeric.masked_fill(hidden, 0.0), numeric_mask=mask * (~hidden).to(mask.dtype))
        out = self(masked, aux=True)
        rec_loss = masked_mse(out["reconstruction"], numeric, hidden.to(numeric.dtype))
        fc_loss = masked_mse(out["forecast"][:, :-1], numeric[:, 1:], mask[:, 1:])
        out.update(loss=rec_loss + forecast_weight * fc_loss, reconstruction_loss=rec_loss,
                   forecast_loss=fc_loss, hidden=hidden)
        return out


def masked_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the entries with weight 1 (0 when there are none)."""
    return (F.mse_loss(pred, target, reduction="none") * weight).sum() / weight.sum().clamp(min=1.0)
