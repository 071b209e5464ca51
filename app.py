"""Latent Explorer: `python app.py` builds the Gradio app from explorer.ui and launches it."""
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from explorer.ui import launch  # noqa: E402

if __name__ == "__main__":
    launch()
