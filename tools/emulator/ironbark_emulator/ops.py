"""Identify the AWS service and operation of an incoming request.

* JSON protocols: ``X-Amz-Target: Prefix.Operation``.
* query / ec2 protocols: ``Action=`` in the form body or the query string.
* smithy-rpc-v2-cbor (CloudWatch): ``/service/<Svc>/operation/<Op>``.
* rest-json / rest-xml: ``(method, path, query keys)`` matched against the
  ``http.requestUri`` templates of botocore's service models (shipped with moto).

The service name is the SigV4 credential-scope service (``ec2``, ``s3``,
``monitoring``, ``rds-data``, ...), as the contract requires.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session

#: Signing names whose botocore model names differ (or that several models share).
SIGNING_ALIASES: dict[str, list[str]] = {
    "monitoring": ["cloudwatch"],
    "es": ["opensearch"],
    "bedrock": ["bedrock", "bedrock-agent", "bedrock-runtime", "bedrock-agent-runtime"],
    "elasticloadbalancing": ["elbv2", "elb"],
    "email": ["sesv2", "ses"],
    "states": ["stepfunctions"],
    "aoss": ["opensearchserverless"],
    "apigateway": ["apigateway", "apigatewayv2"],
    "execute-api": ["apigatewaymanagementapi"],
    "cognito-identity": ["cognito-identity"],
    "servicediscovery": ["servicediscovery"],
    "events": ["events"],
    "eks": ["eks"],
}

READ_PREFIXES = (
    "Describe", "Get", "List", "Head", "Lookup", "Search", "Check", "Query",
    "Scan", "BatchGet", "Select", "Estimate", "Preview", "Validate", "Test",
)
#: Operations that are reads although their name says otherwise.
EXPLICIT_READ_SET = {
    ("sts", "GetCallerIdentity"),
    ("sts", "GetSessionToken"),
    ("dynamodb", "Query"),
    ("dynamodb", "Scan"),
    ("dynamodb", "BatchGetItem"),
    ("dynamodb", "TransactGetItems"),
    ("sqs", "ReceiveMessage"),
    ("logs", "FilterLogEvents"),
    ("logs", "StartQuery"),
    ("kms", "Decrypt"),
    ("sts", "AssumeRole"),
    ("sts", "AssumeRoleWithWebIdentity"),
}
#: Operations whose name looks like a read but that change state.
EXPLICIT_WRITE_SET: set[tuple[str, str]] = set()


def classify(service: str, operation: str) -> str:
    """Return ``"read"`` or ``"write"`` for an operation."""
    if (service, operation) in EXPLICIT_READ_SET:
        return "read"
    if (service, operation) in EXPLICIT_WRITE_SET:
        return "write"
    if operation.startswith(READ_PREFIXES):
        return "read"
    if operation.startswith("Batch") and "Get" in operation:
        return "read"
    return "write"


@dataclass
class OpInfo:
    """What we know about one request."""

    service: str
    operation: str
    protocol: str
    region: str = "us-east-1"
    model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    path_params: dict[str, str] = field(default_factory=dict)

    @property
    def op_class(self) -> str:
        """read / write."""
        return classify(self.service, self.operation)


@dataclass
class _RestOp:
    name: str
    method: str
    regex: re.Pattern[str]
    query_keys: dict[str, str | None]
    score: int
    headers: tuple[str, ...] = ()


class _ModelIndex:
    """Lazily loaded botocore service models, keyed by model name."""

    def __init__(self) -> None:
        self._session = botocore.session.get_session()
        self._lock = threading.Lock()
        self._protocol: dict[str, str] = {}
        self._rest: dict[str, list[_RestOp]] = {}
        self._by_signing: dict[str, list[str]] | None = None

    def models_for(self, signing: str) -> list[str]:
        """Model names that sign with ``signing``."""
        if signing in SIGNING_ALIASES:
            return SIGNING_ALIASES[signing]
        available = self._available()
        if signing in available:
            return [signing]
        with self._lock:
            if self._by_signing is None:
                index: dict[str, list[str]] = {}
                for name in available:
                    try:
                        meta = self._session.get_service_model(name).metadata
                    except Exception:  # pragma: no cover - broken model
                        continue
                    sig = meta.get("signingName") or meta.get("endpointPrefix") or name
                    index.setdefault(sig, []).append(name)
                self._by_signing = index
        return self._by_signing.get(signing, [])

    def _available(self) -> list[str]:
        if not hasattr(self, "_avail"):
            self._avail = self._session.get_available_services()
        return self._avail

    def protocol(self, model: str) -> str:
        """The model's wire protocol (first of ``protocols`` botocore uses)."""
        if model not in self._protocol:
            try:
                meta = self._session.get_service_model(model).metadata
                self._protocol[model] = meta.get("protocol", "json")
            except Exception:
                self._protocol[model] = "json"
        return self._protocol[model]

    def rest_ops(self, model: str) -> list[_RestOp]:
        """Compiled requestUri templates of a rest-json/rest-xml model."""
        with self._lock:
            if model in self._rest:
                return self._rest[model]
        ops: list[_RestOp] = []
        sm = self._session.get_service_model(model)
        for name in sm.operation_names:
            http = sm.operation_model(name).http
            uri = http.get("requestUri", "/")
            path, _, query = uri.partition("?")
            pattern = ""
            literal = 0
            for part in re.split(r"(\{[^}]+\})", path):
                if part.startswith("{"):
                    pattern += "(?P<%s>.+)" % re.sub(r"\W", "_", part[1:-1].rstrip("+")) if part.endswith("+}") else "(?P<%s>[^/]+)" % re.sub(r"\W", "_", part[1:-1])
                else:
                    pattern += re.escape(part)
                    literal += len(part)
            if pattern.endswith("/") and len(pattern) > 1:
                pattern = pattern[:-1]
            qk: dict[str, str | None] = {}
            for item in filter(None, query.split("&")):
                k, eq, v = item.partition("=")
                qk[k] = v if eq else None
            # Required header members tell e.g. CopyObject (x-amz-copy-source) from PutObject;
            # required query-string members tell AbortMultipartUpload (?uploadId=) from
            # DeleteObject, which share method and path.
            hdrs: list[str] = []
            shape = sm.operation_model(name).input_shape
            if shape is not None:
                for member in shape.required_members:
                    ms = shape.members[member]
                    if ms.serialization.get("location") == "header":
                        hdrs.append("HTTP_" + ms.serialization.get("name", member).upper().replace("-", "_"))
                    elif ms.serialization.get("location") == "querystring":
                        qk.setdefault(ms.serialization.get("name", member), None)
            ops.append(_RestOp(name, http.get("method", "POST"), re.compile("^" + pattern + "/?$"), qk,
                               literal * 10 + len(qk) * 5 + len(hdrs), tuple(hdrs)))
        ops.sort(key=lambda o: -o.score)
        with self._lock:
            self._rest[model] = ops
        return ops


