"""ECS: CreateService does not silently replace an existing service.

AWS behaviour restored: ``CreateService`` for a name that already exists
(and is ACTIVE) in the cluster returns the existing service when the same
``clientToken`` is repeated with the same parameters, and otherwise fails
with ``InvalidParameterException`` ("Creation of service was not idempotent").
moto 5.2.5 replaces the service (desiredCount reset, load balancers lost).

https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
"""

from __future__ import annotations

import json
import threading

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response, error_response

_lock = threading.Lock()
#: (account, region, cluster, service) -> (clientToken, canonical params, first response)
_created: dict[tuple[str, str, str, str], tuple[str | None, str, Response]] = {}


def _key(ctx: hooks.Context) -> tuple[tuple[str, str, str, str], str | None, str]:
    body = ctx.json()
    cluster = (body.get("cluster") or "default").split("/")[-1]
    params = {k: v for k, v in body.items() if k != "clientToken"}
    return (ctx.account, ctx.region, cluster, body.get("serviceName", "")), body.get("clientToken"), \
        json.dumps(params, sort_keys=True)


def _exists(ctx: hooks.Context, cluster: str, name: str) -> bool:
    backend = ctx.backend("ecs")
    svc = backend.services.get(f"{cluster}:{name}")
    return svc is not None and getattr(svc, "status", "ACTIVE") == "ACTIVE"


@hooks.before("ecs", "CreateService")
def create_service(ctx: hooks.Context) -> Response | None:
    """Replay or refuse a CreateService for an existing service."""
    key, token, params = _key(ctx)
    if not _exists(ctx, key[2], key[3]):
        return None
    with _lock:
        seen = _created.get(key)
    if seen is not None and token and seen[0] == token and seen[1] == params:
        return Response(seen[2].status, seen[2].body, list(seen[2].headers))
    return error_response("json", 400, "InvalidParameterException", "Creation of service was not idempotent.", "ecs")


@hooks.after("ecs", "CreateService")
def remember_service(ctx: hooks.Context, resp: Response) -> Response:
    """Remember the first successful CreateService per service."""
    if resp.status == 200:
        key, token, params = _key(ctx)
        with _lock:
            _created.setdefault(key, (token, params, resp))
    return resp


@hooks.before("ecs", "DeleteService")
def forget_service(ctx: hooks.Context) -> Response | None:
    """A deleted service's name can be reused."""
    body = ctx.json()
    cluster = (body.get("cluster") or "default").split("/")[-1]
    with _lock:
        _created.pop((ctx.account, ctx.region, cluster, body.get("service", "").split("/")[-1]), None)
    return None


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _created.clear()
