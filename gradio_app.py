"""Hugging Face Space entry point: `python gradio_app.py` starts the app."""
from __future__ import annotations

import os

from wearable_monitor.app.ui import launch

if __name__ == "__main__":
    launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
           server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