INDEX = _ModelIndex()


def _credential_scope(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = re.search(r"Credential=([^/]+)/(\d+)/([^/]+)/([^/]+)/aws4_request", auth)
    if m:
        return m.group(4).lower(), m.group(3)
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    cred = qs.get("X-Amz-Credential", [""])[0]
    parts = cred.split("/")
    if len(parts) == 5:
        return parts[3], parts[2]
    return None, None


def parse_form(body: bytes) -> dict[str, str]:
    """Parse an x-www-form-urlencoded body into a flat dict."""
    try:
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    except Exception:
        return {}


def identify(environ: dict[str, Any], body: bytes) -> OpInfo | None:
    """Work out service, operation and protocol; None if it is not an AWS call."""
    service, region = _credential_scope(environ)
    target = environ.get("HTTP_X_AMZ_TARGET")
    path = environ.get("PATH_INFO", "") or "/"
    if isinstance(path, bytes):
        path = path.decode("utf-8", "replace")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    ctype = environ.get("CONTENT_TYPE", "") or ""
    region = region or "us-east-1"
    if service is None:
        if target:
            service = {"AWSCognitoIdentityProviderService": "cognito-idp",
                       "AWSCognitoIdentityService": "cognito-identity"}.get(target.split(".")[0])
        if service is None:
            form = parse_form(body) if "x-www-form-urlencoded" in ctype else {}
            if form.get("Action") in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
                service = "sts"
        if service is None:
            return None
    models = INDEX.models_for(service)
    model = models[0] if models else None
    if target:
        op = target.split(".")[-1]
        return OpInfo(service, op, "json", region, model)
    m = re.match(r"^/service/([^/]+)/operation/([^/]+)$", path)
    if m and environ.get("HTTP_SMITHY_PROTOCOL"):
        return OpInfo(service, m.group(2), "smithy-rpc-v2-cbor", region, model)
    form = parse_form(body) if "x-www-form-urlencoded" in ctype else {}
    action = form.get("Action") or (query.get("Action", [None])[0])
    if action:
        proto = "ec2" if service == "ec2" else "query"
        params = form if form else {k: v[0] for k, v in query.items()}
        return OpInfo(service, action, proto, region, model, params)
    method = environ.get("REQUEST_METHOD", "GET").upper()
    # Match against the raw (still percent-encoded) path so that encoded '/' in a
    # label (e.g. an IAM ARN as EKS principalArn) stays inside one segment.
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        raw_path = raw.split("?", 1)[0]
        if raw_path.startswith("http://") or raw_path.startswith("https://"):
            raw_path = "/" + raw_path.split("/", 3)[-1]
        path = raw_path or path
    best: tuple[int, str, str, dict[str, str]] | None = None
    for name in models:
        proto = INDEX.protocol(name)
        if proto not in ("rest-json", "rest-xml"):
            continue
        for op in INDEX.rest_ops(name):
            if op.method != method:
                continue
            mm = op.regex.match(path)
            if not mm:
                continue
            if any(k not in query or (v is not None and query[k][0] != v) for k, v in op.query_keys.items()):
                continue
            if any(h not in environ for h in op.headers):
                continue
            if best is None or op.score > best[0]:
                best = (op.score, name, op.name, {k: unquote(v) for k, v in mm.groupdict().items()})
            break
    if best:
        _, name, opname, pp = best
        # Service stays the SigV4 signing name (bedrock-agent signs as "bedrock");
        # ``model`` tells the botocore model actually matched.
        return OpInfo(service, opname, INDEX.protocol(name), region, name, path_params=pp)
    proto = INDEX.protocol(model) if model else "rest-json"
    return OpInfo(service, f"{method.title()}Unknown", proto, region, model)
