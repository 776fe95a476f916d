"""CloudWatch Logs: Logs Insights query definitions.

AWS behaviour restored: ``PutQueryDefinition`` creates (or, with
``queryDefinitionId``, updates) a saved query; ``DescribeQueryDefinitions``
lists them (``queryDefinitionNamePrefix`` filter); ``DeleteQueryDefinition``
removes one.  moto 5.2.5: NotImplementedError (HTTP 500).

https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutQueryDefinition.html
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeQueryDefinitions.html
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response, error_response

_lock = threading.Lock()
_defs: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}


def _store(ctx: hooks.Context) -> dict[str, dict[str, Any]]:
    return _defs.setdefault((ctx.account, ctx.region), {})


@hooks.before("logs", "PutQueryDefinition")
def put_query_definition(ctx: hooks.Context) -> Response:
    """Create or update a query definition."""
    body = ctx.json()
    if not body.get("name") or not body.get("queryString"):
        return error_response("json", 400, "InvalidParameterException", "name and queryString are required.", "logs")
    with _lock:
        store = _store(ctx)
        qid = body.get("queryDefinitionId")
        if qid and qid not in store:
            return error_response("json", 400, "ResourceNotFoundException",
                                  f"Query definition {qid} does not exist.", "logs")
        qid = qid or str(uuid.uuid4())
        store[qid] = {
            "queryDefinitionId": qid, "name": body["name"], "queryString": body["queryString"],
            "lastModified": int(time.time() * 1000), "logGroupNames": body.get("logGroupNames") or [],
            "queryLanguage": body.get("queryLanguage") or "CWLI",
        }
    return Response.json(200, {"queryDefinitionId": qid}, content_type="application/x-amz-json-1.1")


@hooks.before("logs", "DescribeQueryDefinitions")
def describe_query_definitions(ctx: hooks.Context) -> Response:
    """List query definitions, optionally by name prefix."""
    body = ctx.json()
    prefix = body.get("queryDefinitionNamePrefix") or ""
    with _lock:
        items = [dict(d) for d in _store(ctx).values() if d["name"].startswith(prefix)]
    items.sort(key=lambda d: d["name"])
    return Response.json(200, {"queryDefinitions": items}, content_type="application/x-amz-json-1.1")


@hooks.before("logs", "DeleteQueryDefinition")
def delete_query_definition(ctx: hooks.Context) -> Response:
    """Delete a query definition."""
    qid = ctx.json().get("queryDefinitionId", "")
    with _lock:
        found = _store(ctx).pop(qid, None)
    if found is None:
        return error_response("json", 400, "ResourceNotFoundException", f"Query definition {qid} does not exist.", "logs")
    return Response.json(200, {"success": True}, content_type="application/x-amz-json-1.1")


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _defs.clear()
