"""Neural detector: Phased LSTM encoder + Temporal Fusion Transformer blocks.

phased_lstm.py (Neil et al. 2016), tft.py (Lim et al. 2021), network.py (wiring, ModelConfig),
traced.py (the realtime path's TorchScript trace), detector.py (LearnedDetector: the network behind
the detector contract), training.py (`wearable-monitor train`). Checkpoints: ../hub.py
(save_pretrained / from_pretrained: config.json + model.safetensors, no pickle).
"""
from ..hub import SCHEMA_VERSION, CheckpointError, HubMixin, read_config
from .detector import LearnedDetector  # after .network: it builds on the network
from .network import BATCH_FIELDS, GAP_VARIABLE, ModelConfig, WearableAnomalyNet, batch_from_windows, masked_mse
from .phased_lstm import PhasedLSTM, PhasedLSTMCell, time_gate
from .tft import (
    GateAddNorm,
    GatedLinearUnit,
    GatedResidualNetwork,
    InterpretableMultiHeadAttention,
    StaticCovariateEncoder,
    VariableSelectionNetwork,
)

__all__ = [
    "SCHEMA_VERSION", "CheckpointError", "HubMixin", "read_config",
    "BATCH_FIELDS", "GAP_VARIABLE", "ModelConfig", "WearableAnomalyNet", "batch_from_windows", "masked_mse",
    "PhasedLSTM", "PhasedLSTMCell", "time_gate",
    "GateAddNorm", "GatedLinearUnit", "GatedResidualNetwork", "InterpretableMultiHeadAttention",
    "StaticCovariateEncoder", "VariableSelectionNetwork", "LearnedDetector",
]
