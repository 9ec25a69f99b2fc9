"""`wearable-monitor app`: start the Gradio app (its options live with the UI, app/ui.py)."""
from __future__ import annotations

from ..app.ui import configure_app

__all__ = ["configure_app"]



