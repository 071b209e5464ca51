"""The one cache of what the explorer computes from a model (plane pictures, test codes, posteriors, per-dim KL,
the Scatter's figure), shared by every page. Keys name the content, never an object: a model's
``Entry.fingerprint`` (its config, weights, embedding and test split) and a split's ``fingerprint``, then every
argument. So a retrained run gets new keys, and nothing needs clearing."""
from __future__ import annotations

import threading
from collections import OrderedDict


class LRU:
    """A small thread-safe LRU cache shared by all users (values are read-only). A value asked for while another
    request is making it is waited for, not made twice: a class that switches to the same background at once
    draws it once."""

    def __init__(self, size: int = 64):
        self.size, self._data, self._lock = size, OrderedDict(), threading.Lock()
        self._making: dict = {}  # key -> Event set when its maker finished (or failed)

    def get(self, key, make):
        while True:
            with self._lock:
                if key in self._data:
                    self._data.move_to_end(key)
                    return self._data[key]
                busy = self._making.get(key)
                if busy is None:
                    done = self._making[key] = threading.Event()
                    break
            busy.wait()  # then look again: made, or its maker failed and this request makes it
        try:
            value = make()
            with self._lock:
                self._data[key] = value
                while len(self._data) > self.size:
                    self._data.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._making[key]
            done.set()


CACHE = LRU(128)
