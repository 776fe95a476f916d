"""ElastiCache: ``NumCacheClusters`` is honoured for non-cluster-mode replication groups.

AWS behaviour restored: ``CreateReplicationGroup(NumCacheClusters=2)`` creates
a primary and one replica (``MemberClusters`` has two entries).  moto 5.2.5
overwrites the count with ``ReplicasPerNodeGroup + 1`` and creates one node.

https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator.patches._util import wrap_method


def _members(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    if not kwargs.get("replicas_per_node_group") and (kwargs.get("num_cache_clusters") or 1) > 1:
        kwargs["replicas_per_node_group"] = int(kwargs["num_cache_clusters"]) - 1
    return original(self, *args, **kwargs)


def apply() -> None:
    """Wrap the member-creation helper."""
    from moto.elasticache.models import ReplicationGroup

    wrap_method(ReplicationGroup, "_set_node_members_clusters_disabled", _members)
