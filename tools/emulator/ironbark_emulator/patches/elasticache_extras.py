"""ElastiCache: member clusters, reader endpoint, replica counts, subnet group changes.

AWS behaviours restored (moto 5.2.5 answers HTTP 500 NotImplemented for the four APIs):

* ``ModifyCacheSubnetGroup`` replaces the description and subnets of a cache subnet group;
  ``DeleteCacheSubnetGroup`` deletes it, ``CacheSubnetGroupInUse`` while a replication
  group or cache cluster uses it, ``CacheSubnetGroupNotFoundFault`` when absent.
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyCacheSubnetGroup.html
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DeleteCacheSubnetGroup.html
* ``IncreaseReplicaCount`` / ``DecreaseReplicaCount`` (cluster mode disabled) add or remove
  replicas in place: ``ApplyImmediately`` must be true, the group must be ``available``, at
  most 5 replicas, and at least 1 while automatic failover or Multi-AZ is enabled
  (``InvalidParameterCombination``); ``ReplicasToRemove`` picks the replicas to remove.
  The group goes ``modifying`` -> ``available``; ``MemberClusters`` and the node group's
  ``NodeGroupMembers`` change at once.
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_IncreaseReplicaCount.html
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DecreaseReplicaCount.html
* ``ModifyReplicationGroup`` refuses automatic failover without a replica and Multi-AZ
  without automatic failover (``InvalidParameterCombination``), and applies
  ``EngineVersion``, ``SecurityGroupIds``, ``PreferredMaintenanceWindow`` and
  ``CacheParameterGroupName`` (moto: ignored).
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_ModifyReplicationGroup.html
* ``DescribeCacheClusters`` describes the member clusters of replication groups (moto:
  ``CacheClusterNotFound``): engine and version, node type, subnet group, security groups,
  maintenance window, status, role-independent settings of the group.
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_DescribeCacheClusters.html
* A cluster-mode-disabled group reports its ``ReaderEndpoint`` (moto: only the primary).
  https://docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_NodeGroup.html
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator import clock, lifecycle
from ironbark_emulator.patches._util import wrap_method

MAX_REPLICAS = 5
DEFAULT_ENGINE_VERSION = "7.1.0"
DEFAULT_MAINTENANCE_WINDOW = "sun:05:00-sun:06:00"


def _exc(code: str, message: str, status: int = 400) -> Exception:
    from moto.elasticache.exceptions import ElastiCacheException

    cls = type(code, (ElastiCacheException,), {"code": code})
    err = cls(message)
    err.http_status_code = status  # type: ignore[attr-defined]
    return err


# --- subnet groups -----------------------------------------------------------------------


def _subnet_group_users(backend: Any, name: str) -> list[str]:
    users = [rid for rid, rg in backend.replication_groups.items()
             if getattr(rg, "cache_subnet_group_name", None) == name]
    users += [cid for cid, c in backend.cache_clusters.items()
              if getattr(c, "cache_subnet_group_name", None) == name]
    return users


def modify_cache_subnet_group(self: Any, name: str, description: str | None,
                              subnet_ids: list[str] | None) -> Any:
    """Backend: replace description and subnets of a cache subnet group."""
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound
    from moto.elasticache.models import CacheSubnetGroup

    group = self.cache_subnet_groups.get(name)
    if group is None:
        raise CacheSubnetGroupNotFound(name)
    if subnet_ids:
        fresh = CacheSubnetGroup(self.account_id, self.region_name, name,
                                 description or group.cache_subnet_group_description,
                                 subnet_ids, group.tags)
        if group.vpc_id and fresh.vpc_id != group.vpc_id:
            raise _exc("InvalidSubnet", "The new subnets are in another VPC than the group's.")
        for attr in ("subnet_ids", "subnets", "supported_network_types", "vpc_id"):
            setattr(group, attr, getattr(fresh, attr))
    if description is not None:
        group.cache_subnet_group_description = description
    return group


def delete_cache_subnet_group(self: Any, name: str) -> None:
    """Backend: delete an unused cache subnet group."""
    from moto.elasticache.exceptions import CacheSubnetGroupNotFound

    _purge_deleted(self)
    if name not in self.cache_subnet_groups:
        raise CacheSubnetGroupNotFound(name)
    users = _subnet_group_users(self, name)
    if users:
        raise _exc("CacheSubnetGroupInUse", f"Cache subnet group {name} is currently in use by {users[0]}.")
    group = self.cache_subnet_groups.pop(name)
    self.tagging_service.delete_all_tags_for_resource(group.arn)


# --- replica counts ----------------------------------------------------------------------


def _domain(rg: Any) -> str:
    ng = rg.node_groups[0]
    addr = ng.get("primary_endpoint_address") or f"master.{rg.replication_group_id}.emu.use1.cache.amazonaws.com"
    return addr.split(".", 1)[1]


def _replica_count(rg: Any) -> int:
    return max(len(rg.member_clusters) - 1, 0)


def _new_member(rg: Any, used: set[str]) -> dict[str, Any]:
    n = 2
    while f"{rg.replication_group_id}-{n:03d}" in used:
        n += 1
    cid = f"{rg.replication_group_id}-{n:03d}"
    azs = ["us-east-1a", "us-east-1b", "us-east-1c"]
    return {
        "cache_cluster_id": cid,
        "cache_node_id": "0001",
        "read_endpoint": {"address": f"{cid}.{_domain(rg)}", "port": rg.port},
        "preferred_availability_zone": azs[(n - 1) % len(azs)],
        "current_role": "replica",
    }


def _check_replica_change(self: Any, rid: str, apply_immediately: bool | None) -> Any:
    from moto.elasticache.exceptions import ReplicationGroupNotFound

    _purge_deleted(self)
    rg = self.replication_groups.get(rid)
    if rg is None:
        raise ReplicationGroupNotFound(rid)
    if not apply_immediately:
        raise _exc("InvalidParameterValue", "ApplyImmediately must be true: replica count changes are applied immediately.")
    if rg.status != "available":
        raise _exc("InvalidReplicationGroupState", f"Replication group {rid} is not in available state (it is {rg.status}).")
    if rg.cluster_mode == "enabled":
        raise _exc("InvalidParameterValue", "Ironbark's emulator changes replica counts of cluster-mode-disabled groups only.")
    return rg


def _begin_modifying(rg: Any) -> None:
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(rg, "status", "modifying", "available", "elasticache_modify")


def increase_replica_count(self: Any, rid: str, new_count: int | None, apply_immediately: bool | None) -> Any:
    """Backend: add replicas to a cluster-mode-disabled group."""
    rg = _check_replica_change(self, rid, apply_immediately)
    current = _replica_count(rg)
    if new_count is None:
        raise _exc("InvalidParameterValue", "NewReplicaCount is required for a cluster-mode-disabled group.")
    if new_count > MAX_REPLICAS:
        raise _exc("InvalidParameterValue", f"NewReplicaCount {new_count} exceeds the maximum of {MAX_REPLICAS} replicas.")
    if new_count <= current:
        raise _exc("InvalidParameterValue",
                   f"NewReplicaCount {new_count} must be greater than the current replica count {current}.")
    members = rg.node_groups[0]["node_group_members"]
    used = set(rg.member_clusters)
    for _ in range(new_count - current):
        m = _new_member(rg, used)
        used.add(m["cache_cluster_id"])
        members.append(m)
        rg.member_clusters.append(m["cache_cluster_id"])
    _begin_modifying(rg)
    return rg


def decrease_replica_count(self: Any, rid: str, new_count: int | None, to_remove: list[str] | None,
                           apply_immediately: bool | None) -> Any:
    """Backend: remove replicas from a cluster-mode-disabled group."""
    rg = _check_replica_change(self, rid, apply_immediately)
    current = _replica_count(rg)
    members = rg.node_groups[0]["node_group_members"]
    replicas = [m["cache_cluster_id"] for m in members if m.get("current_role") != "primary"]
    if to_remove:
        unknown = [c for c in to_remove if c not in replicas]
        if unknown:
            raise _exc("InvalidParameterValue", f"{unknown[0]} is not a replica of replication group {rid}.")
        if new_count is not None and new_count != current - len(to_remove):
            raise _exc("InvalidParameterCombination", "NewReplicaCount does not match the number of ReplicasToRemove.")
        new_count = current - len(to_remove)
    if new_count is None:
        raise _exc("InvalidParameterValue", "Either NewReplicaCount or ReplicasToRemove is required.")
    if new_count < 0 or new_count >= current:
        raise _exc("InvalidParameterValue",
                   f"NewReplicaCount {new_count} must be less than the current replica count {current}.")
    if new_count == 0 and rg.automatic_failover == "enabled":
        raise _exc("InvalidParameterCombination",
                   "Replication group has automatic failover enabled; it needs at least one replica. "
                   "Disable automatic failover first.")
    if new_count == 0 and rg.multi_az == "enabled":
        raise _exc("InvalidParameterCombination",
                   "Replication group has Multi-AZ enabled; it needs at least one replica. Disable Multi-AZ first.")
    victims = list(to_remove or replicas[-(current - new_count):])
    rg.node_groups[0]["node_group_members"] = [m for m in members if m["cache_cluster_id"] not in victims]
    rg.member_clusters[:] = [c for c in rg.member_clusters if c not in victims]
    _begin_modifying(rg)
    return rg


# --- responses ---------------------------------------------------------------------------


def _r_modify_cache_subnet_group(self: Any) -> Any:
    from moto.core.responses import ActionResult

    group = self.elasticache_backend.modify_cache_subnet_group(
        self._get_param("CacheSubnetGroupName"),
        self._get_param("CacheSubnetGroupDescription"),
        self._get_param("SubnetIds"),
    )
    return ActionResult({"CacheSubnetGroup": group})


def _r_delete_cache_subnet_group(self: Any) -> Any:
    from moto.core.responses import EmptyResult

    self.elasticache_backend.delete_cache_subnet_group(self._get_param("CacheSubnetGroupName"))
    return EmptyResult()


def _r_increase_replica_count(self: Any) -> Any:
    from moto.core.responses import ActionResult

    rg = self.elasticache_backend.increase_replica_count(
        self._get_param("ReplicationGroupId"),
        self._get_int_param("NewReplicaCount"),
        self._get_bool_param("ApplyImmediately"),
    )
    return ActionResult({"ReplicationGroup": rg})


def _r_decrease_replica_count(self: Any) -> Any:
    from moto.core.responses import ActionResult

    rg = self.elasticache_backend.decrease_replica_count(
        self._get_param("ReplicationGroupId"),
        self._get_int_param("NewReplicaCount"),
        self._get_param("ReplicasToRemove"),
        self._get_bool_param("ApplyImmediately"),
    )
    return ActionResult({"ReplicationGroup": rg})


def _r_modify_replication_group(original: Any, self: Any) -> Any:
    backend = self.elasticache_backend
    rid = self._get_param("ReplicationGroupId")
    rg = backend.replication_groups.get(rid)
    if rg is not None:
        af = self._get_bool_param("AutomaticFailoverEnabled")
        maz = self._get_bool_param("MultiAZEnabled")
        af_after = rg.automatic_failover == "enabled" if af is None else af
        maz_after = rg.multi_az == "enabled" if maz is None else maz
        if af and rg.cluster_mode != "enabled" and _replica_count(rg) == 0:
            raise _exc("InvalidParameterCombination",
                       "Replication group must have at least one read replica to enable automatic failover.")
        if maz_after and not af_after:
            raise _exc("InvalidParameterCombination", "Multi-AZ requires automatic failover to be enabled.")
    result = original(self)
    if rg is not None:
        for param, attr in (("EngineVersion", "engine_version"),
                            ("SecurityGroupIds", "security_group_ids"),
                            ("PreferredMaintenanceWindow", "preferred_maintenance_window"),
                            ("CacheParameterGroupName", "cache_parameter_group_name")):
            value = self._get_param(param)
            if value:
                setattr(rg, attr, value)
    return result


# --- member clusters ---------------------------------------------------------------------


def _member_view(rg: Any, member: dict[str, Any]) -> dict[str, Any]:
    status = rg.status
    node_status = {"creating": "creating", "modifying": "modifying", "deleting": "deleting",
                   "deleted": "deleting"}.get(status, "available")
    cid = member["cache_cluster_id"]
    arn = rg.arn.replace(":replicationgroup:", ":cluster:").rsplit(":", 1)[0] + f":{cid}"
    return {
        "CacheClusterId": cid,
        "ARN": arn,
        "ReplicationGroupId": rg.replication_group_id,
        "CacheClusterStatus": node_status,
        "CacheNodeType": rg.cache_node_type,
        "Engine": rg.engine,
        "EngineVersion": rg.engine_version or DEFAULT_ENGINE_VERSION,
        "NumCacheNodes": 1,
        "PreferredAvailabilityZone": member.get("preferred_availability_zone", "us-east-1a"),
        "CacheClusterCreateTime": rg.replication_group_create_time,
        "PreferredMaintenanceWindow": rg.preferred_maintenance_window or DEFAULT_MAINTENANCE_WINDOW,
        "PendingModifiedValues": {},
        "CacheSecurityGroups": [],
        "CacheParameterGroup": {
            "CacheParameterGroupName": rg.cache_parameter_group_name or "default.redis7",
            "ParameterApplyStatus": "in-sync",
            "CacheNodeIdsToReboot": [],
        },
        "CacheSubnetGroupName": rg.cache_subnet_group_name,
        "AutoMinorVersionUpgrade": rg.auto_minor_version_upgrade is not False,
        "SecurityGroups": [{"SecurityGroupId": g, "Status": "active"} for g in (rg.security_group_ids or [])],
        "SnapshotRetentionLimit": rg.snapshot_retention_limit,
        "SnapshotWindow": rg.snapshot_window,
        "AuthTokenEnabled": rg.auth_token_enabled,
        "TransitEncryptionEnabled": rg.transit_encryption_enabled,
        "AtRestEncryptionEnabled": rg.at_rest_encryption_enabled,
        "ReplicationGroupLogDeliveryEnabled": False,
        "NetworkType": rg.network_type,
        "IpDiscovery": rg.ip_discovery,
    }


def _members_of(backend: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for rg in backend.replication_groups.values():
        for ng in rg.node_groups:
            for member in ng.get("node_group_members", []):
                if member["cache_cluster_id"] in rg.member_clusters:
                    out[member["cache_cluster_id"]] = _member_view(rg, member)
    return out


def _describe_cache_clusters(original: Any, self: Any, cache_cluster_id: str | None = None) -> Any:
    _purge_deleted(self)
    members = _members_of(self)
    if cache_cluster_id:
        if cache_cluster_id not in self.cache_clusters and cache_cluster_id in members:
            return [members[cache_cluster_id]]
        return original(self, cache_cluster_id=cache_cluster_id)
    return list(original(self)) + [m for cid, m in members.items() if cid not in self.cache_clusters]


def _purge_deleted(backend: Any) -> None:
    from ironbark_emulator.patches import elasticache

    elasticache._purge(backend)


# --- reader endpoint ---------------------------------------------------------------------


def _reader_endpoint(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    result = original(self, *args, **kwargs)
    node_group = kwargs.get("node_group")
    if node_group is not None and node_group.get("reader_endpoint_address"):
        node_group["reader_endpoint"] = {"address": node_group["reader_endpoint_address"], "port": self.port}
    return result


def apply() -> None:
    """Add the missing APIs and fix member clusters and the reader endpoint."""
    from moto.elasticache.models import ElastiCacheBackend, ReplicationGroup
    from moto.elasticache.responses import ElastiCacheResponse

    ElastiCacheBackend.modify_cache_subnet_group = modify_cache_subnet_group  # type: ignore[attr-defined]
    ElastiCacheBackend.delete_cache_subnet_group = delete_cache_subnet_group  # type: ignore[attr-defined]
    ElastiCacheBackend.increase_replica_count = increase_replica_count  # type: ignore[attr-defined]
    ElastiCacheBackend.decrease_replica_count = decrease_replica_count  # type: ignore[attr-defined]
    ElastiCacheResponse.modify_cache_subnet_group = _r_modify_cache_subnet_group  # type: ignore[attr-defined]
    ElastiCacheResponse.delete_cache_subnet_group = _r_delete_cache_subnet_group  # type: ignore[attr-defined]
    ElastiCacheResponse.increase_replica_count = _r_increase_replica_count  # type: ignore[attr-defined]
    ElastiCacheResponse.decrease_replica_count = _r_decrease_replica_count  # type: ignore[attr-defined]
    wrap_method(ElastiCacheResponse, "modify_replication_group", _r_modify_replication_group)
    wrap_method(ElastiCacheBackend, "describe_cache_clusters", _describe_cache_clusters)
    wrap_method(ReplicationGroup, "_set_node_members_clusters_disabled", _reader_endpoint)
