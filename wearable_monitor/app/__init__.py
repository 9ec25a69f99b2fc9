"""The Gradio app: `service` holds plain, testable functions; `ui` is the thin Blocks layer."""
