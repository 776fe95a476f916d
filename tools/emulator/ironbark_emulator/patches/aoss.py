"""OpenSearch Serverless: data access policies and robust collection creation.

AWS behaviours restored:

* Data access policies: ``CreateAccessPolicy`` / ``GetAccessPolicy`` /
  ``ListAccessPolicies`` / ``UpdateAccessPolicy`` / ``DeleteAccessPolicy``
  (moto 5.2.5: NotImplementedError, HTTP 500).
  https://docs.aws.amazon.com/opensearch-service/latest/ServerlessAPIReference/API_CreateAccessPolicy.html
* ``CreateCollection`` matches *encryption* policies only, honours wildcard
  resources (``collection/app*``) and ``AWSOwnedKey: true`` (kmsKeyArn
  ``auto``).  moto crashes (HTTP 500) on AWS-owned keys or when a network policy
  names the collection, and ignores wildcards.
  https://docs.aws.amazon.com/opensearch-service/latest/developerguide/serverless-encryption.html
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
import uuid
from typing import Any

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.patches._util import wrap_method

_lock = threading.Lock()
#: (account, region) -> {(type, name): detail}
_policies: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
_CT = "application/x-amz-json-1.0"


def _store(ctx: hooks.Context) -> dict[tuple[str, str], dict[str, Any]]:
    return _policies.setdefault((ctx.account, ctx.region), {})


def _validation(msg: str) -> Response:
    return error_response("json", 400, "ValidationException", msg, "aoss")


def _parse(doc: Any) -> Any:
    try:
        parsed = json.loads(doc) if isinstance(doc, str) else doc
    except ValueError:
        return None
    return parsed if isinstance(parsed, list) else None


@hooks.before("opensearchserverless", "CreateAccessPolicy")
def create_access_policy(ctx: hooks.Context) -> Response:
    """CreateAccessPolicy (type ``data``)."""
    body = ctx.json()
    if body.get("type") != "data":
        return _validation("Value at 'type' failed to satisfy constraint: Member must satisfy enum value set: [data]")
    doc = _parse(body.get("policy"))
    if doc is None:
        return _validation("Policy json is invalid, error details: policy must be a JSON array of rules")
    key = ("data", body.get("name", ""))
    now = int(time.time() * 1000)
    with _lock:
        if key in _store(ctx):
            return error_response("json", 409, "ConflictException",
                                  f"Policy with name {key[1]} and type data already exists", "aoss")
        detail = {"name": key[1], "type": "data", "description": body.get("description", ""), "policy": doc,
                  "policyVersion": uuid.uuid4().hex[:20], "createdDate": now, "lastModifiedDate": now}
        _store(ctx)[key] = detail
    return Response.json(200, {"accessPolicyDetail": detail}, content_type=_CT)


def _find(ctx: hooks.Context) -> tuple[tuple[str, str], dict[str, Any] | None]:
    body = ctx.json()
    key = (body.get("type", ""), body.get("name", ""))
    return key, _store(ctx).get(key)


@hooks.before("opensearchserverless", "GetAccessPolicy")
def get_access_policy(ctx: hooks.Context) -> Response:
    """GetAccessPolicy (empty result when absent, as AWS)."""
    with _lock:
        _, detail = _find(ctx)
    return Response.json(200, {"accessPolicyDetail": detail} if detail else {}, content_type=_CT)


@hooks.before("opensearchserverless", "ListAccessPolicies")
def list_access_policies(ctx: hooks.Context) -> Response:
    """ListAccessPolicies with the optional ``resource`` filter."""
    body = ctx.json()
    wanted = body.get("resource") or []
    out = []
    with _lock:
        for (ptype, _), d in sorted(_store(ctx).items()):
            if ptype != body.get("type"):
                continue
            res = {r for rule in d["policy"] for item in rule.get("Rules", []) for r in item.get("Resource", [])}
            if wanted and not any(any(fnmatch.fnmatch(w, r) or w == r for r in res) for w in wanted):
                continue
            out.append({k: d[k] for k in ("name", "type", "description", "policyVersion", "createdDate",
                                          "lastModifiedDate")})
    return Response.json(200, {"accessPolicySummaries": out}, content_type=_CT)


@hooks.before("opensearchserverless", "UpdateAccessPolicy")
def update_access_policy(ctx: hooks.Context) -> Response:
    """UpdateAccessPolicy (policyVersion must match)."""
    body = ctx.json()
    with _lock:
        key, detail = _find(ctx)
        if detail is None:
            return error_response("json", 400, "ResourceNotFoundException",
                                  f"Policy with name {key[1]} and type {key[0]} is not found", "aoss")
        if body.get("policyVersion") != detail["policyVersion"]:
            return error_response("json", 409, "ConflictException",
                                  "Policy version specified in the request refers to an older version "
                                  "and policy has since changed", "aoss")
        if "policy" in body:
            doc = _parse(body["policy"])
            if doc is None:
                return _validation("Policy json is invalid")
            detail["policy"] = doc
        if "description" in body:
            detail["description"] = body["description"]
        detail["policyVersion"] = uuid.uuid4().hex[:20]
        detail["lastModifiedDate"] = int(time.time() * 1000)
    return Response.json(200, {"accessPolicyDetail": detail}, content_type=_CT)


@hooks.before("opensearchserverless", "DeleteAccessPolicy")
def delete_access_policy(ctx: hooks.Context) -> Response:
    """DeleteAccessPolicy."""
    with _lock:
        key, detail = _find(ctx)
        if detail is None:
            return error_response("json", 400, "ResourceNotFoundException",
                                  f"Policy with name {key[1]} and type {key[0]} is not found", "aoss")
        _store(ctx).pop(key, None)
    return Response.json(200, {}, content_type=_CT)


def _create_collection(original: Any, self: Any, client_token: str, description: str, name: str,
                       standby_replicas: str, tags: list[dict[str, str]], type: str) -> Any:
    from moto.opensearchserverless.exceptions import ValidationException
    from moto.opensearchserverless.models import Collection
    from moto.moto_api._internal import mock_random

    policy: dict[str, Any] | None = None
    for sp in self.security_policies.values():
        if sp.type != "encryption":
            continue
        if any(fnmatch.fnmatch(f"collection/{name}", res) for res in sp.resources):
            policy = dict(sp.policy)
    if policy is None:
        raise ValidationException(
            msg=f"No matching security policy of encryption type found for collection name: {name}. "
                "Please create security policy of encryption type for this collection.")
    if "KmsARN" not in policy:
        policy["KmsARN"] = "auto"  # AWSOwnedKey: true
    collection = Collection(client_token=client_token or mock_random.get_random_string(10),
                            description=description, name=name, standby_replicas=standby_replicas, tags=tags,
                            type=type, policy=policy, region=self.region_name, account_id=self.account_id)
    self.collections[collection.id] = collection
    self.tag_resource(collection.arn, tags)
    return collection


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _policies.clear()


def apply() -> None:
    """Replace the collection matcher."""
    from moto.opensearchserverless.models import OpenSearchServiceServerlessBackend

    wrap_method(OpenSearchServiceServerlessBackend, "create_collection", _create_collection)
