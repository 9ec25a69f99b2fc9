"""Hugging Face Space entry point: `python gradio_app.py` starts the app.

Listens on 127.0.0.1 unless GRADIO_SERVER_NAME says otherwise or it runs in a Space (SPACE_ID set),
where it must listen on 0.0.0.0 (see `wearable_monitor.app.ui.default_host`).
"""
from __future__ import annotations

import os

from wearable_monitor.app.ui import default_host, launch

if __name__ == "__main__":
    launch(server_name=default_host(), server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")))
