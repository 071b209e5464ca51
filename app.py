"""Latent Explorer: `python app.py` builds the Gradio app (explorer/ui/app.py) and launches it."""
import ctypes
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if sys.platform.startswith("linux"):
    try:  # glibc: at most 2 malloc arenas, so memory freed by the 8 handler threads is reused instead of
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # spread over 16 arenas (M_ARENA_MAX; benchmarks/load.py)
    except (OSError, AttributeError):
        pass

from explorer.ui.app import launch  # noqa: E402

if __name__ == "__main__":
    launch()
