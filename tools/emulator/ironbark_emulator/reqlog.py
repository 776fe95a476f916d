"""The request log: one entry per AWS operation the emulator answered.

Tests use it to assert that a converged re-deploy makes zero writes.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class RequestLog:
    """Thread-safe append-only log with a summary and a reset."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._seq = 0
        self._lock = threading.Lock()

    def add(self, service: str, operation: str, op_class: str, status: int,
            fault: str | None, started: float | None = None,
            access_key: str | None = None) -> None:
        """Record one operation (with the caller's access key id, so that tests running
        concurrently can each read their own requests)."""
        with self._lock:
            self._seq += 1
            self._entries.append({
                "seq": self._seq,
                "service": service,
                "operation": operation,
                "class": op_class,
                "time": round(started if started is not None else time.time(), 3),
                "status": status,
                "fault": fault,
                "access_key": access_key,
            })

    def entries(self, access_key: str | None = None) -> list[dict[str, Any]]:
        """A copy of all entries (of one access key id when given), oldest first."""
        with self._lock:
            return [e for e in self._entries if access_key is None or e.get("access_key") == access_key]

    def reset(self) -> None:
        """Forget all entries (sequence numbers keep counting up)."""
        with self._lock:
            self._entries.clear()

    def summary(self, access_key: str | None = None) -> dict[str, Any]:
        """Totals and per-operation counts (of one access key id when given)."""
        entries = self.entries(access_key)
        by_op: dict[str, dict[str, Any]] = {}
        reads = writes = faults = 0
        for e in entries:
            key = f"{e['service']}:{e['operation']}"
            slot = by_op.setdefault(key, {"count": 0, "class": e["class"], "faults": 0})
            slot["count"] += 1
            if e["fault"] is not None:
                slot["faults"] += 1
                faults += 1
            if e["class"] == "read":
                reads += 1
            else:
                writes += 1
        return {"total": len(entries), "reads": reads, "writes": writes, "faults": faults,
                "by_operation": by_op}
