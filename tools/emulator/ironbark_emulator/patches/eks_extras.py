"""EKS: update objects (DescribeUpdate / ListUpdates) and access entries.

AWS behaviours restored:

* ``UpdateClusterConfig`` returns an ``update`` (status ``InProgress``) rather
  than the cluster, the cluster is ``UPDATING`` until the update is
  ``Successful`` (~5 min); ``UpdateNodegroupConfig`` likewise (node group
  ``UPDATING``, ~2 min); ``DescribeUpdate`` / ``ListUpdates`` exist (moto: 404).
  https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateClusterConfig.html
  https://docs.aws.amazon.com/eks/latest/APIReference/API_DescribeUpdate.html
* Access entries and access policy associations (``CreateAccessEntry``,
  ``DescribeAccessEntry``, ``ListAccessEntries``, ``UpdateAccessEntry``,
  ``DeleteAccessEntry``, ``AssociateAccessPolicy``, ``ListAssociatedAccessPolicies``,
  ``DisassociateAccessPolicy``, ``ListAccessPolicies``).  moto: 404.
  https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessEntry.html
  https://docs.aws.amazon.com/eks/latest/APIReference/API_AssociateAccessPolicy.html
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from ironbark_emulator import clock, hooks, lifecycle
from ironbark_emulator.errors import Response, error_response

ACCESS_POLICIES = ["AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy",
                   "AmazonEKSViewPolicy", "AmazonEKSAutoNodePolicy"]

_lock = threading.Lock()
#: (account, region, cluster) -> {update id: update dict with "_t" transition and "_scope"}
_updates: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
#: (account, region, cluster) -> {principalArn: entry dict with "_policies"}
_entries: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}


def _cluster(ctx: hooks.Context) -> Any | None:
    return ctx.backend("eks").clusters.get(ctx.info.path_params.get("name", ""))


def _no_cluster(ctx: hooks.Context) -> Response:
    return error_response("rest-json", 404, "ResourceNotFoundException",
                          f"No cluster found for name: {ctx.info.path_params.get('name')}.", "eks")


def record_update(ctx: hooks.Context, cluster: str, utype: str, params: list[dict[str, str]], key: str,
                  nodegroup: str | None = None, addon: str | None = None) -> dict[str, Any]:
    """Store an update object; its status follows the clock (InProgress -> Successful)."""
    upd = {"id": str(uuid.uuid4()), "type": utype, "params": params, "createdAt": time.time(), "errors": [],
           "_t": clock.start("InProgress", "Successful", key), "_scope": (nodegroup, addon)}
    with _lock:
        _updates.setdefault((ctx.account, ctx.region, cluster), {})[upd["id"]] = upd
    return upd


def _view(upd: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in upd.items() if not k.startswith("_")}
    out["status"] = upd["_t"].current()
    return out


def _params(body: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    params = []
    utype = "ConfigUpdate"
    vpc = body.get("resourcesVpcConfig") or {}
    for k in ("endpointPublicAccess", "endpointPrivateAccess", "publicAccessCidrs"):
        if k in vpc:
            name = k[0].upper() + k[1:]
            params.append({"type": name, "value": json.dumps(vpc[k]) if not isinstance(vpc[k], str) else vpc[k]})
            utype = "EndpointAccessUpdate"
    if body.get("logging"):
        params.append({"type": "ClusterLogging", "value": json.dumps(body["logging"])})
        utype = "LoggingUpdate" if utype == "ConfigUpdate" else utype
    for k in ("scalingConfig", "labels", "taints", "updateConfig"):
        if body.get(k) is not None:
            params.append({"type": k[0].upper() + k[1:], "value": json.dumps(body[k])})
    return utype, params


@hooks.after("eks", "UpdateClusterConfig")
def update_cluster_config(ctx: hooks.Context, resp: Response) -> Response:
    """Answer with an update object and put the cluster in UPDATING."""
    if resp.status != 200:
        return resp
    cluster = _cluster(ctx)
    utype, params = _params(ctx.json())
    upd = record_update(ctx, ctx.info.path_params.get("name", ""), utype, params, "eks_cluster_update")
    if cluster is not None and clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(cluster, "status", "UPDATING", "ACTIVE", "eks_cluster_update")
    return Response.json(200, {"update": _view(upd)})


@hooks.after("eks", "UpdateNodegroupConfig")
def update_nodegroup_config(ctx: hooks.Context, resp: Response) -> Response:
    """Answer with an InProgress update and put the node group in UPDATING."""
    if resp.status != 200:
        return resp
    name = ctx.info.path_params.get("name", "")
    ng_name = ctx.info.path_params.get("nodegroupName", "")
    _, params = _params(ctx.json())
    upd = record_update(ctx, name, "ConfigUpdate", params, "eks_nodegroup_update", nodegroup=ng_name)
    cluster = _cluster(ctx)
    ng = cluster.nodegroups.get(ng_name) if cluster is not None else None
    if ng is not None and clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(ng, "status", "UPDATING", "ACTIVE", "eks_nodegroup_update")
    return Response.json(200, {"update": _view(upd)})


@hooks.before("eks", "DescribeUpdate")
def describe_update(ctx: hooks.Context) -> Response:
    """DescribeUpdate."""
    key = (ctx.account, ctx.region, ctx.info.path_params.get("name", ""))
    with _lock:
        upd = _updates.get(key, {}).get(ctx.info.path_params.get("updateId", ""))
    if upd is None:
        return error_response("rest-json", 404, "ResourceNotFoundException", "No update found.", "eks")
    return Response.json(200, {"update": _view(upd)})


@hooks.before("eks", "ListUpdates")
def list_updates(ctx: hooks.Context) -> Response:
    """ListUpdates for the cluster, a node group or an add-on."""
    if _cluster(ctx) is None:
        return _no_cluster(ctx)
    scope = (ctx.query_param("nodegroupName"), ctx.query_param("addonName"))
    key = (ctx.account, ctx.region, ctx.info.path_params.get("name", ""))
    with _lock:
        ids = [u["id"] for u in _updates.get(key, {}).values() if u["_scope"] == scope]
    return Response.json(200, {"updateIds": ids})


# --------------------------------------------------------------- access entries
def _entry_store(ctx: hooks.Context) -> dict[str, dict[str, Any]]:
    return _entries.setdefault((ctx.account, ctx.region, ctx.info.path_params.get("name", "")), {})


def _entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if not k.startswith("_")}


def _principal(ctx: hooks.Context) -> str:
    return ctx.info.path_params.get("principalArn", "")


def _no_entry(ctx: hooks.Context) -> Response:
    return error_response("rest-json", 404, "ResourceNotFoundException",
                          f"The specified access entry resource is not found: {_principal(ctx)}", "eks")


def _default_username(account: str, principal: str) -> str:
    if ":role/" in principal:
        return f"arn:aws:sts::{account}:assumed-role/{principal.split('/')[-1]}/{{{{SessionName}}}}"
    return principal


@hooks.before("eks", "CreateAccessEntry")
def create_access_entry(ctx: hooks.Context) -> Response:
    """CreateAccessEntry."""
    cluster = _cluster(ctx)
    if cluster is None:
        return _no_cluster(ctx)
    body = ctx.json()
    principal = body.get("principalArn", "")
    now = time.time()
    with _lock:
        store = _entry_store(ctx)
        if principal in store:
            return error_response("rest-json", 409, "ResourceInUseException",
                                  f"The specified access entry resource is already in use on this cluster.", "eks")
        role = principal.split("/")[-1]
        entry = {"clusterName": cluster.name, "principalArn": principal,
                 "kubernetesGroups": body.get("kubernetesGroups") or [],
                 "accessEntryArn": f"arn:aws:eks:{ctx.region}:{ctx.account}:access-entry/{cluster.name}/role/"
                                   f"{ctx.account}/{role}/{uuid.uuid4().hex[:8]}",
                 "createdAt": now, "modifiedAt": now, "tags": body.get("tags") or {},
                 "username": body.get("username") or _default_username(ctx.account, principal),
                 "type": body.get("type") or "STANDARD", "_policies": {}}
        store[principal] = entry
    return Response.json(200, {"accessEntry": _entry_view(entry)})


@hooks.before("eks", "DescribeAccessEntry")
def describe_access_entry(ctx: hooks.Context) -> Response:
    """DescribeAccessEntry."""
    with _lock:
        entry = _entry_store(ctx).get(_principal(ctx))
    return _no_entry(ctx) if entry is None else Response.json(200, {"accessEntry": _entry_view(entry)})


@hooks.before("eks", "ListAccessEntries")
def list_access_entries(ctx: hooks.Context) -> Response:
    """ListAccessEntries (optionally by associatedPolicyArn)."""
    if _cluster(ctx) is None:
        return _no_cluster(ctx)
    policy = ctx.query_param("associatedPolicyArn")
    with _lock:
        arns = [p for p, e in _entry_store(ctx).items() if policy is None or policy in e["_policies"]]
    return Response.json(200, {"accessEntries": arns})


@hooks.before("eks", "UpdateAccessEntry")
def update_access_entry(ctx: hooks.Context) -> Response:
    """UpdateAccessEntry."""
    body = ctx.json()
    with _lock:
        entry = _entry_store(ctx).get(_principal(ctx))
        if entry is None:
            return _no_entry(ctx)
        for k in ("kubernetesGroups", "username"):
            if k in body:
                entry[k] = body[k]
        entry["modifiedAt"] = time.time()
    return Response.json(200, {"accessEntry": _entry_view(entry)})


@hooks.before("eks", "DeleteAccessEntry")
def delete_access_entry(ctx: hooks.Context) -> Response:
    """DeleteAccessEntry."""
    with _lock:
        if _entry_store(ctx).pop(_principal(ctx), None) is None:
            return _no_entry(ctx)
    return Response.json(200, {})


@hooks.before("eks", "AssociateAccessPolicy")
def associate_access_policy(ctx: hooks.Context) -> Response:
    """AssociateAccessPolicy (replaces the scope of an existing association)."""
    body = ctx.json()
    with _lock:
        entry = _entry_store(ctx).get(_principal(ctx))
        if entry is None:
            return _no_entry(ctx)
        now = time.time()
        arn = body.get("policyArn", "")
        assoc = entry["_policies"].get(arn) or {"policyArn": arn, "associatedAt": now}
        assoc.update(accessScope=body.get("accessScope") or {"type": "cluster"}, modifiedAt=now)
        entry["_policies"][arn] = assoc
    return Response.json(200, {"clusterName": entry["clusterName"], "principalArn": entry["principalArn"],
                               "associatedAccessPolicy": assoc})


@hooks.before("eks", "ListAssociatedAccessPolicies")
def list_associated_access_policies(ctx: hooks.Context) -> Response:
    """ListAssociatedAccessPolicies."""
    with _lock:
        entry = _entry_store(ctx).get(_principal(ctx))
        if entry is None:
            return _no_entry(ctx)
        items = list(entry["_policies"].values())
    return Response.json(200, {"clusterName": entry["clusterName"], "principalArn": entry["principalArn"],
                               "associatedAccessPolicies": items})


@hooks.before("eks", "DisassociateAccessPolicy")
def disassociate_access_policy(ctx: hooks.Context) -> Response:
    """DisassociateAccessPolicy."""
    with _lock:
        entry = _entry_store(ctx).get(_principal(ctx))
        if entry is None:
            return _no_entry(ctx)
        entry["_policies"].pop(ctx.info.path_params.get("policyArn", ""), None)
    return Response.json(200, {})


@hooks.before("eks", "ListAccessPolicies")
def list_access_policies(ctx: hooks.Context) -> Response:
    """ListAccessPolicies (the AWS-defined EKS access policies)."""
    return Response.json(200, {"accessPolicies": [
        {"name": n, "arn": f"arn:aws:eks::aws:cluster-access-policy/{n}"} for n in ACCESS_POLICIES]})


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _updates.clear()
        _entries.clear()
