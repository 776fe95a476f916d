"""EKS: cluster / node group lifecycles, partial config updates, add-ons.

AWS behaviours restored:

* ``CreateCluster`` returns ``CREATING``; ``ACTIVE`` after ~12 min.  Node groups
  are ``CREATING`` ~4 min.  Deletes show ``DELETING`` before the resource is
  gone.  moto 5.2.5: ``ACTIVE`` at once, deleted at once.
  https://docs.aws.amazon.com/eks/latest/APIReference/API_Cluster.html
  https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html
* ``UpdateClusterConfig`` with a partial ``resourcesVpcConfig`` (e.g. only
  ``endpointPublicAccess``) changes only those fields; moto replaces the whole
  block, dropping subnets and security groups.
  https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html
* Add-ons: ``CreateAddon`` / ``DescribeAddon`` / ``ListAddons`` / ``UpdateAddon``
  / ``DeleteAddon`` / ``DescribeAddonVersions`` (moto: HTTP 404).
  https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAddon.html
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from ironbark_emulator import clock, hooks, lifecycle
from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.patches._util import first_time, wrap_method

#: Add-on catalogue returned by DescribeAddonVersions (newest first).
ADDON_VERSIONS: dict[str, list[str]] = {
    "vpc-cni": ["v1.19.2-eksbuild.1", "v1.18.6-eksbuild.1"],
    "coredns": ["v1.11.4-eksbuild.2", "v1.11.3-eksbuild.1"],
    "kube-proxy": ["v1.31.3-eksbuild.2", "v1.30.7-eksbuild.2"],
    "aws-ebs-csi-driver": ["v1.38.1-eksbuild.1", "v1.37.0-eksbuild.1"],
    "eks-pod-identity-agent": ["v1.3.4-eksbuild.1"],
    "amazon-cloudwatch-observability": ["v2.6.0-eksbuild.1"],
}
ADDON_TYPES = {"vpc-cni": "networking", "coredns": "networking", "kube-proxy": "networking",
               "aws-ebs-csi-driver": "storage", "eks-pod-identity-agent": "security",
               "amazon-cloudwatch-observability": "observability"}

_lock = threading.Lock()
#: (account, region, cluster) -> {addon name: addon dict (status is a Transition under "_t")}
_addons: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}


def _gone(obj: Any) -> bool:
    t = lifecycle.LazyStatus.transition(obj, "status")
    return t is not None and t.after == "DELETED" and t.done()


def _purge(backend: Any) -> None:
    for name, cluster in list(backend.clusters.items()):
        for ng_name, ng in list(cluster.nodegroups.items()):
            if _gone(ng):
                cluster.nodegroups.pop(ng_name, None)
                cluster.nodegroup_count -= 1
        if _gone(cluster):
            backend.clusters.pop(name, None)
            backend.cluster_count -= 1


def _purged(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    _purge(self)
    return original(self, *args, **kwargs)


def _delete_cluster(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    _purge(self)
    cluster = original(self, *args, **kwargs)
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(cluster, "status", "DELETING", "DELETED", "eks_cluster_delete")
        self.clusters[cluster.name] = cluster
        self.cluster_count += 1
    return cluster


def _delete_nodegroup(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    _purge(self)
    ng = original(self, *args, **kwargs)
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(ng, "status", "DELETING", "DELETED", "eks_nodegroup_delete")
        cluster = self.clusters[ng.cluster_name]
        cluster.nodegroups[ng.nodegroup_name] = ng
        cluster.nodegroup_count += 1
    return ng


def _update_cluster_config(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    name = kwargs.get("name") or args[0]
    vpc = kwargs.get("resources_vpc_config") if "resources_vpc_config" in kwargs else (args[1] if len(args) > 1 else None)
    cluster = self.clusters.get(name)
    if cluster is not None and vpc:
        merged = dict(cluster.resources_vpc_config or {})
        merged.update(vpc)
        if "resources_vpc_config" in kwargs:
            kwargs["resources_vpc_config"] = merged
        else:
            args = (args[0], merged) + tuple(args[2:])
    return original(self, *args, **kwargs)


def _not_found(message: str) -> Response:
    return error_response("rest-json", 404, "ResourceNotFoundException", message, "eks")


def _addon_view(addon: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in addon.items() if not k.startswith("_")}
    out["status"] = addon["_t"].current()
    return out


def _cluster(ctx: hooks.Context) -> Any | None:
    backend = ctx.backend("eks")
    _purge(backend)
    return backend.clusters.get(ctx.info.path_params.get("name", ""))


def _store(ctx: hooks.Context, cluster: str) -> dict[str, dict[str, Any]]:
    key = (ctx.account, ctx.region, cluster)
    with _lock:
        store = _addons.setdefault(key, {})
        for name, addon in list(store.items()):
            t = addon["_t"]
            if t.after == "DELETED" and t.done():
                store.pop(name)
        return store


@hooks.before("eks", "CreateAddon")
def create_addon(ctx: hooks.Context) -> Response:
    """CreateAddon: CREATING -> ACTIVE."""
    cluster = _cluster(ctx)
    if cluster is None:
        return _not_found(f"No cluster found for name: {ctx.info.path_params.get('name')}.")
    body = ctx.json()
    name = body.get("addonName", "")
    store = _store(ctx, cluster.name)
    if name in store:
        return error_response("rest-json", 409, "ResourceInUseException", f"Addon already exists: {name}", "eks")
    if cluster.status in ("CREATING", "DELETING"):
        return error_response("rest-json", 400, "InvalidRequestException",
                              f"Cluster '{cluster.name}' is not in ACTIVE status", "eks")
    now = time.time()
    addon = {
        "addonName": name, "clusterName": cluster.name,
        "addonVersion": body.get("addonVersion") or ADDON_VERSIONS.get(name, ["v1.0.0-eksbuild.1"])[0],
        "health": {"issues": []},
        "addonArn": f"arn:aws:eks:{ctx.region}:{ctx.account}:addon/{cluster.name}/{name}/{uuid.uuid4()}",
        "createdAt": now, "modifiedAt": now, "tags": body.get("tags") or {},
        "_t": clock.start("CREATING", "ACTIVE", "eks_addon_create"),
    }
    for key in ("serviceAccountRoleArn", "configurationValues", "podIdentityAssociations"):
        if body.get(key) is not None:
            addon[key] = body[key]
    store[name] = addon
    return Response.json(200, {"addon": _addon_view(addon)})


def _find_addon(ctx: hooks.Context) -> tuple[Any, dict[str, Any] | None, Response | None]:
    cluster = _cluster(ctx)
    if cluster is None:
        return None, None, _not_found(f"No cluster found for name: {ctx.info.path_params.get('name')}.")
    name = ctx.info.path_params.get("addonName", "")
    addon = _store(ctx, cluster.name).get(name)
    if addon is None:
        return cluster, None, _not_found(f"No addon: {name} found in cluster: {cluster.name}")
    return cluster, addon, None


@hooks.before("eks", "DescribeAddon")
def describe_addon(ctx: hooks.Context) -> Response:
    """DescribeAddon."""
    _, addon, err = _find_addon(ctx)
    return err or Response.json(200, {"addon": _addon_view(addon)})  # type: ignore[arg-type]


@hooks.before("eks", "UpdateAddon")
def update_addon(ctx: hooks.Context) -> Response:
    """UpdateAddon: UPDATING -> ACTIVE; returns an update object."""
    _, addon, err = _find_addon(ctx)
    if err:
        return err
    assert addon is not None
    body = ctx.json()
    params = []
    for key, ptype in (("addonVersion", "AddonVersion"), ("serviceAccountRoleArn", "ServiceAccountRoleArn"),
                       ("configurationValues", "ConfigurationValues")):
        if body.get(key) is not None:
            addon[key] = body[key]
            params.append({"type": ptype, "value": str(body[key])})
    addon["modifiedAt"] = time.time()
    addon["_t"] = clock.start("UPDATING", "ACTIVE", "eks_addon_create")
    from ironbark_emulator.patches.eks_extras import record_update

    upd = record_update(ctx, addon["clusterName"], "AddonUpdate", params, "eks_addon_create",
                        addon=addon["addonName"])
    return Response.json(200, {"update": {k: v for k, v in upd.items() if not k.startswith("_")}
                               | {"status": "InProgress"}})


@hooks.before("eks", "DeleteAddon")
def delete_addon(ctx: hooks.Context) -> Response:
    """DeleteAddon: DELETING, then gone."""
    cluster, addon, err = _find_addon(ctx)
    if err:
        return err
    assert addon is not None
    addon["_t"] = clock.start("DELETING", "DELETED", "eks_addon_create")
    if clock.get_time_scale() == 0:
        _store(ctx, cluster.name).pop(addon["addonName"], None)
    view = _addon_view(addon)
    view["status"] = "DELETING"
    return Response.json(200, {"addon": view})


@hooks.before("eks", "ListAddons")
def list_addons(ctx: hooks.Context) -> Response:
    """ListAddons."""
    cluster = _cluster(ctx)
    if cluster is None:
        return _not_found(f"No cluster found for name: {ctx.info.path_params.get('name')}.")
    return Response.json(200, {"addons": sorted(_store(ctx, cluster.name))})


@hooks.before("eks", "DescribeAddonVersions")
def describe_addon_versions(ctx: hooks.Context) -> Response:
    """DescribeAddonVersions from a small static catalogue."""
    wanted = ctx.query_param("addonName")
    k8s = ctx.query_param("kubernetesVersion") or "1.31"
    addons = []
    for name, versions in ADDON_VERSIONS.items():
        if wanted and name != wanted:
            continue
        addons.append({
            "addonName": name, "type": ADDON_TYPES[name], "owner": "aws", "publisher": "eks",
            "addonVersions": [{
                "addonVersion": v, "architecture": ["amd64", "arm64"], "requiresConfiguration": False,
                "compatibilities": [{"clusterVersion": k8s, "platformVersions": ["*"], "defaultVersion": i == 0}],
            } for i, v in enumerate(versions)],
        })
    return Response.json(200, {"addons": addons})


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _addons.clear()


def apply() -> None:
    """Install lifecycles and method wrappers."""
    from moto.eks.models import Cluster, EKSBackend, Nodegroup

    lifecycle.install(Cluster, "status", first_time("status", "CREATING", "ACTIVE", "eks_cluster_create", "ACTIVE"))
    lifecycle.install(Nodegroup, "status", first_time("status", "CREATING", "ACTIVE", "eks_nodegroup_create", "ACTIVE"))
    for name in ("describe_cluster", "list_clusters", "create_cluster", "describe_nodegroup", "list_nodegroups",
                 "create_nodegroup"):
        wrap_method(EKSBackend, name, _purged)
    wrap_method(EKSBackend, "delete_cluster", _delete_cluster)
    wrap_method(EKSBackend, "delete_nodegroup", _delete_nodegroup)
    wrap_method(EKSBackend, "update_cluster_config", _update_cluster_config)
