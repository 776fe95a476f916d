"""Time scale and lazily computed resource lifecycles.

AWS resources take minutes to become usable.  Instead of background threads we
record when a transition started and compute the status whenever it is read:
``elapsed >= typical_duration * time_scale`` means the transition is over.
This makes every describe call consistent and lets clients observe the
intermediate state (``pending``, ``creating``, ...).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

#: AWS's typical durations in seconds, multiplied by the time scale.
DURATIONS: dict[str, float] = {
    "nat_create": 90.0,
    "nat_delete": 60.0,
    "vpce_create": 90.0,
    "vpce_delete": 60.0,
    "rds_instance_create": 480.0,
    "rds_instance_modify": 120.0,
    "rds_instance_delete": 300.0,
    "aurora_cluster_create": 420.0,
    "aurora_instance_create": 420.0,
    "aurora_cluster_modify": 60.0,
    "aurora_cluster_delete": 120.0,
    "eks_cluster_create": 720.0,
    "eks_cluster_delete": 300.0,
    "eks_nodegroup_create": 240.0,
    "eks_nodegroup_delete": 240.0,
    "eks_addon_create": 60.0,
    "eks_cluster_update": 300.0,
    "eks_nodegroup_update": 120.0,
    "cloudfront_deploy": 360.0,
    "opensearch_process": 1200.0,
    "beanstalk_launch": 360.0,
    "beanstalk_update": 120.0,
    "beanstalk_terminate": 120.0,
    "acm_validate": 60.0,
    "elasticache_create": 600.0,
    "elasticache_modify": 120.0,
    "elasticache_delete": 300.0,
    "opensearch_delete": 600.0,
}

_lock = threading.Lock()
_time_scale: float = 1.0


def parse_time_scale(value: object) -> float:
    """Parse ``instant`` / a number into a non-negative float scale."""
    if isinstance(value, str) and value.strip().lower() == "instant":
        return 0.0
    scale = float(value)  # type: ignore[arg-type]
    if scale < 0:
        raise ValueError("time scale must be >= 0")
    return scale


def get_time_scale() -> float:
    """Return the current time scale (0 = instant)."""
    return _time_scale


def set_time_scale(value: object) -> float:
    """Set the time scale; returns the parsed value."""
    global _time_scale
    scale = parse_time_scale(value)
    with _lock:
        _time_scale = scale
    return scale


def now() -> float:
    """Wall-clock seconds (monotonic enough for our purposes)."""
    return time.time()


def scaled(key: str) -> float:
    """Duration for ``key`` in real seconds under the current time scale."""
    return DURATIONS[key] * _time_scale


@dataclass
class Transition:
    """A status that is ``during`` until ``duration_key`` has elapsed, then ``after``."""

    during: str
    after: str
    duration_key: str
    started: float

    def done(self) -> bool:
        """True when the transition has finished under the current time scale."""
        return now() - self.started >= scaled(self.duration_key)

    def current(self) -> str:
        """The status to report right now."""
        return self.after if self.done() else self.during


def start(during: str, after: str, duration_key: str) -> Transition:
    """Begin a transition now."""
    return Transition(during, after, duration_key, now())
