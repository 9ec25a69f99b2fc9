"""PatchTrAD prescreen: patch-wise transformer reconstruction of a user's 5-minute series.

    config.py      architecture + input layout (saved with a checkpoint), training settings
    series.py      a frame -> normalised arrays, tiled into sequences per user
    model.py       the network (checkpoints in the package's one format, detectors/hub.py)
    scoring.py     patch scores of tiled sequences
    training.py    training on normal data, the threshold from normal users' scores
    detector.py    PatchTrADDetector: the detector contract, record scores, flagged segments
    evaluation.py  its own held-out report (`wearable-monitor train-patchtrad`)

After PatchTrAD (Vilhes et al., 2025): the multivariate series is cut into
fixed-length patches, each patch (values + observed mask + time-of-day) becomes
one token, a small transformer encoder with learned positional embeddings
reconstructs every patch, and the *patch-wise* reconstruction error is the
anomaly score. Trained on normal data only, so it needs no labels; it is a cheap
unsupervised prescreen that runs next to the learned detector.

Inputs
------
PatchTrAD scores records, one way: each user's records of a frame (records.py
layout) are taken in time order and tiled into sequences of ``seq_len`` records
(``patch_len`` records per patch); every record gets the score of the patch that
holds it (`score_series`), and flagged patches merge into segments
(`flag_segments`). Through the detector contract a `features.Windows` batch is
scored on its source frame (`Windows.frame`): a window's score is the highest
record score among its records, so a window sees the same hours of context as a
record does.

Scores: each patch is reconstructed with its own *physiological* values (and
those of `hide_radius` neighbouring patches) hidden, so it must be explained by
its visible activity, time of day and context: heart rate that steps do not
explain stands out, a run does not. The score is the mean over the patch's
observed physiological values of the squared error, each feature's error divided
by its typical error on training data (``error_scale``) so no channel dominates.
Unobserved values never enter the model (input is ``x * mask``) nor the error.
On frames each patch is scored with ``score_context_patches`` preceding patches
(default 0: measured better on simulated users, see the config comment).

Training: normal users only (labelled event spans are hidden as unobserved),
random blocks of patches get their physiology hidden (kept as target) and the
leading context is sometimes blanked (so short inputs are in distribution).

Threshold criterion: the ``threshold_quantile`` (default 0.99) quantile of the
patch scores of held-out *normal* users (patches overlapping a labelled event
excluded), i.e. roughly 1 % of normal hours flagged: PatchTrAD needs no labels.
`calibrate` (the contract's one criterion, best event-level F1 on labelled
validation users) re-sets it where labels exist.

This is a screening aid, not a diagnosis.
"""
from ..hub import WEIGHTS_NAME
from .config import AUX_NAMES, CLIP, PatchTrADConfig, PatchTrADTrainConfig
from .detector import SUMMARY_NAME, PatchTrADDetector, Segment, train_patchtrad
from .evaluation import evaluate_patchtrad
from .model import PatchTrAD
from .scoring import patch_scores, series_patch_scores
from .series import Series, event_rows, frame_series, tile_rows
from .training import fit_model, train_model

__all__ = ["AUX_NAMES", "CLIP", "PatchTrADConfig", "PatchTrADTrainConfig", "PatchTrAD", "PatchTrADDetector",
           "Segment", "train_patchtrad", "train_model", "fit_model", "evaluate_patchtrad", "Series",
           "frame_series", "tile_rows", "event_rows", "patch_scores", "series_patch_scores", "SUMMARY_NAME",
           "WEIGHTS_NAME"]
