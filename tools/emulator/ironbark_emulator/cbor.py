"""CloudWatch over Smithy RPC v2 CBOR: a protocol adapter driven by botocore's model.

AWS behaviour restored: CloudWatch speaks the Smithy RPC v2 CBOR protocol, and it is
the only protocol aws-sdk-rust's CloudWatch client (signing name ``monitoring``) knows:
``POST /service/GraniteServiceVersion20100801/operation/<Operation>`` with
``smithy-protocol: rpc-v2-cbor`` and a CBOR map of the input members (or an empty
body); the answer is a CBOR map of the output members (``Content-Type:
application/cbor``, ``smithy-protocol: rpc-v2-cbor``; timestamps as tag 1 + epoch
seconds, blobs as byte strings), and errors are a CBOR map ``{"__type", "message"}``
with the HTTP status of the error.  CloudWatch is ``awsQueryCompatible``, so an error
also carries ``x-amzn-query-error: <query code>;<Sender|Receiver>``, and SDKs match the
modelled error on that query code (aws-sdk-rust: GetDashboard's
``DashboardNotFoundError`` is the code ``ResourceNotFound``).

moto 5.2.5 has no CBOR support (such a request gets a Werkzeug 404), but it serves
CloudWatch over awsJson1_0 (``X-Amz-Target: GraniteServiceVersion20100801.<Op>``).
The adapter rewrites a CBOR request into that form (timestamps as epoch seconds, blobs
as base64), lets the hooks and moto handle it, and turns moto's JSON answer back into
CBOR following botocore's model of the operation's output (or error) shape.

The CBOR codec itself (RFC 8949) is the ``cbor2`` package; ``dumps`` and ``loads`` here
only set it up the way the adapter needs it: every float a double, ``datetime`` as tag 1,
definite lengths; any tag but the bignums decoded as a plain ``Tag``, a nesting limit,
no trailing bytes, and lists / dicts / ``None`` where cbor2 builds tuples, frozendicts
or ``undefined``.

https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html
https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#aws-protocols-awsquerycompatible-trait
https://www.rfc-editor.org/rfc/rfc8949.html
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import gzip
import io
import json
import math
import struct
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import botocore.session
import cbor2
from botocore.model import OperationModel, ServiceModel, Shape

from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.ops import OpInfo

PROTOCOL = "smithy-rpc-v2-cbor"
CBOR_HEADERS = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
#: Nesting limit of the decoder (a hostile body must not exhaust the stack).
MAX_DEPTH = 256


# ====================================================================== codec
# The codec is cbor2 (RFC 8949), set up to give the adapter plain values: tags stay ``Tag``
# (its timestamp decoding would round tag 1 to microseconds), floats are always doubles.
CBORDecodeError = cbor2.CBORDecodeError
#: A tagged data item (major type 6), e.g. ``Tag(1, 1700000000.5)`` for a timestamp.
Tag = cbor2.CBORTag
#: A simple value (major type 7) other than false/true/null/undefined.
Simple = cbor2.CBORSimpleValue


def _double(encoder: cbor2.CBOREncoder, value: float) -> None:
    """Every float as a double (0xfb); cbor2 alone writes NaN and the infinities as halves."""
    encoder.write(b"\xfb" + struct.pack(">d", value))


def _bytes(encoder: cbor2.CBOREncoder, value: memoryview) -> None:
    encoder.encode(bytes(value))  # cbor2 alone writes a memoryview as an array of ints


_ENCODERS = {float: _double, memoryview: _bytes}


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as one CBOR data item.

    Definite lengths throughout; ``float`` is always a double (0xfb), since Smithy
    decoders accept any float width for a ``double`` member but never an integer;
    ``datetime`` becomes tag 1 with epoch seconds (an int when whole; naive means UTC);
    ``Tag`` and ``Simple`` pass through.
    """
    return cbor2.dumps(obj, datetime_as_timestamp=True, timezone=timezone.utc, encoders=_ENCODERS)


