"""EC2: honour ``ClientToken`` on every create call that takes one.

AWS behaviour restored: a retried request with the same client token and the
same parameters returns the result of the first request instead of creating a
second resource; the same token with different parameters fails with
``IdempotentParameterMismatch`` (HTTP 400).  moto 5.2.5 ignores the token, so
a retried CreateNatGateway fails with ``Resource.AlreadyAssociated`` and
CreateVpcEndpoint / RunInstances create duplicates.

https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Run_Instance_Idempotency.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNatGateway.html
"""

from __future__ import annotations

import hashlib
import threading

import botocore.session

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response, error_response

_lock = threading.Lock()
#: (account, region, operation, token) -> (fingerprint, first successful response)
_tokens: dict[tuple[str, str, str, str], tuple[str, Response]] = {}
_IGNORED = {"Action", "Version", "ClientToken", "DryRun"}


def token_operations() -> list[str]:
    """EC2 operations whose input has a ``ClientToken`` member (from botocore's model)."""
    sm = botocore.session.get_session().get_service_model("ec2")
    out = []
    for name in sm.operation_names:
        shape = sm.operation_model(name).input_shape
        if shape is not None and "ClientToken" in shape.members:
            out.append(name)
    return out


def _fingerprint(params: dict[str, str]) -> str:
    items = sorted((k, v) for k, v in params.items() if k not in _IGNORED)
    return hashlib.sha256(repr(items).encode()).hexdigest()


def _key(ctx: hooks.Context) -> tuple[str, str, str, str] | None:
    token = ctx.params.get("ClientToken")
    if not token:
        return None
    return (ctx.account, ctx.region, ctx.info.operation, token)


def _before(ctx: hooks.Context) -> Response | None:
    key = _key(ctx)
    if key is None:
        return None
    with _lock:
        seen = _tokens.get(key)
    if seen is None:
        return None
    fingerprint, first = seen
    if fingerprint != _fingerprint(ctx.params):
        return error_response(
            "ec2", 400, "IdempotentParameterMismatch",
            f"The client token '{key[3]}' has already been used with different request parameters.")
    return Response(first.status, first.body, list(first.headers))


def _after(ctx: hooks.Context, resp: Response) -> Response:
    key = _key(ctx)
    if key is not None and resp.status == 200:
        with _lock:
            _tokens.setdefault(key, (_fingerprint(ctx.params), resp))
    return resp


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _tokens.clear()


def apply() -> None:
    """Register the hooks for every EC2 operation taking a ClientToken."""
    ops = token_operations()
    hooks.before("ec2", *ops)(_before)
    hooks.after("ec2", *ops)(_after)
