"""Configuration-driven features: frame -> model-ready `Windows` (architecture.md section 3).

A window is `window_size` consecutive records of one user. Spacing may be
irregular: gaps are information (a Phased LSTM uses `dt` / `t` directly), so
nothing is resampled or imputed. Missing values become 0 in the value arrays
and 0 in the matching mask, so the model always sees *that* a value is missing.

Everything is computed on row-level arrays first (one pass over the frame),
then gathered into windows with `sliding_window_view`: no Python loop over
windows, so a user-year (~105k windows) takes well under a second per array.

Which features exist, their channels, normalisation, factor channels/stats and
baseline metrics all come from `configs/features_config.json` (`config.py`);
adding a channel there changes the arrays here without any code change.

    windows.py     Windows, the batch every detector reads (it carries its source frame)
    calculator.py  FeatureCalculator: frame / records -> Windows
    context.py     the context vector of a window (factor statistics, baseline deviations)
    normalise.py   the one normaliser (features config normalisation)
    arrays.py      a frame's columns as numpy arrays and the sliding-window gathers
"""
from .arrays import Columns, frame_columns
from .calculator import KNOWN_NAMES, FeatureCalculator, baseline_rows
from .context import SUSPECT_DAYS_CAP, Z_CLIP, ContextVector, baseline_columns
from .normalise import ColumnNormaliser, normalise, normalise_columns
from .windows import Windows

__all__ = ["Columns", "frame_columns", "KNOWN_NAMES", "FeatureCalculator", "SUSPECT_DAYS_CAP", "Z_CLIP",
           "ContextVector", "baseline_columns", "baseline_rows", "ColumnNormaliser", "normalise", "normalise_columns",
           "Windows"]
