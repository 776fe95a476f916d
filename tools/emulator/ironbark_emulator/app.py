"""The WSGI application: control endpoints, request log, faults, hooks, moto.

Request flow for an AWS call::

    identify (ops) -> fault decision (faults) -> [CBOR -> awsJson (cbor)] -> before-hooks
      (patches) -> moto's DomainDispatcherApplication -> after-hooks -> [JSON -> CBOR]
      -> request log

Smithy RPC v2 CBOR calls (CloudWatch from aws-sdk-rust) are logged and faulted as CBOR;
hooks and moto see them as awsJson1_0 (``ironbark_emulator.cbor``).
"""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs
import sys
import time
import traceback
from http import HTTPStatus
from collections.abc import Iterable
from typing import Any

from ironbark_emulator import MOTO_VERSION, cbor, clock, hooks
from ironbark_emulator.errors import Response, error_response, server_error_code, throttle_code
from ironbark_emulator.faults import FaultRule, FaultTable
from ironbark_emulator.ops import identify
from ironbark_emulator.reqlog import RequestLog


def access_key_of(environ: dict[str, Any]) -> str | None:
    """The access key id of a SigV4-signed request (`Credential=AKID/date/region/...`)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    marker = "Credential="
    if marker not in auth:
        return None
    return auth.split(marker, 1)[1].split("/", 1)[0] or None

WSGIApp = Any


class IronbarkApp:
    """WSGI middleware around moto's server application."""

    def __init__(self, moto_app: WSGIApp) -> None:
        self.moto_app = moto_app
        self.log = RequestLog()
        self.faults = FaultTable()

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith("/_ironbark"):
            resp = self._control(environ, path)
            return self._send(resp, start_response)
        head = environ.get("REQUEST_METHOD", "").upper() == "HEAD"
        body = self._read_body(environ)
        if path.startswith("/moto-api"):
            resp = self._call_moto(environ)
            if path.rstrip("/") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
                hooks.run_reset_hooks()
            return self._send(resp, start_response, head)
        try:
            info = identify(environ, body)
        except Exception:  # pragma: no cover - never let identification break a call
            traceback.print_exc()
            info = None
        if info is None:
            return self._send(self._call_moto(environ), start_response, head)
        started = time.time()
        decision = self.faults.decide(info.service, info.operation)
        fault: str | None = decision.kind
        if decision.latency_ms > 0:
            time.sleep(decision.latency_ms / 1000.0)
        if decision.kind == "throttle":
            status, code = throttle_code(info.service, info.protocol)
            resp = error_response(info.protocol, status, code, "Rate exceeded", info.service)
        elif decision.kind == "error":
            st = decision.error_status
            resp = error_response(info.protocol, st, server_error_code(st, info.protocol),
                                  "We encountered an internal error. Please try again.", info.service,
                                  sender=False)
        else:
            resp = self._dispatch(environ, body, info)
        self.log.add(info.service, info.operation, info.op_class, resp.status, fault, started,
                     access_key_of(environ))
        return self._send(resp, start_response, head)

    # ------------------------------------------------------------- helpers
    @staticmethod
    def _read_body(environ: dict[str, Any]) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        stream = environ.get("wsgi.input")
        if stream is None:
            return b""
        if length > 0:
            body = stream.read(length)
        elif environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            body = stream.read()
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        return body

    def _dispatch(self, environ: dict[str, Any], body: bytes, info: Any) -> Response:
        adapter = cbor.adapter_for(info)
        if adapter is None:
            return self._hooks_and_moto(environ, body, info)
        try:
            translated = adapter.request(environ, body)
            if isinstance(translated, Response):
                return translated
            body, json_info = translated
            return adapter.response(self._hooks_and_moto(environ, body, json_info))
        except Exception as exc:  # a bug in the adapter must not kill the server
            traceback.print_exc()
            return error_response(info.protocol, 500, "InternalFailure", f"emulator error: {exc!r}",
                                  info.service, sender=False)

    def _hooks_and_moto(self, environ: dict[str, Any], body: bytes, info: Any) -> Response:
        ctx = hooks.Context(info, environ, body, hooks.account_from_environ(environ))
        key = (info.model or info.service, info.operation)
        try:
            for fn in hooks.BEFORE.get(key, []):
                r = fn(ctx)
                if r is not None:
                    return self._after(ctx, key, r)
            environ["wsgi.input"] = io.BytesIO(body)
            return self._after(ctx, key, self._call_moto(environ))
        except Exception as exc:  # a bug in a patch must not kill the server
            traceback.print_exc()
            return error_response(info.protocol, 500, "InternalFailure", f"emulator error: {exc!r}",
                                  info.service, sender=False)

    @staticmethod
    def _after(ctx: hooks.Context, key: tuple[str, str], resp: Response) -> Response:
        for fn in hooks.AFTER.get(key, []):
            resp = fn(ctx, resp)
        return resp

    def _call_moto(self, environ: dict[str, Any]) -> Response:
        captured: dict[str, Any] = {}

        def sr(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = int(status.split()[0])
            captured["headers"] = list(headers)
            return lambda data: None

        chunks = self.moto_app(environ, sr)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return Response(captured.get("status", 500), body, captured.get("headers", []))

    @staticmethod
    def _send(resp: Response, start_response: Any, head: bool = False) -> Iterable[bytes]:
        if head and any(k.lower() == "content-length" for k, _ in resp.headers):
            # HEAD (e.g. S3 HeadObject): keep the entity's Content-Length, send no body.
            headers = [(k, v) for k, v in resp.headers if k.lower() != "transfer-encoding"]
        else:
            headers = [(k, v) for k, v in resp.headers if k.lower() not in ("content-length", "transfer-encoding")]
            headers.append(("Content-Length", str(len(resp.body))))
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Status"
        start_response(f"{resp.status} {reason}", headers)
        return [] if head else [resp.body]

    # ------------------------------------------------------------- control
    def _control(self, environ: dict[str, Any], path: str) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = path.rstrip("/")
        body = self._read_body(environ)
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError:
            return Response.json(400, {"ok": False, "error": "body is not JSON"})
        try:
            if path == "/_ironbark/health":
                return Response.json(200, {"ok": True, "moto": MOTO_VERSION, "time_scale": clock.get_time_scale()})
            if path == "/_ironbark/time-scale":
                if method == "POST":
                    clock.set_time_scale(data.get("time_scale"))
                return Response.json(200, {"ok": True, "time_scale": clock.get_time_scale()})
            if path == "/_ironbark/faults":
                if method == "POST":
                    self.faults.put(FaultRule.from_json(data))
                elif method == "DELETE":
                    self.faults.clear()
                return Response.json(200, self.faults.list())
            key = parse_qs(environ.get("QUERY_STRING", "")).get("access_key", [None])[0]
            if path == "/_ironbark/log":
                return Response.json(200, {"entries": self.log.entries(key)})
            if path == "/_ironbark/log/summary":
                return Response.json(200, self.log.summary(key))
            if path == "/_ironbark/log/reset" and method == "POST":
                self.log.reset()
                return Response.json(200, {"ok": True})
            if path == "/_ironbark/reset" and method == "POST":
                from moto.moto_api._internal.models import moto_api_backend

                moto_api_backend.reset()
                hooks.run_reset_hooks()
                self.log.reset()
                self.faults.clear()
                return Response.json(200, {"ok": True})
        except (ValueError, TypeError) as exc:
            return Response.json(400, {"ok": False, "error": str(exc)})
        print(f"unknown control path {method} {path}", file=sys.stderr)
        return Response.json(404, {"ok": False, "error": f"unknown control endpoint {method} {path}"})