def _tag(tag: int, value: Any) -> Any:
    if tag in (2, 3) and isinstance(value, bytes):  # bignums
        big = int.from_bytes(value, "big")
        return big if tag == 2 else -1 - big
    return Tag(tag, value)  # also a bignum tag around anything but a byte string


class _RawTags(dict):  # type: ignore[type-arg]
    """cbor2's ``semantic_decoders``: every tag but a bignum comes back as ``Tag`` (no
    datetimes, sets, shared or string references built from client input)."""

    def __missing__(self, tag: int) -> Any:
        return lambda value, immutable: _tag(tag, value)


_RAW_TAGS = _RawTags()


def _plain(obj: Any) -> Any:
    """Lists and dicts where cbor2 built tuples and frozendicts (map keys); undefined -> None."""
    if obj is cbor2.undefined:
        return None
    if isinstance(obj, (list, tuple)):
        return [_plain(item) for item in obj]
    if isinstance(obj, Mapping):
        mapping: dict[Any, Any] = {}
        for key, value in obj.items():
            value = _plain(value)
            try:
                mapping[_plain(key)] = value
            except (TypeError, RuntimeError) as exc:  # unhashable key (array / map)
                raise CBORDecodeError("unsupported map key type") from exc
        return mapping
    if isinstance(obj, Tag):
        return Tag(obj.tag, _plain(obj.value))
    return obj


def loads(data: bytes) -> Any:
    """Decode exactly one CBOR data item (all major types, indefinite lengths, half/single/
    double floats).  Tags other than the bignums 2/3 come back as ``Tag``."""
    raw = bytes(data)
    fp = io.BytesIO(raw)
    value = cbor2.CBORDecoder(fp, semantic_decoders=_RAW_TAGS, max_depth=MAX_DEPTH).decode()
    if fp.tell() != len(raw):  # cbor2 seeks back past what it read ahead
        raise CBORDecodeError(f"{len(raw) - fp.tell()} trailing bytes after the CBOR item")
    return _plain(value)


# ============================================================ value helpers
def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _epoch_number(seconds: float) -> int | float:
    """Epoch seconds as an int when whole, else a float (CBOR tag 1 allows both)."""
    return int(seconds) if float(seconds).is_integer() else float(seconds)


def _epoch_seconds(value: Any) -> int | float:
    """Epoch seconds of a timestamp as moto (or a client) wrote it."""
    if isinstance(value, Tag):
        return _epoch_seconds(value.value)
    if isinstance(value, datetime):
        return _epoch_number(_aware(value).timestamp())
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, (int, float)):
        return _epoch_number(value)
    text = str(value).strip()
    try:
        return _epoch_number(float(text))
    except ValueError:
        pass
    try:
        return _epoch_number(_aware(datetime.fromisoformat(text.replace("Z", "+00:00"))).timestamp())
    except ValueError:
        return _epoch_number(_aware(parsedate_to_datetime(text)).timestamp())


