"""Gradio layout and event wiring (placeholder until the explorer lands)."""
from __future__ import annotations

import os

import gradio as gr


def build() -> gr.Blocks:
    with gr.Blocks(title="Latent Explorer") as demo:
        gr.Markdown("# Latent Explorer\nThe explorer is being built. Train models with `python -m trainer train`.")
    return demo


def launch() -> None:
    build().launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   server_port=int(os.environ.get("PORT", "7860")))
