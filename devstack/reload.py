"""Hot reload: notices edits to the functions' code and layers by polling file modification times.

Polling, not inotify: no dependency, the same on every OS and filesystem (mounted volumes, editors
that replace files), and a few dozen `stat` calls every half second cost nothing next to the
functions. A change is reported once the files have stopped changing for one poll (an editor's
save, a `git checkout` or a formatter touching many files gives one reload, not many).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

POLL_INTERVAL_S = 0.5
_SKIPPED_DIRS = ("__pycache__", "node_modules")

Snapshot = dict[Path, tuple[int, int]]


def snapshot(roots: Iterable[Path]) -> Snapshot:
    """(mtime in ns, size) of every `.py` file under `roots`, skipping caches and hidden folders,
    and of each root that is a file."""
    found: Snapshot = {}
    for root in roots:
        if root.is_file():
            with contextlib.suppress(OSError):
                st = root.stat()
                found[root] = (st.st_mtime_ns, st.st_size)
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
            for name in files:
                if not name.endswith(".py"):
                    continue
                path = Path(folder, name)
                with contextlib.suppress(OSError):  # deleted between the listing and the stat
                    st = path.stat()
                    found[path] = (st.st_mtime_ns, st.st_size)
    return found


def changed(before: Snapshot, after: Snapshot) -> set[Path]:
    """Files added, removed or modified between two snapshots."""
    return {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}


def forget_bytecode(paths: Iterable[Path]) -> None:
    """Deletes the cached bytecode of edited files. Python trusts a .pyc whose recorded source
    mtime (in whole seconds) and size match: two same-size saves within one second would otherwise
    run the first one's code."""
    for path in paths:
        with contextlib.suppress(OSError, ValueError):
            os.remove(importlib.util.cache_from_source(str(path)))


class Watcher:
    """Calls `on_change(changed files)` from a background thread after files under `roots` change
    and then stay unchanged for one poll."""

    def __init__(
        self,
        roots: Iterable[Path],
        on_change: Callable[[set[Path]], None],
        stop: threading.Event,
        interval: float = POLL_INTERVAL_S,
    ) -> None:
        self.roots = sorted(set(roots))
        self._on_change = on_change
        self._stop = stop
        self._interval = interval
        self._last = snapshot(self.roots)

    def run(self) -> None:
        pending: set[Path] = set()
        while not self._stop.wait(self._interval):
            now = snapshot(self.roots)
            edits = changed(self._last, now)
            self._last = now
            if edits:
                pending |= edits  # still changing: wait for a quiet poll
            elif pending:
                batch, pending = pending, set()
                try:
                    self._on_change(batch)
                except Exception:  # a bug in reloading must not end reloading for good
                    traceback.print_exc()
