"""The PatchTrAD network: patch tokens -> transformer encoder -> per-patch reconstruction, and its scores."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..hub import HubMixin
from .config import AUX_NAMES, PatchTrADConfig


class PatchTrAD(HubMixin, nn.Module):
    """Patch embedding -> transformer encoder -> per-patch linear reconstruction."""

    config_class = PatchTrADConfig

    def __init__(self, cfg: PatchTrADConfig):
        super().__init__()
        self.cfg = self.config = cfg  # `config`: what HubMixin saves
        nf, na = cfg.n_features, len(AUX_NAMES)
        self.embed = nn.Linear(cfg.patch_len * (2 * nf + na), cfg.d_model)
        self.pos = nn.Parameter(torch.randn(cfg.n_patches, cfg.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.d_ff, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.patch_len * nf)
        # typical squared error per feature on training data; set after training, saved with the weights
        self.register_buffer("error_scale", torch.ones(nf))
        hidden = torch.tensor([f in cfg.hidden_features for f in cfg.features], dtype=torch.float32)
        # which features are scored: the hidden ones, or all of them for plain reconstruction
        self.scored = hidden if cfg.hidden_features else torch.ones(nf)
        # hide[p]: [L, F] = 1 where patch p's hidden features are masked out when p is scored
        L, pl = cfg.seq_len, cfg.patch_len
        self.hide = torch.zeros(cfg.n_patches, L, nf)
        r = cfg.hide_radius
        for p in range(cfg.n_patches):
            self.hide[p, max(p - r, 0) * pl:min(p + r + 1, cfg.n_patches) * pl] = hidden

    def forward(self, x: torch.Tensor, m: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """x, m: [B, L, F] (L = n_patches * patch_len), aux: [B, L, A] -> reconstruction [B, L, F]."""
        B, L, nf = x.shape
        P = L // self.cfg.patch_len
        # multiply by the mask so that whatever sits in unobserved slots cannot leak in
        tokens = torch.cat([x * m, m, aux], dim=-1).reshape(B, P, -1)
        h = self.embed(tokens) + self.pos[:P]
        h = self.ln_f(self.encoder(h))
        return self.head(h).reshape(B, L, nf)

    def scoring_reconstruction(self, x: torch.Tensor, m: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """[B, L, F]: each patch reconstructed with its own hidden features masked (one pass per patch).

        Plain reconstruction when no features are hidden. A hidden patch must be
        explained by the person's context (the other patches) and its own visible
        activity, so a heart rate that activity does not explain stands out.
        """
        if not self.cfg.hidden_features:
            return self(x, m, aux)
        B, L, nf = x.shape
        P, pl = self.cfg.n_patches, self.cfg.patch_len
        m_in = (m[:, None] * (1 - self.hide)[None]).reshape(B * P, L, nf)
        rep = lambda a: a[:, None].expand(B, P, *a.shape[1:]).reshape(B * P, *a.shape[1:])  # noqa: E731
        out = self(rep(x), m_in, rep(aux)).reshape(B, P, P, pl, nf)
        return out[:, torch.arange(P), torch.arange(P)].reshape(B, L, nf)  # patch p from pass p

    def squared_errors(self, x: torch.Tensor, m: torch.Tensor, aux: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(error, weight) [B, L, F]: scale-normalised squared error and 1 where it counts."""
        w = m * self.scored
        return (self.scoring_reconstruction(x, m, aux) - x).pow(2) * w / self.error_scale, w

    def patch_scores(self, x: torch.Tensor, m: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """[B, P] mean normalised squared error over a patch's scored observed values; NaN if none."""
        B, L, _ = x.shape
        P = L // self.cfg.patch_len
        err, w = self.squared_errors(x, m, aux)
        num, den = err.reshape(B, P, -1).sum(-1), w.reshape(B, P, -1).sum(-1)
        return torch.where(den > 0, num / den.clamp_min(1.0), torch.full_like(num, float("nan")))
