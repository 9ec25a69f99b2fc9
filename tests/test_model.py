"""Model tests: shapes, selection weights, gradient flow, the Phased LSTM time gate, missing steps,
safetensors checkpoints (round trip and strict key checking), size, and a toy learning task."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from wearable_monitor.detectors.learned import (
    CheckpointError,
    InterpretableMultiHeadAttention,
    ModelConfig,
    PhasedLSTM,
    WearableAnomalyNet,
    time_gate,
)

T = 12


def small_config(**overrides) -> ModelConfig:
    base = dict(
        numeric_names=["hr", "hrv_rmssd", "spo2", "steps"],
        categorical_names=["sleep_state", "data_quality"], categorical_cardinalities=[4, 3],
        known_names=["hour_sin", "hour_cos"],
        static_names=["age_group", "sex"], static_cardinalities=[6, 3],
        context_names=["hr_z_score", "hrv_z_score", "observed_fraction"],
        window_size=T, d_model=16, n_heads=2, n_kinds=3, dropout=0.0,
    )
    return ModelConfig(**{**base, **overrides})


def make_batch(config: ModelConfig, B: int = 6, seed: int = 0, gap_every: int = 0) -> dict[str, torch.Tensor]:
    """Random windows in the Windows layout (5-minute steps, optional long gaps)."""
    g = torch.Generator().manual_seed(seed)
    Fn = len(config.numeric_names)
    mask = (torch.rand(B, T, Fn, generator=g) > 0.2).float()
    dt = torch.full((B, T), 5.0)
    if gap_every:
        dt[:, ::gap_every] = 45.0
    t = -(dt.flip(1).cumsum(1).flip(1) - dt[:, -1:])  # last step 0, earlier negative
    cat = torch.stack([torch.randint(0, k + 1, (B, T), generator=g) for k in config.categorical_cardinalities], -1)
    static = torch.stack([torch.randint(0, k, (B,), generator=g) for k in config.static_cardinalities], -1)
    C = len(config.context_names)
    return dict(
        numeric=torch.randn(B, T, Fn, generator=g) * mask, numeric_mask=mask, categorical=cat, dt=dt, t=t,
        known=torch.randn(B, T, len(config.known_names), generator=g), static=static,
        context=torch.randn(B, C, generator=g), context_mask=(torch.rand(B, C, generator=g) > 0.3).float(),
    )


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny batches run fastest on one thread, and CI shares its 2 cores with other jobs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def model() -> WearableAnomalyNet:
    torch.manual_seed(0)
    return WearableAnomalyNet(small_config()).eval()


def test_forward_shapes(model):
    c, B = model.config, 5
    out = model(make_batch(c, B))
    Fn = len(c.numeric_names)
    expected = {
        "logits": (B,), "probability": (B,), "variable_weights": (B, len(model.variable_names)),
        "static_weights": (B, 2), "context_weights": (B, 3), "attention": (B, T), "kind_logits": (B, 3),
        "representation": (B, c.d_model), "forecast": (B, T, Fn), "reconstruction": (B, T, Fn),
    }
    assert {k: tuple(v.shape) for k, v in out.items()} == expected
    assert len(model.variable_names) == Fn + 2 + 1 + 2  # numeric, known, gap, categorical
    assert "forecast" not in model(make_batch(c, B), aux=False)
    assert torch.all((out["probability"] > 0) & (out["probability"] < 1))


def test_weights_are_distributions(model):
    out = model(make_batch(model.config, 7))
    for key in ("variable_weights", "static_weights", "context_weights", "attention"):
        w = out[key]
        assert torch.all(w >= 0), key
        torch.testing.assert_close(w.sum(-1), torch.ones(len(w)), msg=key)


def test_gradients_reach_every_parameter():
    torch.manual_seed(1)
    net = WearableAnomalyNet(small_config(dropout=0.1)).train()
    batch = make_batch(net.config, 8, gap_every=4)
    out = net(batch)
    loss = (torch.nn.functional.binary_cross_entropy_with_logits(out["logits"], torch.rand(8))
            + out["kind_logits"].logsumexp(-1).mean() + out["forecast"].pow(2).mean()
            + out["reconstruction"].pow(2).mean())
    loss.backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert dead == []


def test_minimal_layout_without_categoricals_statics_or_context():
    torch.manual_seed(6)
    config = ModelConfig(numeric_names=["hr", "steps"], window_size=T, d_model=16, n_heads=2, n_kinds=0)
    net = WearableAnomalyNet(config).train()
    full = make_batch(small_config(), 4)
    batch = {k: full[k] for k in ("numeric_mask", "numeric", "t", "dt")}
    batch["numeric"], batch["numeric_mask"] = batch["numeric"][..., :2], batch["numeric_mask"][..., :2]
    out = net(batch)
    assert out["variable_weights"].shape == (4, 3)  # hr, steps, gap
    assert out["static_weights"].shape == (4, 0) and out["context_weights"].shape == (4, 0)
    out["logits"].sum().backward()
    assert net.static_default.grad is not None


def test_time_gate_shape_and_leak():
    log_tau = torch.log(torch.tensor([60.0]))
    shift, r_on = torch.tensor([0.0]), torch.tensor([0.2])
    # phases 0 (opening starts), 0.05, 0.1 (fully open), 0.15 (closing), 0.5 (closed, leak), 0.1
    t = torch.tensor([0.0, 3.0, 6.0, 9.0, 30.0, 66.0])
    k = time_gate(t, log_tau, shift, r_on, alpha=0.01)[:, 0]
    torch.testing.assert_close(k, torch.tensor([0.0, 0.5, 1.0, 0.5, 0.005, 1.0]))
    # Negative times (window-relative) wrap the same way: -54 min is phase 0.1 of a 60-min cycle.
    torch.testing.assert_close(time_gate(torch.tensor([-54.0]), log_tau, shift, r_on, 0.0)[0, 0], torch.tensor(1.0))


def test_interpretable_attention_matches_the_textbook_formulation():
    """The module evaluates attention in a cheaper order; the result must equal Lim et al.'s
    Eqs. 13-16 written out directly (per-head Q/K, shared V, averaged heads)."""
    torch.manual_seed(5)
    att = InterpretableMultiHeadAttention(16, 4).eval()
    q, k = torch.randn(3, 2, 16), torch.randn(3, 7, 16)
    key_mask = torch.rand(3, 7) > 0.3
    key_mask[:, -1] = True
    out, weights = att(q, k, k, key_mask)
    qh = att.q_proj(q).view(3, 2, 4, 4).transpose(1, 2)
    kh = att.k_proj(k).view(3, 7, 4, 4).transpose(1, 2)
    scores = (qh @ kh.transpose(-1, -2) / 2.0).masked_fill(~key_mask[:, None, None, :], float("-inf"))
    heads = scores.softmax(-1)
    torch.testing.assert_close(weights, heads.mean(1))
    torch.testing.assert_close(out, att.out_proj((heads @ att.v_proj(k)[:, None]).mean(1)))
    assert torch.all(weights[~key_mask[:, None, :].expand(-1, 2, -1)] == 0)


def test_chunked_forward_equals_one_call(model):
    batch = make_batch(model.config, 7, seed=3)
    with torch.no_grad():
        whole = model(batch, aux=False)
    chunked = model.forward_chunked(batch, chunk_size=3)
    for key in whole:
        torch.testing.assert_close(chunked[key], whole[key], msg=key)


def test_static_context_is_encoded_once_per_distinct_person_type(model):
    """A batch of one user's windows repeats one static code row: encoding it once gives each row what
    encoding every row gives (mixed rows too), and gradients still reach the static encoder."""
    batch = make_batch(model.config, 9, seed=4)
    batch["static"][:6] = batch["static"][0]          # six windows of one person, three others
    with torch.no_grad():
        once_weights, once = model.static_context(batch["static"], 9)
        rows = [model.static_context(batch["static"][i:i + 1], 1) for i in range(9)]
    torch.testing.assert_close(once_weights, torch.cat([w for w, _ in rows]))
    for key, value in once.items():
        torch.testing.assert_close(value, torch.cat([c[key] for _, c in rows]), msg=key)
    same = batch["static"][:1].repeat(4, 1)          # one person only: the shortcut without unique
    with torch.no_grad():
        weights, ctx = model.static_context(same, 4)
        w1, c1 = model.static_context(same[:1], 1)
    torch.testing.assert_close(weights, w1.expand(4, -1))
    for key, value in ctx.items():
        torch.testing.assert_close(value, c1[key].expand(4, -1), msg=key)
    trained = WearableAnomalyNet(model.config).train()
    trained(make_batch(model.config, 5, seed=5))["logits"].sum().backward()
    assert all(p.grad is not None for p in trained.static_vsn.parameters())


def test_irregular_timestamps_change_the_output():
    torch.manual_seed(2)
    # Without the gap variable, timestamps reach the model only through the time gate.
    net = WearableAnomalyNet(small_config(use_gap=False)).eval()
    batch = make_batch(net.config, 4)
    stretched = dict(batch, t=batch["t"] * 3.0)  # same records, 15-minute spacing
    with torch.no_grad():
        a, b = net(batch)["logits"], net(stretched)["logits"]
    assert not torch.allclose(a, b, atol=1e-5)


def test_unobserved_steps_keep_the_state():
    torch.manual_seed(3)
    lstm = PhasedLSTM(3, 8, r_on=0.9).eval()
    x, t = torch.randn(2, T, 3), torch.arange(-5.0 * (T - 1), 1.0, 5.0).expand(2, T)
    observed = torch.ones(2, T)
    observed[:, 4:7] = 0
    out, _ = lstm(x, t, observed=observed)
    for i in (4, 5, 6):
        torch.testing.assert_close(out[:, i], out[:, 3])
    assert not torch.allclose(out[:, 7], out[:, 6])


def test_fully_masked_steps_and_windows(model):
    c = model.config
    batch = make_batch(c, 4)
    batch["numeric_mask"][:, 3:9] = 0
    batch["numeric"][:, 3:9] = 0
    batch["numeric_mask"][0] = 0  # window 0: nothing observed at all
    batch["numeric"][0] = 0
    out = model(batch)
    for key, v in out.items():
        assert torch.isfinite(v).all(), key
    # Masked steps get no attention, except the last step which carries the state forward.
    assert torch.all(out["attention"][1:, 3:9] == 0)
    # Whatever the values behind a zero mask are, the score is the same: mask means missing.
    poisoned = dict(batch, numeric=batch["numeric"].clone())
    poisoned["numeric"][:, 3:9] = 100.0
    torch.testing.assert_close(model(poisoned)["logits"], out["logits"])


def test_pretrain_forward_hides_only_observed_entries(model):
    batch = make_batch(model.config, 6)
    out = model.pretrain_forward(batch, mask_prob=0.3, generator=torch.Generator().manual_seed(0))
    assert out["hidden"].any()
    assert not torch.any(out["hidden"] & (batch["numeric_mask"] == 0))
    assert torch.isfinite(out["loss"]) and out["loss"] > 0


def test_bad_batch_is_named(model):
    batch = make_batch(model.config, 3)
    with pytest.raises(ValueError, match="numeric_mask"):
        model(dict(batch, numeric_mask=batch["numeric_mask"][:, :, :2]))
    bad = dict(batch, static=batch["static"].clone())
    bad["static"][0, 1] = 7
    with pytest.raises(ValueError, match="sex"):
        model(bad)
    with pytest.raises(KeyError, match="context"):
        model({k: v for k, v in batch.items() if k != "context"})


def test_code_ranges_are_checked_per_variable(model):
    """Temporal categoricals may use their extra "missing" index (= cardinality), statics may not;
    negative codes and float codes are refused; the error names the variable and its valid range."""
    batch = make_batch(model.config, 3)

    def with_code(key, j, value):
        codes = batch[key].clone()
        codes[(0, 0, j) if key == "categorical" else (0, j)] = value
        return dict(batch, **{key: codes})

    model(with_code("categorical", 1, 3))  # data_quality: 3 categories + the missing index 3
    with pytest.raises(ValueError, match=r"'data_quality' \(valid 0..3\)"):
        model(with_code("categorical", 1, 4))
    with pytest.raises(ValueError, match=r"'sleep_state' \(valid 0..4\)"):
        model(with_code("categorical", 0, -1))
    with pytest.raises(ValueError, match=r"'age_group' \(valid 0..5\)"):
        model(with_code("static", 0, 6))  # a static has no missing index
    with pytest.raises(TypeError, match="integer codes"):
        model(dict(batch, static=batch["static"].float()))


def test_save_and_load_round_trip(model, tmp_path):
    extra = {"feature_config_sha256": "ab" * 32, "threshold": 0.42}
    model.save_pretrained(tmp_path, extra_config=extra)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["architecture"] == model.config.to_dict() and config["threshold"] == 0.42
    loaded = WearableAnomalyNet.from_pretrained(tmp_path)
    assert not loaded.training and loaded.checkpoint_config == extra
    batch = make_batch(model.config, 5, seed=9, gap_every=3)
    with torch.no_grad():
        a, b = model(batch), loaded(batch)
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _tamper(directory, change):
    path = directory / "model.safetensors"
    state = load_file(str(path))
    change(state)
    save_file(state, str(path))


def test_tampered_checkpoints_are_refused(model, tmp_path):
    for name, change, message in [
        ("extra", lambda s: s.__setitem__("backdoor.weight", torch.zeros(3)), "unexpected keys.*backdoor.weight"),
        ("missing", lambda s: s.pop("anomaly_head.bias"), "missing keys.*anomaly_head.bias"),
        ("shape", lambda s: s.__setitem__("anomaly_head.bias", torch.zeros(2)), "shape mismatch.*anomaly_head.bias"),
    ]:
        folder = tmp_path / name
        model.save_pretrained(folder)
        _tamper(folder, change)
        with pytest.raises(CheckpointError, match=message):
            WearableAnomalyNet.from_pretrained(folder)
    folder = tmp_path / "schema"
    model.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(dict(config, schema_version=99)))
    with pytest.raises(CheckpointError, match="schema_version"):
        WearableAnomalyNet.from_pretrained(folder)
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        WearableAnomalyNet.from_pretrained(tmp_path / "does-not-exist")
    with pytest.raises(ValueError, match="reserved"):
        model.save_pretrained(tmp_path / "x", extra_config={"architecture": {}})


def test_parameter_count_of_the_shipped_layout():
    from wearable_monitor.features import FeatureCalculator

    config = ModelConfig.from_windows(FeatureCalculator())
    n = WearableAnomalyNet(config).num_parameters()
    print(f"WearableAnomalyNet parameters (shipped feature layout, d_model={config.d_model}): {n:,}")
    assert 100_000 <= n <= 500_000


def test_scores_real_windows_from_the_feature_pipeline():
    """Contract check against features.py: Windows -> batch_from_windows -> forward."""
    from wearable_monitor.features import FeatureCalculator
    from wearable_monitor.detectors.learned import batch_from_windows
    from wearable_monitor.simulation.simulator import simulate_population

    windows = FeatureCalculator().windows(simulate_population(2, 2, 0).frame)
    net = WearableAnomalyNet(ModelConfig.from_windows(windows, d_model=16, n_heads=2)).eval()
    out = net.forward_chunked(batch_from_windows(windows), chunk_size=256)
    assert out["logits"].shape == (len(windows),) and torch.isfinite(out["logits"]).all()
    assert out["variable_weights"].shape == (len(windows), len(net.variable_names))


def test_a_few_steps_learn_a_separable_task():
    """Anomalous windows have a raised heart rate in the last half hour; 40 Adam steps should
    take the loss well below its starting value."""
    torch.manual_seed(4)
    config = small_config()
    net = WearableAnomalyNet(config).train()
    batch = make_batch(config, 64, seed=5)
    y = (torch.arange(64) % 2).float()
    batch["numeric"][:, 6:, 0] += 2.5 * y[:, None]
    batch["numeric_mask"][:, 6:, 0] = 1.0
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(batch, aux=False)["logits"], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("L", [6, 12, 24])
def test_one_model_scores_every_window_length_from_the_feature_pipeline(L):
    """Issue 20: the model has no fixed length; windows of 6, 12 and 24 records share one network."""
    from wearable_monitor.features import FeatureCalculator
    from wearable_monitor.detectors.learned import batch_from_windows
    from wearable_monitor.simulation.simulator import simulate_population

    torch.manual_seed(0)
    frame = simulate_population(1, 2, 0).frame
    net = WearableAnomalyNet(ModelConfig.from_windows(FeatureCalculator(), d_model=16, n_heads=2)).eval()
    windows = FeatureCalculator(window_size=L).windows(frame)
    assert windows.window_size == L
    out = net.forward_chunked(batch_from_windows(windows), chunk_size=256)
    assert out["logits"].shape == (len(windows),) and torch.isfinite(out["logits"]).all()
    assert out["attention"].shape == (len(windows), L)


def test_shipped_checkpoint_loads_strictly_with_the_feature_layout():
    """The shipped checkpoint is the one of configs/train_default.json (12-record windows); the
    shape-agnostic mixed-length retrain (configs/train_shape_agnostic.json) did not earn its place
    (docs/experiments/shape_agnostic_retrain.md)."""
    from wearable_monitor.config import REPO_ROOT
    from wearable_monitor.features import FeatureCalculator

    path = REPO_ROOT / "checkpoints" / "phase2" / "exp_factor_balanced"
    net = WearableAnomalyNet.from_pretrained(path, strict=True)
    config = json.loads((path / "config.json").read_text())
    layout = ModelConfig.from_windows(FeatureCalculator())
    for key in ("numeric_names", "categorical_names", "known_names", "static_names", "context_names"):
        assert getattr(net.config, key) == getattr(layout, key)
    assert config["window_size"] == json.loads((REPO_ROOT / "configs" / "train_default.json").read_text())["window_size"]