def _json_float(value: float) -> float | str:
    """awsJson writes NaN and the infinities as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def cbor_to_json(value: Any, shape: Shape | None) -> Any:
    """A decoded CBOR request value -> its awsJson1_0 form, following ``shape``.

    Timestamps become epoch seconds, blobs base64; members the model does not know
    are converted by their CBOR type.
    """
    if value is None:
        return None
    kind = shape.type_name if shape is not None else None
    if kind == "timestamp" or (kind is None and isinstance(value, Tag) and value.tag == 1):
        return _epoch_seconds(value)
    if isinstance(value, Tag):
        return cbor_to_json(value.value, shape)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, dict):
        if kind == "structure":
            members = shape.members  # type: ignore[union-attr]
            return {str(k): cbor_to_json(v, members.get(k)) for k, v in value.items() if v is not None}
        inner = shape.value if kind == "map" else None  # type: ignore[union-attr]
        return {str(k): cbor_to_json(v, inner) for k, v in value.items()}
    if isinstance(value, list):
        inner = shape.member if kind == "list" else None  # type: ignore[union-attr]
        return [cbor_to_json(v, inner) for v in value]
    if isinstance(value, Simple):
        return value.value
    return value


def json_to_cbor(value: Any, shape: Shape | None) -> Any:
    """moto's JSON output value -> the value to CBOR-encode, following ``shape``.

    Structures keep only modelled, non-null members; timestamps become tag 1 (moto
    writes epoch numbers, sometimes ISO strings); blobs bytes; doubles floats and
    integers ints (a Smithy decoder accepts no integer for a double).
    """
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind in ("structure", "union"):
        if not isinstance(value, dict):
            return value
        members = shape.members  # type: ignore[attr-defined]
        return {k: json_to_cbor(v, members[k]) for k, v in value.items() if k in members and v is not None}
    if kind == "list":
        if not isinstance(value, list):
            value = [value]
        return [json_to_cbor(v, shape.member) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        if not isinstance(value, dict):
            return value
        return {str(k): json_to_cbor(v, shape.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return Tag(1, _epoch_seconds(value))
    if kind == "blob":
        if isinstance(value, str):
            return base64.b64decode(value)
        return bytes(value)
    if kind in ("double", "float"):
        return float(value)
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)
    if kind == "string":
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return value if isinstance(value, str) else str(value)
    return value


# ================================================================= adapter
@functools.lru_cache(maxsize=None)
def _service_model(model: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(model)


@functools.lru_cache(maxsize=None)
def _error_shapes(model: str, operation: str | None) -> dict[str, Shape]:
    """Error shapes by query code and by shape name; the operation's own errors win."""
    sm = _service_model(model)
    found: dict[str, Shape] = {}
    shapes: list[Shape] = []
    if operation is not None:
        try:
            shapes = list(sm.operation_model(operation).error_shapes)
        except Exception:
            shapes = []
    for name in sm.shape_names:
        shape = sm.shape_for(name)
        if shape.metadata.get("exception"):
            shapes.append(shape)
    for shape in shapes:
        code = shape.metadata.get("error", {}).get("code") or shape.name
        found.setdefault(code, shape)
        found.setdefault(shape.name, shape)
    return found


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _sanitize_code(code: str) -> str:
    """``ns#Code:http://...`` -> ``Code`` (as Smithy clients read ``__type``)."""
    code = code.split(":", 1)[0]
    return code.rsplit("#", 1)[-1]


