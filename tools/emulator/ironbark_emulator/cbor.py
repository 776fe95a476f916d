"""CloudWatch over Smithy RPC v2 CBOR: a CBOR codec and a protocol adapter.

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
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.ops import OpInfo

PROTOCOL = "smithy-rpc-v2-cbor"
CBOR_HEADERS = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
#: Nesting limit of the decoder (a hostile body must not exhaust the stack).
MAX_DEPTH = 256


# ====================================================================== codec
class CBORDecodeError(ValueError):
    """The bytes are not one well-formed CBOR data item."""


@dataclasses.dataclass(frozen=True)
class Tag:
    """A tagged data item (major type 6), e.g. ``Tag(1, 1700000000.5)`` for a timestamp."""

    tag: int
    value: Any


@dataclasses.dataclass(frozen=True)
class Simple:
    """A simple value (major type 7) other than false/true/null/undefined."""

    value: int


class _Break:
    """The "break" stop code (0xff) that ends an indefinite-length item."""


_BREAK = _Break()


def _head(major: int, n: int) -> bytes:
    """The initial byte(s) of an item of ``major`` type with argument ``n``."""
    mt = major << 5
    if n < 24:
        return bytes([mt | n])
    if n < 0x100:
        return bytes([mt | 24, n])
    if n < 0x10000:
        return bytes([mt | 25]) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes([mt | 26]) + struct.pack(">I", n)
    return bytes([mt | 27]) + struct.pack(">Q", n)


def _encode(obj: Any, out: io.BytesIO) -> None:
    if obj is None:
        out.write(b"\xf6")
    elif obj is True:
        out.write(b"\xf5")
    elif obj is False:
        out.write(b"\xf4")
    elif isinstance(obj, int):
        if 0 <= obj < 2**64:
            out.write(_head(0, obj))
        elif -(2**64) <= obj < 0:
            out.write(_head(1, -1 - obj))
        else:  # bignum (tags 2 / 3)
            n = obj if obj >= 0 else -1 - obj
            _encode(Tag(2 if obj >= 0 else 3, n.to_bytes((n.bit_length() + 7) // 8, "big")), out)
    elif isinstance(obj, float):
        out.write(b"\xfb" + struct.pack(">d", obj))
    elif isinstance(obj, str):
        data = obj.encode("utf-8")
        out.write(_head(3, len(data)) + data)
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        out.write(_head(2, len(data)) + data)
    elif isinstance(obj, (list, tuple)):
        out.write(_head(4, len(obj)))
        for item in obj:
            _encode(item, out)
    elif isinstance(obj, dict):
        out.write(_head(5, len(obj)))
        for key, value in obj.items():
            _encode(key, out)
            _encode(value, out)
    elif isinstance(obj, Tag):
        out.write(_head(6, obj.tag))
        _encode(obj.value, out)
    elif isinstance(obj, datetime):
        _encode(Tag(1, _epoch_number(_aware(obj).timestamp())), out)
    elif isinstance(obj, Simple):
        if obj.value < 24:
            out.write(bytes([0xE0 | obj.value]))
        else:
            out.write(bytes([0xF8, obj.value]))
    else:
        raise TypeError(f"cannot encode {type(obj).__name__} as CBOR")


def dumps(obj: Any) -> bytes:
    """Encode ``obj`` as one CBOR data item.

    Definite lengths throughout; ``float`` is always a double (0xfb), since Smithy
    decoders accept any float width for a ``double`` member but never an integer;
    ``datetime`` becomes tag 1 with epoch seconds; ``Tag`` and ``Simple`` pass through.
    """
    out = io.BytesIO()
    _encode(obj, out)
    return out.getvalue()


class _Decoder:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise CBORDecodeError(f"truncated CBOR at offset {self.pos}")
        chunk = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return chunk

    def argument(self, info: int) -> int | None:
        """The argument of the head; None for an indefinite length (31)."""
        if info < 24:
            return info
        if info == 24:
            return self.take(1)[0]
        if info == 25:
            return int(struct.unpack(">H", self.take(2))[0])
        if info == 26:
            return int(struct.unpack(">I", self.take(4))[0])
        if info == 27:
            return int(struct.unpack(">Q", self.take(8))[0])
        if info == 31:
            return None
        raise CBORDecodeError(f"reserved additional information {info} at offset {self.pos - 1}")

    def chunks(self, major: int) -> bytes:
        """Concatenate the definite-length chunks of an indefinite byte/text string."""
        parts: list[bytes] = []
        while True:
            start = self.pos
            initial = self.take(1)[0]
            if initial == 0xFF:
                return b"".join(parts)
            if initial >> 5 != major or (initial & 0x1F) == 31:
                raise CBORDecodeError(f"bad chunk in indefinite-length string at offset {start}")
            n = self.argument(initial & 0x1F)
            assert n is not None
            parts.append(self.take(n))

    def item(self, depth: int = 0, allow_break: bool = False) -> Any:
        if depth > MAX_DEPTH:
            raise CBORDecodeError("CBOR nested too deeply")
        start = self.pos
        initial = self.take(1)[0]
        major, info = initial >> 5, initial & 0x1F
        if major == 7:
            return self.simple(info, start, allow_break)
        n = self.argument(info)
        if major == 0:
            if n is None:
                raise CBORDecodeError(f"indefinite-length integer at offset {start}")
            return n
        if major == 1:
            if n is None:
                raise CBORDecodeError(f"indefinite-length integer at offset {start}")
            return -1 - n
        if major == 2:
            return self.chunks(2) if n is None else self.take(n)
        if major == 3:
            raw = self.chunks(3) if n is None else self.take(n)
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise CBORDecodeError(f"invalid UTF-8 in text string at offset {start}") from exc
        if major == 4:
            items: list[Any] = []
            if n is None:
                while (value := self.item(depth + 1, allow_break=True)) is not _BREAK:
                    items.append(value)
            else:
                for _ in range(n):
                    items.append(self.item(depth + 1))
            return items
        if major == 5:
            mapping: dict[Any, Any] = {}
            count = 0
            while n is None or count < n:
                key = self.item(depth + 1, allow_break=n is None)
                if key is _BREAK:
                    break
                try:
                    mapping[key] = self.item(depth + 1)
                except TypeError as exc:  # unhashable key (array / map)
                    raise CBORDecodeError(f"unsupported map key type at offset {start}") from exc
                count += 1
            return mapping
        # major 6: tag
        if n is None:
            raise CBORDecodeError(f"indefinite-length tag at offset {start}")
        value = self.item(depth + 1)
        if n in (2, 3) and isinstance(value, bytes):  # bignums
            big = int.from_bytes(value, "big")
            return big if n == 2 else -1 - big
        return Tag(n, value)

    def simple(self, info: int, start: int, allow_break: bool) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):  # null, undefined
            return None
        if info < 20:
            return Simple(info)
        if info == 24:
            return Simple(self.take(1)[0])
        if info == 25:
            return float(struct.unpack(">e", self.take(2))[0])
        if info == 26:
            return float(struct.unpack(">f", self.take(4))[0])
        if info == 27:
            return float(struct.unpack(">d", self.take(8))[0])
        if info == 31 and allow_break:
            return _BREAK
        raise CBORDecodeError(f"unexpected simple/break byte 0x{0xE0 | info:02x} at offset {start}")


def loads(data: bytes) -> Any:
    """Decode exactly one CBOR data item (all major types, indefinite lengths, half/single/
    double floats).  Tags other than the bignums 2/3 come back as ``Tag``."""
    dec = _Decoder(bytes(data))
    value = dec.item()
    if dec.pos != len(dec.data):
        raise CBORDecodeError(f"{len(dec.data) - dec.pos} trailing bytes after the CBOR item")
    return value


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
