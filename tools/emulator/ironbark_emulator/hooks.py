"""Registry of request hooks that patches register.

* ``before(model, operation)``: runs before moto; returning a ``Response``
  answers the request without moto (used for missing APIs, validation and
  idempotency replays); returning None lets moto handle it.
* ``after(model, operation)``: may rewrite moto's response.
* ``on_reset``: runs after ``POST /moto-api/reset`` (and on emulator reset).

``model`` is the botocore model name (``ec2``, ``rds``, ``rds-data``,
``bedrock-agent``, ``cloudwatch``, ...).

Smithy RPC v2 CBOR calls (CloudWatch from aws-sdk-rust) reach hooks already translated
to awsJson1_0 (``ctx.info.protocol == "json"``, ``ctx.json()`` works, JSON responses);
``ironbark_emulator.cbor`` turns the final response back into CBOR.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ironbark_emulator.errors import Response
from ironbark_emulator.ops import OpInfo


@dataclass
class Context:
    """One AWS request as seen by a hook."""

    info: OpInfo
    environ: dict[str, Any]
    body: bytes
    account: str
    scratch: dict[str, Any] = field(default_factory=dict)

    @property
    def region(self) -> str:
        """Region from the SigV4 scope."""
        return self.info.region

    @property
    def params(self) -> dict[str, str]:
        """Flat query-protocol parameters (ec2/query services)."""
        return self.info.params

    def json(self) -> dict[str, Any]:
        """The JSON request body (json / rest-json protocols)."""
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            return {}

    def backend(self, name: str) -> Any:
        """The moto backend of service ``name`` for this account and region."""
        from moto.backends import get_backend

        bd = get_backend(name)  # type: ignore[arg-type]
        acct = bd[self.account]
        for key in (self.region, "global", "aws"):
            try:
                return acct[key]
            except KeyError:
                continue
        return acct[self.region]

    def query_param(self, name: str) -> str | None:
        """A query-string parameter of the URL."""
        from urllib.parse import parse_qs

        return parse_qs(self.environ.get("QUERY_STRING", "")).get(name, [None])[0]


Before = Callable[[Context], Response | None]
After = Callable[[Context, Response], Response]

BEFORE: dict[tuple[str, str], list[Before]] = {}
AFTER: dict[tuple[str, str], list[After]] = {}
RESET: list[Callable[[], None]] = []


def before(model: str, *operations: str) -> Callable[[Before], Before]:
    """Decorator: register a before-hook for operations of a model."""

    def deco(fn: Before) -> Before:
        for op in operations:
            BEFORE.setdefault((model, op), []).append(fn)
        return fn

    return deco


def after(model: str, *operations: str) -> Callable[[After], After]:
    """Decorator: register an after-hook for operations of a model."""

    def deco(fn: After) -> After:
        for op in operations:
            AFTER.setdefault((model, op), []).append(fn)
        return fn

    return deco


def on_reset(fn: Callable[[], None]) -> Callable[[], None]:
    """Decorator: run ``fn`` whenever moto's state is reset."""
    RESET.append(fn)
    return fn


def run_reset_hooks() -> None:
    """Run all reset hooks."""
    for fn in RESET:
        fn()


def account_from_environ(environ: dict[str, Any]) -> str:
    """The account moto would use for this request."""
    import os

    from moto.core import DEFAULT_ACCOUNT_ID

    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        return environ["HTTP_X_MOTO_ACCOUNT_ID"]
    m = re.search(r"Credential=([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    if m:
        from moto.iam.models import get_account_id_from

        return get_account_id_from(m.group(1))
    return DEFAULT_ACCOUNT_ID
