"""Temporal Fusion Transformer building blocks (Lim, Arik, Loeff & Pfister, "Temporal Fusion
Transformers for interpretable multi-horizon time series forecasting", International Journal of
Forecasting 37(4), 2021). Section numbers below refer to that paper.

Written for small CPU models: the variable selection network evaluates the weighted sum of all
per-variable transforms as one matmul instead of a Python list of per-variable GRNs.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _broadcast_context(context: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Static context [B, C] -> [B, 1, ..., C] so it adds to time-varying inputs [B, T, ..., C]."""
    while context.dim() < like.dim():
        context = context.unsqueeze(-2)
    return context


class GatedLinearUnit(nn.Module):
    """GLU(x) = (W1 x + b1) * sigmoid(W2 x + b2) (Sec. 4.1): lets the network switch a block off."""

    def __init__(self, input_size: int, output_size: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(input_size, 2 * output_size)  # both halves in one matmul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.glu(self.fc(self.dropout(x)), dim=-1)


class GateAddNorm(nn.Module):
    """LayerNorm(skip + GLU(x)), the gated skip connection used around every TFT block."""

    def __init__(self, size: int, dropout: float = 0.0):
        super().__init__()
        self.glu = GatedLinearUnit(size, size, dropout)
        self.norm = nn.LayerNorm(size)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.norm(skip + self.glu(x))


class GatedResidualNetwork(nn.Module):
    """GRN(a, c) = LayerNorm(skip(a) + GLU(W1 ELU(W2 a + W3 c + b2) + b1)) (Sec. 4.1, Eqs. 2-4).

    The optional context c (a static context vector [B, C]) is broadcast over time when `a` has a
    time axis. skip is the identity when input and output sizes agree, else a linear map.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 context_size: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.skip = nn.Linear(input_size, output_size) if input_size != output_size else nn.Identity()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.context = nn.Linear(context_size, hidden_size, bias=False) if context_size else None
        self.fc2 = nn.Linear(hidden_size, hidden_size)
        self.gate = GateAddNorm(output_size, dropout) if hidden_size == output_size else None
        if self.gate is None:  # hidden != output: GLU maps hidden -> output, then add & norm
            self.glu = GatedLinearUnit(hidden_size, output_size, dropout)
            self.norm = nn.LayerNorm(output_size)

    def forward(self, a: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        h = self.fc1(a)
        if context is not None:
            if self.context is None:
                raise ValueError("this GRN was built without a context input")
            h = h + _broadcast_context(self.context(context), h)
        h = self.fc2(F.elu(h))
        skip = self.skip(a)
        if self.gate is not None:
            return self.gate(h, skip)
        return self.norm(skip + self.glu(h))


class CategoricalEmbedding(nn.Module):
    """Entity embeddings (Sec. 4.2) for several categorical variables in one table.

    codes [..., V] int64 with 0 <= code < cardinalities[v] -> [..., V, d]. Variables share one
    nn.Embedding with per-variable offsets, so the lookup is a single gather.
    """

    def __init__(self, cardinalities: list[int], d: int):
        super().__init__()
        self.cardinalities = [int(k) for k in cardinalities]
        offsets = torch.tensor([0] + self.cardinalities[:-1], dtype=torch.long).cumsum(0)
        self.register_buffer("offsets", offsets, persistent=False)  # derived from the config, not saved
        self.embedding = nn.Embedding(max(sum(self.cardinalities), 1), d)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.embedding(codes + self.offsets)

    def weighted_sum(self, codes: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """sum_v weights[..., v] * embedding_v(codes[..., v]) -> [..., d], without the [..., V, d] tensor."""
        lead = codes.shape[:-1]
        flat = (codes + self.offsets).reshape(-1, len(self.cardinalities))
        out = F.embedding_bag(flat, self.embedding.weight, per_sample_weights=weights.reshape(flat.shape),
                              mode="sum")
        return out.reshape(*lead, -1)


class VariableSelectionNetwork(nn.Module):
    """Variable selection (Sec. 4.2, Eqs. 6-8), laid out for a CPU.

    Inputs: real variables (values [..., R], observed mask [..., R], 0 where missing) and
    categorical variables (codes [..., C]); optional static context c_s [B, ctx]. The selector
    GRN may use a smaller hidden size than d_model: it only has to produce R + C weights.
      weights  v   = softmax(GRN(inputs, c_s))                                  [..., R + C]
      real     xi_r = x_r a_r + |x_r| b_r + m_r u_r + e_r                       per-variable map to d
      category xi_c = Embedding_c(code_c)                                        entity embedding in d
      output       = sum_v v_v xi_v                                             [..., d]
    The paper feeds each variable through its own GRN. Here each variable keeps its own
    transform into d, but a cheap one: linear in the value plus |value| (inputs are normalised,
    so |x| lets a variable say "far from normal, either way"), and a learned "missing" offset
    through the mask. The weighted sum of all variables' maps is then a single matmul
    (concat_r(v_r x_r, v_r |x_r|, v_r m_r, v_r) @ [A; B; U; E]) plus one embedding_bag, so no
    [batch, time, variable, d] tensor is ever built. The selection weights keep the paper's
    meaning: the share each variable contributes to the step's representation.
    Returns (output [..., d], weights [..., R + C]) with reals first.
    """

    def __init__(self, n_real: int, cardinalities: list[int], d_model: int, context_size: int | None = None,
                 d_select: int = 4, selector_hidden: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.n_real, self.n_cat = n_real, len(cardinalities)
        if self.n_real + self.n_cat == 0:
            raise ValueError("VariableSelectionNetwork needs at least one variable")
        selector_in = 3 * n_real + d_select * self.n_cat
        self.selector = GatedResidualNetwork(selector_in, selector_hidden or d_model, n_real + self.n_cat,
                                             context_size, dropout)
        if n_real:  # columns grouped [values | |values| | masks | ones]; the ones block is e_r
            self.real_map = nn.Linear(4 * n_real, d_model, bias=False)
        if self.n_cat:
            self.select_embed = CategoricalEmbedding(cardinalities, d_select)  # small: only feeds the selector
            self.value_embed = CategoricalEmbedding(cardinalities, d_model)

    def forward(self, real: torch.Tensor | None = None, real_mask: torch.Tensor | None = None,
                codes: torch.Tensor | None = None, context: torch.Tensor | None = None):
        parts, R = [], self.n_real
        if R:
            real_abs = real.abs()
            parts += [real, real_abs, real_mask]
        if self.n_cat:
            parts.append(self.select_embed(codes).flatten(-2))
        selector_in = torch.cat(parts, dim=-1)
        weights = torch.softmax(self.selector(selector_in, context), dim=-1)
        out = 0.0
        if R:  # weight first (same-shape products are cheap), then one matmul for all variables
            w = weights[..., :R]
            out = self.real_map(torch.cat([real * w, real_abs * w, real_mask * w, w], dim=-1))
        if self.n_cat:
            out = out + self.value_embed.weighted_sum(codes, weights[..., R:])
        return out, weights


class StaticCovariateEncoder(nn.Module):
    """Four GRNs turning the static embedding into context vectors (Sec. 4.3):
    c_s (variable selection), c_e (static enrichment), c_h and c_c (encoder initial state)."""

    NAMES = ("selection", "enrichment", "state_h", "state_c")

    def __init__(self, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.grns = nn.ModuleDict({n: GatedResidualNetwork(d_model, d_model, d_model, None, dropout)
                                   for n in self.NAMES})

    def forward(self, static: torch.Tensor) -> dict[str, torch.Tensor]:
        return {n: grn(static) for n, grn in self.grns.items()}


class InterpretableMultiHeadAttention(nn.Module):
    """Interpretable multi-head attention (Sec. 4.4, Eqs. 13-16).

    Each head has its own query/key projections but all heads share one value projection, and
    the head outputs are averaged, so the averaged attention matrix alone explains which time
    steps the output came from.
    forward(q [B, Tq, d], k [B, Tk, d], v [B, Tk, d], key_mask [B, Tk] bool (True = may attend))
    -> (out [B, Tq, d], attention [B, Tq, Tk] averaged over heads).

    Evaluated in the cheap order for few queries (here one query over a 12-step window):
    - scores: q_h . (W_h k + b_h) = (W_h^T q_h) . k + q_h . b_h, so the query is mapped into the
      input space instead of projecting every key;
    - values: since V is shared, mean_h(A_h) (k W_v + b_v) = (mean_h(A_h) v) W_v + rowsum(A) b_v,
      so one pooled vector per query is projected instead of every time step.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, self.d_head)  # shared across heads
        self.out_proj = nn.Linear(self.d_head, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                key_mask: torch.Tensor | None = None):
        B, Tq, d = q.shape
        H, dh = self.n_heads, self.d_head
        qh = self.q_proj(q).view(B, Tq, H, dh) / math.sqrt(dh)
        q_in = torch.einsum("bqhe,hed->bqhd", qh, self.k_proj.weight.view(H, dh, d))     # W_h^T q_h
        scores = (q_in.reshape(B, Tq * H, d) @ k.transpose(1, 2)).view(B, Tq, H, -1)    # [B, Tq, H, Tk]
        scores = scores + (qh * self.k_proj.bias.view(H, dh)).sum(-1, keepdim=True)
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        attention = torch.softmax(scores, dim=-1).mean(dim=2)                           # [B, Tq, Tk]
        dropped = self.dropout(attention)
        values = F.linear(dropped @ v, self.v_proj.weight) + dropped.sum(-1, keepdim=True) * self.v_proj.bias
        return self.out_proj(values), attention
