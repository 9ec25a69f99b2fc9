"""Phased LSTM (Neil, Pfeiffer & Liu, NeurIPS 2016, "Phased LSTM: Accelerating Recurrent
Network Training for Long or Event-based Sequences").

A standard LSTM update is proposed at every step, but each hidden unit only lets it through
while its *time gate* is open. The gate is a periodic function of the real timestamp:

    phi = ((t - s) mod tau) / tau                      phase inside the unit's own cycle
    k   = 2 phi / r_on          if phi < r_on / 2      opening
          2 - 2 phi / r_on      if phi < r_on          closing
          alpha * phi           otherwise              closed (small leak while training)
    c_t = k * c_proposed + (1 - k) * c_{t-1}           same for h

tau (period), s (phase shift) and r_on (open ratio) are learned per unit. Because k is computed
from `t` itself, two records 5 minutes apart and two records 2 hours apart update the state
differently: irregular spacing and gaps are handled by the gate, not by resampling.
A per-step observed mask forces k = 0 on steps with no observation, so they keep the state.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn


def time_gate(t: torch.Tensor, log_tau: torch.Tensor, shift: torch.Tensor, r_on: torch.Tensor,
              alpha: float) -> torch.Tensor:
    """Openness k in [0, 1] of every unit at every timestamp.

    t: [..., T] minutes; log_tau, shift, r_on: [H]. Returns [..., T, H].
    """
    tau = log_tau.exp()
    phi = torch.remainder(t.unsqueeze(-1) - shift, tau) / tau  # remainder is >= 0 even for t < 0
    # Rising and falling ramps in one expression: 1 - |2 phi / r_on - 1| peaks at phi = r_on / 2
    # and is <= 0 from phi = r_on on, where relu zeroes it and only the leak remains.
    k = torch.relu(1.0 - torch.abs(phi * (2.0 / r_on) - 1.0))
    if alpha:
        k = k + torch.where(phi < r_on, 0.0, alpha * phi)
    return k


class PhasedLSTMCell(nn.Module):
    """One Phased LSTM step. The four LSTM gates come from a single fused matmul."""

    def __init__(self, input_size: int, hidden_size: int, tau_range: tuple[float, float] = (10.0, 240.0),
                 r_on: float = 0.4, alpha: float = 1e-3, eval_alpha: float = 0.0):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.alpha, self.eval_alpha = alpha, eval_alpha
        # x and h projections kept apart so PhasedLSTM can precompute x @ W_x for all steps at once.
        self.input_proj = nn.Linear(input_size, 4 * hidden_size)
        self.hidden_proj = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        # Periods log-uniform over the time scales we care about (minutes): a 1-hour window of
        # 5-minute records up to a few hours. Log-parameterised so tau stays positive.
        lo, hi = math.log(tau_range[0]), math.log(tau_range[1])
        self.log_tau = nn.Parameter(torch.empty(hidden_size).uniform_(lo, hi))
        self.shift = nn.Parameter(torch.rand(hidden_size) * self.log_tau.detach().exp())
        # r_on through a sigmoid keeps it in (0, 1) without clamping (clamping kills the gradient).
        self.r_on_logit = nn.Parameter(torch.full((hidden_size,), math.log(r_on / (1.0 - r_on))))
        with torch.no_grad():  # forget-gate bias 1: remember by default (Jozefowicz et al. 2015)
            self.input_proj.bias[hidden_size:2 * hidden_size].fill_(1.0)

    @property
    def r_on(self) -> torch.Tensor:
        return torch.sigmoid(self.r_on_logit)

    @property
    def tau(self) -> torch.Tensor:
        return self.log_tau.exp()

    def gate(self, t: torch.Tensor, observed: torch.Tensor | None = None) -> torch.Tensor:
        """Time gate [B, T, H]; zero on unobserved steps so they keep the state."""
        k = time_gate(t, self.log_tau, self.shift, self.r_on, self.alpha if self.training else self.eval_alpha)
        if observed is not None:
            k = k * observed.unsqueeze(-1).to(k.dtype)
        return k

    def step(self, x_proj: torch.Tensor, k: torch.Tensor, h: torch.Tensor, c: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance one step given the precomputed input projection x_proj [B, 4H] and gate k [B, H]."""
        # One sigmoid over all four gates: tanh(x) = 2 sigmoid(2x) - 1, and the candidate is
        # parameterised as tanh(z/2) = 2 sigmoid(z) - 1 (same family, weights scaled by 2).
        # torch's CPU tanh is several times slower than its sigmoid, and this loop is the hot path.
        # The "2 s - 1" products are written as addcmul(-a, a, s, value=2) = a (2 s - 1): a traced
        # Python float becomes a float64 constant tensor, cast to float32 again at every use
        # (~60 casts per window; the realtime trace ran 15 % faster without them).
        H = self.hidden_size
        gates = torch.sigmoid(torch.addmm(x_proj, h, self.hidden_proj.weight.t()))
        i, f, o, g = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        c_new = torch.addcmul(torch.addcmul(-i, f, c), i, g, value=2.0)       # f c + i (2 g - 1)
        h_new = torch.addcmul(-o, o, torch.sigmoid(c_new + c_new), value=2.0)  # o tanh(c_new)
        # lerp(a, b, k) = a + k (b - a): the gate blends proposal and previous state in one op.
        return torch.lerp(h, h_new, k), torch.lerp(c, c_new, k)

    def forward(self, x: torch.Tensor, t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
                observed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Single step: x [B, I], t [B] minutes, state (h, c) each [B, H], observed [B]."""
        k = self.gate(t.unsqueeze(-1), None if observed is None else observed.unsqueeze(-1))[:, 0]
        return self.step(self.input_proj(x), k, *state)


class PhasedLSTM(nn.Module):
    """Batch-first Phased LSTM over a short irregular sequence.

    forward(x [B, T, I], t [B, T] minutes, state=(h0, c0) or None, observed [B, T] or None)
    -> (outputs [B, T, H], (h_T, c_T)). The input projection and the time gate are computed for
    all steps before the loop, so each step is one matmul plus element-wise ops.
    """

    def __init__(self, input_size: int, hidden_size: int, **cell_kwargs):
        super().__init__()
        self.cell = PhasedLSTMCell(input_size, hidden_size, **cell_kwargs)
        self.hidden_size = hidden_size

    def forward(self, x: torch.Tensor, t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None,
                observed: torch.Tensor | None = None):
        B, T, _ = x.shape
        if state is None:
            zeros = x.new_zeros(B, self.hidden_size)
            state = (zeros, zeros)
        h, c = state
        # Input projection and time gate for all steps at once; each step then reads a strided
        # [B, .] slice (addmm copies its additive input into the result anyway).
        x_proj = self.cell.input_proj(x)        # [B, T, 4H], one matmul
        k = self.cell.gate(t, observed)         # [B, T, H]
        outputs = []
        for x_i, k_i in zip(x_proj.unbind(1), k.unbind(1)):  # T <= 24: the loop is cheap next to the matmuls
            h, c = self.cell.step(x_i, k_i, h, c)
            outputs.append(h)
        return torch.stack(outputs, dim=1), (h, c)

