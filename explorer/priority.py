"""Background work (UMAP fits, ONNX exports) runs at a lower CPU priority than the requests people wait for, so a
burst of fresh uploads does not slow everyone's clicks (docs/reliability.md)."""
from __future__ import annotations

import os
import threading

BACKGROUND_NICE = 10  # added to the niceness of the process or thread (19 at most)


def lower(task: int | None = None) -> bool:
    """Lower the priority of process ``task`` (on Linux also a thread's native id; default: the calling thread) by
    BACKGROUND_NICE. False where the system cannot (no setpriority, or not allowed)."""
    if not hasattr(os, "setpriority"):
        return False
    task = threading.get_native_id() if task is None else task
    try:
        os.setpriority(os.PRIO_PROCESS, task, min(19, os.getpriority(os.PRIO_PROCESS, task) + BACKGROUND_NICE))
        return True
    except OSError:
        return False
