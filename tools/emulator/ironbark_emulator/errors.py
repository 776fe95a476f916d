"""AWS error responses in each wire protocol.

botocore parses errors differently per protocol, so an injected fault or an
emulator-side validation error must use the format of the service it imitates:

* ec2: ``<Response><Errors><Error><Code>..`` (EC2 API error format)
* query: ``<ErrorResponse><Error><Type/><Code/><Message/></Error>``
* json / smithy-rpc-v2-cbor: body ``{"__type": code, "message": ..}``
* rest-json: ``x-amzn-ErrorType`` header + JSON body
* rest-xml: ``<ErrorResponse><Error>..`` (CloudFront/Route 53) or ``<Error>`` (S3)
"""

from __future__ import annotations

import json
import struct
import uuid
from dataclasses import dataclass, field
from xml.sax.saxutils import escape


@dataclass
class Response:
    """A complete HTTP response produced by the emulator itself."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    @staticmethod
    def json(status: int, obj: object, extra: list[tuple[str, str]] | None = None,
             content_type: str = "application/json") -> "Response":
        """JSON response helper."""
        body = json.dumps(obj, default=str).encode()
        return Response(status, body, [("Content-Type", content_type)] + (extra or []))

    @staticmethod
    def xml(status: int, text: str) -> "Response":
        """XML response helper."""
        return Response(status, text.encode(), [("Content-Type", "text/xml")])


def _cbor_text(s: str) -> bytes:
    data = s.encode()
    n = len(data)
    if n < 24:
        head = bytes([0x60 + n])
    elif n < 256:
        head = bytes([0x78, n])
    elif n < 65536:
        head = bytes([0x79]) + struct.pack(">H", n)
    else:
        head = bytes([0x7A]) + struct.pack(">I", n)
    return head + data


def cbor_map(obj: dict[str, str]) -> bytes:
    """Minimal CBOR encoder for a small map of strings (error bodies only)."""
    out = bytes([0xA0 + len(obj)])
    for k, v in obj.items():
        out += _cbor_text(k) + _cbor_text(v)
    return out


def error_response(protocol: str, status: int, code: str, message: str,
                   service: str = "", sender: bool = True) -> Response:
    """Build an AWS error response for ``protocol``."""
    rid = str(uuid.uuid4())
    msg = escape(message)
    if protocol == "ec2":
        text = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
                f"<Message>{msg}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>")
        return Response(status, text.encode(), [("Content-Type", "text/xml;charset=UTF-8")])
    if protocol == "query":
        kind = "Sender" if sender else "Receiver"
        text = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{msg}</Message>"
                f"</Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return Response(status, text.encode(), [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)])
    if protocol == "rest-xml":
        if service == "s3":
            text = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{msg}</Message>"
                    f"<RequestId>{rid}</RequestId></Error>")
        else:
            kind = "Sender" if sender else "Receiver"
            text = (f"<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
                    f"<Message>{msg}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
        return Response(status, text.encode(), [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)])
    if protocol == "smithy-rpc-v2-cbor":
        return Response(status, cbor_map({"__type": code, "message": message}),
                        [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                         ("x-amzn-RequestId", rid)])
    if protocol == "rest-json":
        body = json.dumps({"message": message, "Message": message}).encode()
        return Response(status, body, [("Content-Type", "application/json"), ("x-amzn-ErrorType", code),
                                       ("x-amzn-RequestId", rid)])
    body = json.dumps({"__type": code, "message": message}).encode()
    return Response(status, body, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", rid)])


def throttle_code(service: str, protocol: str) -> tuple[int, str]:
    """The (status, code) a throttled call to ``service`` gets in real AWS."""
    if service == "ec2":
        return 503, "RequestLimitExceeded"
    if service == "s3":
        return 503, "SlowDown"
    if service == "dynamodb":
        return 400, "ThrottlingException"
    if protocol in ("query", "rest-xml"):
        return 400, "Throttling"
    return 400, "ThrottlingException"


def server_error_code(status: int, protocol: str) -> str:
    """Error code for an injected 5xx."""
    if status == 503:
        return "ServiceUnavailable"
    return "InternalFailure" if protocol in ("json", "rest-json", "smithy-rpc-v2-cbor") else "InternalError"
