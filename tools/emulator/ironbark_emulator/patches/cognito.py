"""Cognito: user pool deletion protection and identity pool roles.

AWS behaviours restored:

* ``DeleteUserPool`` on a pool with ``DeletionProtection=ACTIVE`` fails with
  ``InvalidParameterException`` (moto deletes it).
  https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_DeleteUserPool.html
* ``SetIdentityPoolRoles`` / ``GetIdentityPoolRoles`` store and return the
  authenticated/unauthenticated roles and role mappings (moto: HTTP 500).
  https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_SetIdentityPoolRoles.html
"""

from __future__ import annotations

import threading
from typing import Any

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response, error_response

_lock = threading.Lock()
_roles: dict[tuple[str, str, str], dict[str, Any]] = {}


@hooks.before("cognito-idp", "DeleteUserPool")
def protect_user_pool(ctx: hooks.Context) -> Response | None:
    """Refuse to delete a deletion-protected pool."""
    pool = ctx.backend("cognito-idp").user_pools.get(ctx.json().get("UserPoolId", ""))
    if pool is not None and pool.extended_config.get("DeletionProtection") == "ACTIVE":
        return error_response("json", 400, "InvalidParameterException",
                              "The user pool cannot be deleted because deletion protection is activated. "
                              "Deletion protection must be inactivated first.", "cognito-idp")
    return None


def _pool_exists(ctx: hooks.Context, pool_id: str) -> bool:
    return pool_id in ctx.backend("cognito-identity").identity_pools


@hooks.before("cognito-identity", "SetIdentityPoolRoles")
def set_identity_pool_roles(ctx: hooks.Context) -> Response:
    """SetIdentityPoolRoles (replaces roles and role mappings)."""
    body = ctx.json()
    pool_id = body.get("IdentityPoolId", "")
    if not _pool_exists(ctx, pool_id):
        return error_response("json", 400, "ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.",
                              "cognito-identity")
    with _lock:
        _roles[(ctx.account, ctx.region, pool_id)] = {"Roles": body.get("Roles") or {},
                                                      "RoleMappings": body.get("RoleMappings") or {}}
    return Response.json(200, {}, content_type="application/x-amz-json-1.1")


@hooks.before("cognito-identity", "GetIdentityPoolRoles")
def get_identity_pool_roles(ctx: hooks.Context) -> Response:
    """GetIdentityPoolRoles."""
    pool_id = ctx.json().get("IdentityPoolId", "")
    if not _pool_exists(ctx, pool_id):
        return error_response("json", 400, "ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.",
                              "cognito-identity")
    with _lock:
        data = dict(_roles.get((ctx.account, ctx.region, pool_id), {}))
    out: dict[str, Any] = {"IdentityPoolId": pool_id}
    if data.get("Roles"):
        out["Roles"] = data["Roles"]
    if data.get("RoleMappings"):
        out["RoleMappings"] = data["RoleMappings"]
    return Response.json(200, out, content_type="application/x-amz-json-1.1")


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _roles.clear()
