"""Gradio Blocks UI (placeholder page until the app issue lands; importing starts nothing)."""
from __future__ import annotations

import gradio as gr

DISCLAIMER = ("This is a screening aid for wearable data, not a medical device and not a diagnosis. "
              "See a doctor about any health concern.")


def build_ui() -> gr.Blocks:
    with gr.Blocks(title="Wearable TimeSeries Health Monitor") as demo:
        gr.Markdown("# Wearable TimeSeries Health Monitor\n\n" + DISCLAIMER)
    return demo


def launch(**kwargs) -> None:
    build_ui().queue(default_concurrency_limit=2).launch(**kwargs)


def configure_app(parser):
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    return lambda args: launch(server_name=args.host, server_port=args.port)
