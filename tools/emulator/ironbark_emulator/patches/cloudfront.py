"""CloudFront: deployment status, OAC on origins, ETags, cache / response-headers policies.

AWS behaviours restored:

* A created or updated distribution is ``InProgress`` for minutes, then
  ``Deployed``.  moto: ``Deployed`` on the first read.
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_Distribution.html
* ``Origins[].OriginAccessControlId`` is stored and returned (moto drops it).
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_Origin.html
* Every update returns a new ``ETag``; ``UpdateDistribution`` /
  ``DeleteDistribution`` with a stale ``IfMatch`` fail with
  ``PreconditionFailed`` (412); deleting an enabled distribution fails with
  ``DistributionNotDisabled`` (409).  moto: ETag never changes, any IfMatch ok.
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_UpdateDistribution.html
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_DeleteDistribution.html
* Cache policies and response headers policies (create/get/get-config/list/
  update/delete, incl. the AWS-managed ones such as Managed-CachingOptimized).
  moto: HTTP 404.
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateCachePolicy.html
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateResponseHeadersPolicy.html
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
"""

from __future__ import annotations

import datetime
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from ironbark_emulator import clock, hooks, lifecycle
from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.patches._util import wrap_method

NS = "http://cloudfront.amazonaws.com/doc/2020-05-31/"


def _new_etag() -> str:
    return uuid.uuid4().hex[:14].upper()


# ---------------------------------------------------------------- distributions
def _status_get(self: Any) -> str:
    t = self.__dict__.get("_ib_status")
    if isinstance(t, clock.Transition):
        return t.current()
    return self.__dict__.get("_ib_status_plain", "Deployed")


def _status_set(self: Any, value: str) -> None:
    self.__dict__["_ib_status_plain"] = value
    self.__dict__.pop("_ib_status", None)


def _deploy(dist: Any) -> None:
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(dist, "status", "InProgress", "Deployed", "cloudfront_deploy")
    else:
        dist.__dict__.pop("_ib_status", None)


