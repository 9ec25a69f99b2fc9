"""The package's errors: one root, so a caller (the CLI, the app) can tell "your input is unusable"
from a bug with one `except WearableMonitorError`.

Every error here is a `ValueError` too (what they were before there was a root), and its message
says what is wrong and where (file, line, field or key), in words a user can act on.
"""
from __future__ import annotations


class WearableMonitorError(ValueError):
    """Input, a configuration or a checkpoint that cannot be used; the message says why."""


class InputError(WearableMonitorError):
    """Records or log lines that cannot be used; the message lists the problems
    ('path:line: field: message' for files)."""


class InputFileError(InputError):
    """The whole input file is unusable (empty, binary, too large, not JSON...)."""


class ConfigError(WearableMonitorError):
    """A configuration file is invalid; the message names the file and key."""


class CheckpointError(WearableMonitorError):
    """A checkpoint folder is incomplete, from another schema, or does not match the model."""


class FormatterInputError(InputError):
    """A result / pattern / finding given to the formatter has a field of the wrong type; the message names it."""


class CaseError(WearableMonitorError):
    """A case cannot be built (bad name, no usable records, unknown user...)."""


__all__ = ["WearableMonitorError", "InputError", "InputFileError", "ConfigError", "CheckpointError",
           "FormatterInputError", "CaseError"]
