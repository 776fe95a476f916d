"""ElastiCache: ``NumCacheClusters`` honoured; replication group lifecycle.

AWS behaviours restored:

* ``CreateReplicationGroup(NumCacheClusters=2)`` creates a primary and one
  replica (``MemberClusters`` has two entries).  moto 5.2.5 overwrites the
  count with ``ReplicasPerNodeGroup + 1`` and creates one node.
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
* A replication group is ``creating`` (~10 min) before ``available``,
  ``modifying`` after a modification, and ``deleting`` before it disappears.
  moto: ``available`` at once, and a deleted group stays ``deleting`` forever.
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ReplicationGroup.html
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator import clock, lifecycle
from ironbark_emulator.patches._util import first_time, wrap_method


def _members(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    if not kwargs.get("replicas_per_node_group") and (kwargs.get("num_cache_clusters") or 1) > 1:
        kwargs["replicas_per_node_group"] = int(kwargs["num_cache_clusters"]) - 1
    return original(self, *args, **kwargs)


def _status_rule(obj: Any, value: str) -> tuple[str, str, str] | None:
    if value == "deleting":
        return ("deleting", "deleted", "elasticache_delete")
    return first_time("status", "creating", "available", "elasticache_create", "available")(obj, value)


def _purge(backend: Any) -> None:
    for rid, rg in list(backend.replication_groups.items()):
        t = lifecycle.LazyStatus.transition(rg, "status")
        if t is not None and t.after == "deleted" and t.done():
            backend.replication_groups.pop(rid, None)
    # a deleted group with time scale 0 is gone at once
    for rid, rg in list(backend.replication_groups.items()):
        if rg.status in ("deleting", "deleted") and clock.get_time_scale() == 0:
            backend.replication_groups.pop(rid, None)


def _purged(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    _purge(self)
    return original(self, *args, **kwargs)


def _modify(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    rg = original(self, *args, **kwargs)
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(rg, "status", "modifying", "available", "elasticache_modify")
    return rg


def apply() -> None:
    """Wrap the member-creation helper and install the lifecycle."""
    from moto.elasticache.models import ElastiCacheBackend, ReplicationGroup

    wrap_method(ReplicationGroup, "_set_node_members_clusters_disabled", _members)
    lifecycle.install(ReplicationGroup, "status", _status_rule)
    for name in ("describe_replication_groups", "create_replication_group"):
        wrap_method(ElastiCacheBackend, name, _purged)
    wrap_method(ElastiCacheBackend, "modify_replication_group", _modify)