def _create_distribution(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    dist, location, etag = original(self, *args, **kwargs)
    _deploy(dist)
    return dist, location, etag


def _update_distribution(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    dist, location, _ = original(self, *args, **kwargs)
    dist.etag = _new_etag()
    _deploy(dist)
    return dist, location, dist.etag


def _origin_init(original: Any, self: Any, origin: dict[str, Any]) -> None:
    original(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


def _if_match(ctx: hooks.Context) -> str | None:
    return ctx.environ.get("HTTP_IF_MATCH")


@hooks.before("cloudfront", "UpdateDistribution", "DeleteDistribution")
def check_if_match(ctx: hooks.Context) -> Response | None:
    """Optimistic concurrency on distributions (and no deleting enabled ones)."""
    backend = ctx.backend("cloudfront")
    dist = backend.distributions.get(ctx.info.path_params.get("Id", ""))
    if dist is None:
        return None  # moto answers NoSuchDistribution
    given = _if_match(ctx)
    if given is None:
        return error_response("rest-xml", 400, "InvalidIfMatchVersion",
                              "The If-Match version is missing or not valid for the resource.", "cloudfront")
    if given != dist.etag:
        return error_response("rest-xml", 412, "PreconditionFailed",
                              "The precondition given in one or more of the request-header fields evaluated to false.",
                              "cloudfront")
    if ctx.info.operation == "DeleteDistribution":
        if getattr(dist.distribution_config, "Enabled", False) in (True, "true", "True"):
            return error_response("rest-xml", 409, "DistributionNotDisabled",
                                  "The distribution you are trying to delete has not been disabled.", "cloudfront")
        if dist.status != "Deployed":
            return error_response("rest-xml", 409, "DistributionNotDisabled",
                                  "The distribution you are trying to delete is still being deployed.", "cloudfront")
    return None


# ------------------------------------------------------------------- policies
@dataclass
class _Kind:
    element: str  # CachePolicy / ResponseHeadersPolicy
    path: str  # cache-policy / response-headers-policy

    @property
    def config(self) -> str:
        return f"{self.element}Config"


CACHE = _Kind("CachePolicy", "cache-policy")
RHP = _Kind("ResponseHeadersPolicy", "response-headers-policy")

_TTL_PARAMS = ("<ParametersInCacheKeyAndForwardedToOrigin><EnableAcceptEncodingGzip>{gz}</EnableAcceptEncodingGzip>"
               "<EnableAcceptEncodingBrotli>{gz}</EnableAcceptEncodingBrotli><HeadersConfig><HeaderBehavior>none"
               "</HeaderBehavior></HeadersConfig><CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>"
               "<QueryStringsConfig><QueryStringBehavior>none</QueryStringBehavior></QueryStringsConfig>"
               "</ParametersInCacheKeyAndForwardedToOrigin>")


def _cache_cfg(name: str, comment: str, ttl: tuple[int, int, int], gz: bool) -> str:
    return (f"<CachePolicyConfig><Comment>{comment}</Comment><Name>{name}</Name><DefaultTTL>{ttl[1]}</DefaultTTL>"
            f"<MaxTTL>{ttl[2]}</MaxTTL><MinTTL>{ttl[0]}</MinTTL>" + _TTL_PARAMS.format(gz=str(gz).lower())
            + "</CachePolicyConfig>")


MANAGED: dict[str, dict[str, str]] = {
    "CachePolicy": {
        "658327ea-f89d-4fab-a63d-7e88639e58f6": _cache_cfg(
            "Managed-CachingOptimized", "Policy with caching enabled. Supports Gzip and Brotli compression.",
            (1, 86400, 31536000), True),
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": _cache_cfg(
            "Managed-CachingDisabled", "Policy with caching disabled", (0, 0, 0), False),
        "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": _cache_cfg(
            "Managed-CachingOptimizedForUncompressedObjects",
            "Default policy when compression is disabled", (1, 86400, 31536000), False),
    },
    "ResponseHeadersPolicy": {
        "67f7725c-6f97-4210-82d7-5512b31e9d03": (
            "<ResponseHeadersPolicyConfig><Comment>Adds a set of security headers to every response</Comment>"
            "<Name>Managed-SecurityHeadersPolicy</Name><SecurityHeadersConfig><XSSProtection><Override>false"
            "</Override><Protection>true</Protection><ModeBlock>true</ModeBlock></XSSProtection><FrameOptions>"
            "<Override>false</Override><FrameOption>SAMEORIGIN</FrameOption></FrameOptions><ReferrerPolicy>"
            "<Override>false</Override><ReferrerPolicy>strict-origin-when-cross-origin</ReferrerPolicy>"
            "</ReferrerPolicy><ContentTypeOptions><Override>true</Override></ContentTypeOptions>"
            "<StrictTransportSecurity><Override>false</Override><IncludeSubdomains>false</IncludeSubdomains>"
            "<Preload>false</Preload><AccessControlMaxAgeSec>31536000</AccessControlMaxAgeSec>"
            "</StrictTransportSecurity></SecurityHeadersConfig></ResponseHeadersPolicyConfig>"),
        "60669652-455b-4ae9-85a4-c4c02393f86c": (
            "<ResponseHeadersPolicyConfig><Comment>Allows all origins for simple CORS requests</Comment>"
            "<Name>Managed-SimpleCORS</Name><CorsConfig><AccessControlAllowOrigins><Quantity>1</Quantity><Items>"
            "<Origin>*</Origin></Items></AccessControlAllowOrigins><AccessControlAllowHeaders><Quantity>1</Quantity>"
            "<Items><Header>*</Header></Items></AccessControlAllowHeaders><AccessControlAllowMethods><Quantity>1"
            "</Quantity><Items><Method>ALL</Method></Items></AccessControlAllowMethods>"
            "<AccessControlAllowCredentials>false</AccessControlAllowCredentials><OriginOverride>false"
            "</OriginOverride></CorsConfig></ResponseHeadersPolicyConfig>"),
    },
}

_lock = threading.Lock()
#: (account, kind element) -> {id: {"config": xml, "etag": str, "modified": str}}
_policies: dict[tuple[str, str], dict[str, dict[str, str]]] = {}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _config_xml(body: bytes, kind: _Kind) -> str | None:
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    if root.tag.split("}")[-1] != kind.config:
        return None
    for el in root.iter():
        el.tag = el.tag.split("}")[-1]
    return ET.tostring(root, encoding="unicode")


def _name(config: str) -> str:
    m = re.search(r"<Name>([^<]*)</Name>", config)
    return m.group(1) if m else ""


def _store(ctx: hooks.Context, kind: _Kind) -> dict[str, dict[str, str]]:
    return _policies.setdefault((ctx.account, kind.element), {})


def _lookup(ctx: hooks.Context, kind: _Kind, pid: str) -> tuple[str, dict[str, str]] | None:
    """(type, record) for a custom or managed policy id."""
    rec = _store(ctx, kind).get(pid)
    if rec is not None:
        return "custom", rec
    cfg = MANAGED[kind.element].get(pid)
    if cfg is not None:
        return "managed", {"config": cfg, "etag": "E23ZP02F085DFQ", "modified": "2020-06-16T00:00:00.000Z"}
    return None


def _policy_xml(kind: _Kind, pid: str, rec: dict[str, str]) -> str:
    return (f"<{kind.element}><Id>{pid}</Id><LastModifiedTime>{rec['modified']}</LastModifiedTime>"
            f"{rec['config']}</{kind.element}>")


def _xml(status: int, inner: str, etag: str | None = None, location: str | None = None) -> Response:
    text = '<?xml version="1.0"?>\n' + inner.replace(">", f' xmlns="{NS}">', 1)
    headers = [("Content-Type", "text/xml")]
    if etag:
        headers.append(("ETag", etag))
    if location:
        headers.append(("Location", location))
    return Response(status, text.encode(), headers)


def _no_such(kind: _Kind, pid: str) -> Response:
    return error_response("rest-xml", 404, f"NoSuch{kind.element}", f"The {kind.path} {pid} does not exist.", "cloudfront")


def _kind_of(ctx: hooks.Context) -> _Kind:
    return CACHE if "CachePolic" in ctx.info.operation else RHP


@hooks.before("cloudfront", "CreateCachePolicy", "CreateResponseHeadersPolicy")
def create_policy(ctx: hooks.Context) -> Response:
    """Create a custom policy; names are unique per account (incl. managed names)."""
    kind = _kind_of(ctx)
    config = _config_xml(ctx.body, kind)
    if config is None:
        return error_response("rest-xml", 400, "MalformedInput", f"{kind.config} is missing or malformed.", "cloudfront")
    name = _name(config)
    with _lock:
        store = _store(ctx, kind)
        names = {_name(r["config"]) for r in store.values()} | {_name(c) for c in MANAGED[kind.element].values()}
        if name in names:
            return error_response("rest-xml", 409, f"{kind.element}AlreadyExists",
                                  f"A {kind.path} with this name already exists.", "cloudfront")
        pid = str(uuid.uuid4())
        rec = {"config": config, "etag": _new_etag(), "modified": _now()}
        store[pid] = rec
    return _xml(201, _policy_xml(kind, pid, rec), rec["etag"],
                f"https://cloudfront.amazonaws.com/2020-05-31/{kind.path}/{pid}")


@hooks.before("cloudfront", "GetCachePolicy", "GetResponseHeadersPolicy",
              "GetCachePolicyConfig", "GetResponseHeadersPolicyConfig")
def get_policy(ctx: hooks.Context) -> Response:
    """Get a policy or its config."""
    kind = _kind_of(ctx)
    pid = ctx.info.path_params.get("Id", "")
    with _lock:
        found = _lookup(ctx, kind, pid)
    if found is None:
        return _no_such(kind, pid)
    _, rec = found
    if ctx.info.operation.endswith("Config"):
        return _xml(200, rec["config"], rec["etag"])
    return _xml(200, _policy_xml(kind, pid, rec), rec["etag"])


@hooks.before("cloudfront", "ListCachePolicies", "ListResponseHeadersPolicies")
def list_policies(ctx: hooks.Context) -> Response:
    """List managed and/or custom policies (``Type`` filter)."""
    kind = _kind_of(ctx)
    wanted = ctx.query_param("Type")
    items: list[tuple[str, str, dict[str, str]]] = []
    with _lock:
        if wanted in (None, "managed"):
            for pid in MANAGED[kind.element]:
                found = _lookup(ctx, kind, pid)
                assert found is not None
                items.append(("managed", pid, found[1]))
        if wanted in (None, "custom"):
            items += [("custom", pid, rec) for pid, rec in _store(ctx, kind).items()]
    body = "".join(f"<{kind.element}Summary><Type>{t}</Type>{_policy_xml(kind, pid, rec)}</{kind.element}Summary>"
                   for t, pid, rec in items)
    inner = (f"<{kind.element}List><MaxItems>100</MaxItems><Quantity>{len(items)}</Quantity>"
             f"<Items>{body}</Items></{kind.element}List>")
    return _xml(200, inner)


@hooks.before("cloudfront", "UpdateCachePolicy", "UpdateResponseHeadersPolicy")
def update_policy(ctx: hooks.Context) -> Response:
    """Update a custom policy (If-Match must be the current ETag)."""
    kind = _kind_of(ctx)
    pid = ctx.info.path_params.get("Id", "")
    config = _config_xml(ctx.body, kind)
    with _lock:
        found = _lookup(ctx, kind, pid)
        if found is None:
            return _no_such(kind, pid)
        ptype, rec = found
        if ptype == "managed":
            return error_response("rest-xml", 403, "AccessDenied", "Managed policies cannot be modified.", "cloudfront")
        if ctx.environ.get("HTTP_IF_MATCH") != rec["etag"]:
            return error_response("rest-xml", 412, "PreconditionFailed",
                                  "The precondition given in one or more of the request-header fields evaluated to false.",
                                  "cloudfront")
        if config is None:
            return error_response("rest-xml", 400, "MalformedInput", f"{kind.config} is missing.", "cloudfront")
        rec.update(config=config, etag=_new_etag(), modified=_now())
    return _xml(200, _policy_xml(kind, pid, rec), rec["etag"])


@hooks.before("cloudfront", "DeleteCachePolicy", "DeleteResponseHeadersPolicy")
def delete_policy(ctx: hooks.Context) -> Response:
    """Delete a custom policy (If-Match must be the current ETag)."""
    kind = _kind_of(ctx)
    pid = ctx.info.path_params.get("Id", "")
    with _lock:
        found = _lookup(ctx, kind, pid)
        if found is None:
            return _no_such(kind, pid)
        if found[0] == "managed":
            return error_response("rest-xml", 403, "AccessDenied", "Managed policies cannot be deleted.", "cloudfront")
        if ctx.environ.get("HTTP_IF_MATCH") != found[1]["etag"]:
            return error_response("rest-xml", 412, "PreconditionFailed",
                                  "The precondition given in one or more of the request-header fields evaluated to false.",
                                  "cloudfront")
        _store(ctx, kind).pop(pid, None)
    return Response(204, b"", [])


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _policies.clear()


def apply() -> None:
    """Install the distribution patches."""
    from moto.cloudfront.models import CloudFrontBackend, Distribution, Origin

    if not getattr(Distribution, "_ironbark", False):
        Distribution.status = property(_status_get, _status_set)  # type: ignore[assignment]
        Distribution._ironbark = True  # type: ignore[attr-defined]
    wrap_method(CloudFrontBackend, "create_distribution_with_tags", _create_distribution)
    wrap_method(CloudFrontBackend, "update_distribution", _update_distribution)
    wrap_method(Origin, "__init__", _origin_init)
