"""PatchTrAD's configurations: the architecture and input layout saved with a checkpoint, and training."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ...config import NORMALISATIONS, NUMERIC, FeatureConfig, FeatureSpec, check_known_keys, default_feature_config
from ...features import ColumnNormaliser


AUX_NAMES = ("hour_sin", "hour_cos", "gap")  # per-point inputs that are not reconstructed


CLIP = 8.0  # normalised values are clipped: a single wild value must not dominate the gradients


@dataclass
class PatchTrADConfig:
    """Architecture + input layout; everything needed to rebuild the model from config.json."""

    features: list[str] = field(default_factory=list)
    norm: dict[str, list] = field(default_factory=dict)  # feature -> [method, mean, std]
    sampling_minutes: int = 5
    seq_len: int = 96       # 8 hours of 5-minute records
    patch_len: int = 12     # 1 hour per patch -> 8 tokens
    d_model: int = 48
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 96
    dropout: float = 0.1
    # features each patch must predict from its context (its own values hidden) when scored;
    # empty = plain reconstruction. See module docstring.
    hidden_features: list[str] = field(default_factory=list)
    # the hidden block spans the scored patch and `hide_radius` patches each side, so an event
    # straddling a patch boundary cannot explain itself from its other half
    hide_radius: int = 1
    # frame scoring: preceding patches of the same user given as context to each scored patch
    # (None = the whole tiled sequence). On simulated users context-free scoring ranked windows
    # best (PR-AUC 0.77 vs 0.36 with 7 patches: long events explain themselves from context).
    score_context_patches: int | None = 0
    feature_config_sha256: str = ""

    def __post_init__(self):
        if not self.features:
            raise ValueError("PatchTrADConfig.features: empty")
        missing = [f for f in self.features if f not in self.norm]
        if missing:
            raise ValueError(f"PatchTrADConfig.norm: no normalisation for {missing}")
        unknown = sorted({self.norm[f][0] for f in self.features} - set(NORMALISATIONS))
        if unknown:
            raise ValueError(f"PatchTrADConfig.norm: unknown normalisation method(s) {unknown}")
        if self.seq_len % self.patch_len:
            raise ValueError(f"seq_len {self.seq_len} is not a multiple of patch_len {self.patch_len}")
        extra = [f for f in self.hidden_features if f not in self.features]
        if extra:
            raise ValueError(f"PatchTrADConfig.hidden_features: {extra} are not model features")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_patches(self) -> int:
        return self.seq_len // self.patch_len

    def normaliser(self) -> ColumnNormaliser:
        """The features' normaliser (features/normalise.py) with this checkpoint's own statistics."""
        return ColumnNormaliser([FeatureSpec(f, NUMERIC, "", norm_method=m, norm_mean=mean, norm_std=std)
                                 for f, (m, mean, std) in ((f, self.norm[f]) for f in self.features)])

    @classmethod
    def from_feature_config(cls, fc: FeatureConfig | None = None,
                            channels: tuple[str, ...] = ("physiological", "activity"), **kw) -> "PatchTrADConfig":
        """Numeric model features of `channels`, normalised as configs/features_config.json says."""
        fc = fc or default_feature_config()
        feats = [f for ch in channels for f in fc.channel_features(ch)]
        norm = {f: [fc.features[f].norm_method, fc.features[f].norm_mean, fc.features[f].norm_std] for f in feats}
        kw.setdefault("hidden_features", [f for f in feats if fc.features[f].channel == "physiological"])
        return cls(features=feats, norm=norm, sampling_minutes=fc.sampling_minutes,
                   feature_config_sha256=fc.sha256, **kw)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PatchTrADConfig":
        check_known_keys(cls, d, "PatchTrADConfig")
        return cls(**d)


@dataclass
class PatchTrADTrainConfig:
    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    stride: int = 12            # training sequences start every `stride` records (overlapping views)
    min_observed: float = 0.5   # skip training sequences with fewer observed values than this share
    patch_drop: float = 0.2     # share of block centres whose hidden features are blanked in the input (kept as target)
    context_drop: float = 0.25  # share of sequences whose leading patches are blanked entirely
    val_fraction: float = 0.25  # users held out for the threshold
    threshold_quantile: float = 0.99
    max_sequences: int | None = None  # cap (random subset) to bound training time