class CborAdapter:
    """Translates one CBOR request to awsJson1_0 and moto's answer back to CBOR."""

    def __init__(self, info: OpInfo, service_model: ServiceModel) -> None:
        self.info = info
        self.service_model = service_model
        self.operation: OperationModel | None = None
        if info.operation in service_model.operation_names:
            self.operation = service_model.operation_model(info.operation)

    # ---------------------------------------------------------------- request
    def request(self, environ: dict[str, Any], body: bytes) -> tuple[bytes, OpInfo] | Response:
        """Rewrite ``environ`` in place as an awsJson1_0 call; return the JSON body and the
        request's ``OpInfo`` as seen by hooks (protocol ``json``), or a CBOR error."""
        if self.operation is None:
            return self.error(404, "UnknownOperationException",
                              f"Operation {self.info.operation} is not part of {self.service_model.service_name}.")
        if environ.get("HTTP_CONTENT_ENCODING", "").lower() == "gzip":
            try:
                body = gzip.decompress(body)
            except OSError:
                return self.error(400, "SerializationException", "request body is not valid gzip")
            environ.pop("HTTP_CONTENT_ENCODING", None)
        try:
            params = loads(body) if body else {}
        except CBORDecodeError as exc:
            return self.error(400, "SerializationException", f"request body is not valid CBOR: {exc}")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            return self.error(400, "SerializationException", "request body must be a CBOR map")
        try:
            payload = cbor_to_json(params, self.operation.input_shape)
        except (ValueError, TypeError, OverflowError) as exc:
            return self.error(400, "SerializationException", f"cannot read request: {exc}")
        data = json.dumps(payload).encode()
        prefix = self.service_model.metadata.get("targetPrefix", "")
        environ["PATH_INFO"] = "/"
        for key in ("RAW_URI", "REQUEST_URI"):
            if key in environ:
                environ[key] = "/"
        environ["REQUEST_METHOD"] = "POST"
        environ["CONTENT_TYPE"] = "application/x-amz-json-" + self.service_model.metadata.get("jsonVersion", "1.0")
        environ["CONTENT_LENGTH"] = str(len(data))
        environ["HTTP_X_AMZ_TARGET"] = f"{prefix}.{self.info.operation}"
        environ["HTTP_ACCEPT"] = "application/json"
        environ.pop("HTTP_SMITHY_PROTOCOL", None)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ["wsgi.input"] = io.BytesIO(data)
        return data, dataclasses.replace(self.info, protocol="json")

    # --------------------------------------------------------------- response
    def response(self, resp: Response) -> Response:
        """moto's (or a hook's) awsJson1_0 answer -> the CBOR answer."""
        try:
            parsed = json.loads(resp.body) if resp.body.strip() else {}
        except ValueError:
            parsed = None
        if resp.status >= 300:
            return self._error_from(resp, parsed)
        if not isinstance(parsed, dict):
            return self.error(500, "InternalFailure", "emulator: moto's answer is not a JSON object", sender=False)
        shape = self.operation.output_shape if self.operation is not None else None
        out = json_to_cbor(parsed, shape) if shape is not None else {}
        headers = [(k, v) for k, v in resp.headers
                   if k.lower() not in ("content-type", "content-length", "x-amzn-query-error")]
        return Response(resp.status, dumps(out), headers + CBOR_HEADERS)

    def _error_from(self, resp: Response, parsed: Any) -> Response:
        body = parsed if isinstance(parsed, dict) else {}
        query = _header(resp.headers, "x-amzn-query-error")
        query_code, _, kind = (query or "").partition(";")
        raw = body.get("__type") or body.get("code") or body.get("Code") or query_code
        message = body.get("message") or body.get("Message") or ""
        if not raw:
            raw = "InternalFailure" if resp.status >= 500 else "UnknownError"
            if not message and not isinstance(parsed, dict):
                message = resp.body[:500].decode("utf-8", "replace")
        code = query_code or _sanitize_code(str(raw))
        sender = (kind or ("Receiver" if resp.status >= 500 else "Sender")) == "Sender"
        out = self.error(resp.status, code, str(message), sender)
        rid = _header(resp.headers, "x-amzn-requestid")
        if rid:
            out.headers = [(k, v) for k, v in out.headers if k.lower() != "x-amzn-requestid"]
            out.headers.append(("x-amzn-RequestId", rid))
        return out

    def error(self, status: int, code: str, message: str, sender: bool = True) -> Response:
        """A CBOR error: ``__type`` is the modelled shape name for ``code`` (a query code
        or a shape name), plus ``x-amzn-query-error`` for awsQueryCompatible services."""
        model = self.info.model or self.service_model.service_name
        shape = _error_shapes(model, self.info.operation if self.operation is not None else None).get(code)
        type_name = shape.name if shape is not None else code
        query_code = (shape.metadata.get("error", {}).get("code") or shape.name) if shape is not None else code
        resp = error_response(PROTOCOL, status, type_name, message, self.info.service, sender=sender)
        if "awsQueryCompatible" in self.service_model.metadata:
            resp.headers.append(("x-amzn-query-error", f"{query_code};{'Sender' if sender else 'Receiver'}"))
        return resp


def adapter_for(info: OpInfo) -> CborAdapter | None:
    """An adapter when ``info`` is a CBOR call to a service moto serves over awsJson
    (CloudWatch); None leaves the request to moto unchanged."""
    if info.protocol != PROTOCOL or not info.model:
        return None
    try:
        sm = _service_model(info.model)
    except Exception:
        return None
    if "json" not in sm.metadata.get("protocols", []) or not sm.metadata.get("targetPrefix"):
        return None
    return CborAdapter(info, sm)
