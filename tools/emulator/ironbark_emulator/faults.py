"""Run-time switchable fault injection (throttling, 5xx errors, latency).

A rule applies to one service, optionally narrowed to one operation.  The
operation-specific rule wins over the service-wide one.  Fields:

* ``throttle``: rate 0..1 of matching requests that get the service's real
  throttling error (EC2 ``RequestLimitExceeded`` 503, others ``Throttling`` /
  ``ThrottlingException`` 400).
* ``error_rate`` / ``error_status``: rate of requests answered with a 500/503.
* ``latency_ms``: delay added to every matching request.
* ``count``: if set, the rule injects at most this many faults and then
  expires (``count`` with rate 0 for both kinds means "throttle the next N").
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class FaultRule:
    """One fault rule; see the module docstring."""

    service: str
    operation: str | None = None
    throttle: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    latency_ms: int = 0
    count: int | None = None
    injected: int = 0

    @staticmethod
    def from_json(obj: dict[str, Any]) -> "FaultRule":
        """Validate and build a rule from the control endpoint's JSON body."""
        if not isinstance(obj.get("service"), str) or not obj["service"]:
            raise ValueError("'service' (string) is required")

        def rate(name: str) -> float:
            v = obj.get(name)
            if v is None or v is False:
                return 0.0
            if v is True:
                return 1.0
            f = float(v)
            if not 0.0 <= f <= 1.0:
                raise ValueError(f"'{name}' must be between 0 and 1")
            return f

        count = obj.get("count")
        status = int(obj.get("error_status") or 500)
        if status < 400 or status > 599:
            raise ValueError("'error_status' must be an HTTP error status")
        return FaultRule(
            service=obj["service"].lower(),
            operation=obj.get("operation") or None,
            throttle=rate("throttle"),
            error_rate=rate("error_rate"),
            error_status=status,
            latency_ms=int(obj.get("latency_ms") or 0),
            count=None if count is None else int(count),
        )

    def to_json(self) -> dict[str, Any]:
        """JSON view, including how many faults were injected so far."""
        out = asdict(self)
        out["remaining"] = None if self.count is None else max(self.count - self.injected, 0)
        return out


@dataclass
class Decision:
    """What to do with one request."""

    kind: str | None  # None, "throttle", "error", "latency"
    latency_ms: int = 0
    error_status: int = 500


class FaultTable:
    """Thread-safe set of rules keyed by (service, operation)."""

    def __init__(self, seed: int | None = None) -> None:
        self._rules: dict[tuple[str, str | None], FaultRule] = {}
        self._lock = threading.Lock()
        self._rand = random.Random(seed)

    def put(self, rule: FaultRule) -> None:
        """Add or replace the rule for its service(+operation)."""
        with self._lock:
            self._rules[(rule.service, rule.operation)] = rule

    def clear(self) -> None:
        """Remove all rules."""
        with self._lock:
            self._rules.clear()

    def list(self) -> list[dict[str, Any]]:
        """Active rules as JSON objects."""
        with self._lock:
            return [r.to_json() for r in self._rules.values()]

    def decide(self, service: str, operation: str) -> Decision:
        """Pick the fault (if any) for one request and account for it."""
        with self._lock:
            rule = self._rules.get((service, operation)) or self._rules.get((service, None))
            if rule is None:
                return Decision(None)
            if rule.count is not None and rule.injected >= rule.count:
                return Decision(None)
            throttle, error = rule.throttle, rule.error_rate
            if rule.count is not None and throttle == 0.0 and error == 0.0 and rule.latency_ms == 0:
                throttle = 1.0
            kind: str | None = None
            r = self._rand.random()
            if throttle > 0 and r < throttle:
                kind = "throttle"
            elif error > 0 and self._rand.random() < error:
                kind = "error"
            elif rule.latency_ms > 0:
                kind = "latency"
            if kind is not None:
                rule.injected += 1
            return Decision(kind, rule.latency_ms, rule.error_status)
