"""Bedrock and Agents for Bedrock: model catalogue, guardrails, KB updates, data sources.

AWS behaviours restored:

* ``ListFoundationModels`` / ``GetFoundationModel`` return a model catalogue
  (a fixed subset of us-east-1's, incl. ``amazon.titan-embed-text-v2:0`` and
  Anthropic Claude models).  moto 5.2.5: NotImplementedError (HTTP 500).
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_ListFoundationModels.html
* Guardrails: ``CreateGuardrail`` / ``GetGuardrail`` / ``ListGuardrails`` /
  ``UpdateGuardrail`` / ``DeleteGuardrail`` / ``CreateGuardrailVersion``.
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateGuardrail.html
* Knowledge base status uses the API enum ``ACTIVE`` (moto: ``Active``), and
  ``UpdateKnowledgeBase`` exists.
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent_KnowledgeBase.html
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent_UpdateKnowledgeBase.html
* Data sources: ``CreateDataSource`` / ``GetDataSource`` / ``ListDataSources`` /
  ``UpdateDataSource`` / ``DeleteDataSource``.
  https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent_CreateDataSource.html
"""

from __future__ import annotations

import datetime
import threading
import uuid
from typing import Any

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.patches._util import wrap_method

#: (modelId, name, provider, input modalities, output modalities, streaming)
MODELS: list[tuple[str, str, str, list[str], list[str], bool]] = [
    ("amazon.titan-embed-text-v2:0", "Titan Text Embeddings V2", "Amazon", ["TEXT"], ["EMBEDDING"], False),
    ("amazon.titan-embed-text-v1", "Titan Embeddings G1 - Text", "Amazon", ["TEXT"], ["EMBEDDING"], False),
    ("amazon.titan-embed-image-v1", "Titan Multimodal Embeddings G1", "Amazon", ["TEXT", "IMAGE"], ["EMBEDDING"], False),
    ("amazon.nova-micro-v1:0", "Nova Micro", "Amazon", ["TEXT"], ["TEXT"], True),
    ("amazon.nova-lite-v1:0", "Nova Lite", "Amazon", ["TEXT", "IMAGE", "VIDEO"], ["TEXT"], True),
    ("amazon.nova-pro-v1:0", "Nova Pro", "Amazon", ["TEXT", "IMAGE", "VIDEO"], ["TEXT"], True),
    ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku", "Anthropic", ["TEXT", "IMAGE"], ["TEXT"], True),
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku", "Anthropic", ["TEXT"], ["TEXT"], True),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet", "Anthropic", ["TEXT", "IMAGE"], ["TEXT"], True),
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet v2", "Anthropic", ["TEXT", "IMAGE"], ["TEXT"], True),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet", "Anthropic", ["TEXT", "IMAGE"], ["TEXT"], True),
    ("cohere.embed-english-v3", "Embed English", "Cohere", ["TEXT"], ["EMBEDDING"], False),
    ("cohere.embed-multilingual-v3", "Embed Multilingual", "Cohere", ["TEXT"], ["EMBEDDING"], False),
    ("cohere.rerank-v3-5:0", "Rerank 3.5", "Cohere", ["TEXT"], ["TEXT"], False),
    ("meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct", "Meta", ["TEXT"], ["TEXT"], True),
    ("meta.llama3-1-70b-instruct-v1:0", "Llama 3.1 70B Instruct", "Meta", ["TEXT"], ["TEXT"], True),
    ("mistral.mistral-large-2402-v1:0", "Mistral Large (24.02)", "Mistral AI", ["TEXT"], ["TEXT"], True),
]

_lock = threading.Lock()
_guardrails: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
_data_sources: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _model(region: str, m: tuple[str, str, str, list[str], list[str], bool]) -> dict[str, Any]:
    model_id, name, provider, inp, out, streaming = m
    return {
        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/{model_id}", "modelId": model_id,
        "modelName": name, "providerName": provider, "inputModalities": inp, "outputModalities": out,
        "responseStreamingSupported": streaming, "customizationsSupported": [],
        "inferenceTypesSupported": ["ON_DEMAND"], "modelLifecycle": {"status": "ACTIVE"},
    }


@hooks.before("bedrock", "ListFoundationModels")
def list_foundation_models(ctx: hooks.Context) -> Response:
    """ListFoundationModels with the byProvider / byOutputModality / byInferenceType filters."""
    provider = (ctx.query_param("byProvider") or "").lower()
    output = ctx.query_param("byOutputModality")
    inference = ctx.query_param("byInferenceType")
    custom = ctx.query_param("byCustomizationType")
    out = []
    for m in MODELS:
        d = _model(ctx.region, m)
        if provider and d["providerName"].lower() != provider:
            continue
        if output and output not in d["outputModalities"]:
            continue
        if inference and inference not in d["inferenceTypesSupported"]:
            continue
        if custom:
            continue
        out.append(d)
    return Response.json(200, {"modelSummaries": out})


@hooks.before("bedrock", "GetFoundationModel")
def get_foundation_model(ctx: hooks.Context) -> Response:
    """GetFoundationModel by id or ARN."""
    ident = ctx.info.path_params.get("modelIdentifier", "").split("/")[-1]
    for m in MODELS:
        if m[0] == ident:
            return Response.json(200, {"modelDetails": _model(ctx.region, m)})
    return error_response("rest-json", 404, "ResourceNotFoundException", "The model specified does not exist.", "bedrock")


# ------------------------------------------------------------------ guardrails
_POLICY_MAP = {
    "topicPolicyConfig": ("topicPolicy", {"topicsConfig": "topics", "tierConfig": "tier"}),
    "contentPolicyConfig": ("contentPolicy", {"filtersConfig": "filters", "tierConfig": "tier"}),
    "wordPolicyConfig": ("wordPolicy", {"wordsConfig": "words", "managedWordListsConfig": "managedWordLists"}),
    "sensitiveInformationPolicyConfig": ("sensitiveInformationPolicy",
                                         {"piiEntitiesConfig": "piiEntities", "regexesConfig": "regexes"}),
    "contextualGroundingPolicyConfig": ("contextualGroundingPolicy", {"filtersConfig": "filters"}),
}


def _guardrail_store(ctx: hooks.Context) -> dict[str, dict[str, Any]]:
    return _guardrails.setdefault((ctx.account, ctx.region), {})


def _apply_guardrail_body(g: dict[str, Any], body: dict[str, Any]) -> None:
    for key in ("name", "description", "blockedInputMessaging", "blockedOutputsMessaging", "kmsKeyId"):
        if key in body:
            g[key] = body[key]
    for cfg, (out, members) in _POLICY_MAP.items():
        if cfg in body:
            g[out] = {members.get(k, k): v for k, v in (body[cfg] or {}).items()}
        elif cfg not in body and out in g and "name" in body:
            g.pop(out, None)


def _find_guardrail(ctx: hooks.Context) -> dict[str, Any] | None:
    ident = ctx.info.path_params.get("guardrailIdentifier", "").split("/")[-1]
    return _guardrail_store(ctx).get(ident)


@hooks.before("bedrock", "CreateGuardrail")
def create_guardrail(ctx: hooks.Context) -> Response:
    """CreateGuardrail (DRAFT version, status READY)."""
    body = ctx.json()
    with _lock:
        store = _guardrail_store(ctx)
        if any(g["name"] == body.get("name") for g in store.values()):
            return error_response("rest-json", 409, "ConflictException",
                                  f"Guardrail with name {body.get('name')} already exists.", "bedrock")
        gid = uuid.uuid4().hex[:12]
        arn = f"arn:aws:bedrock:{ctx.region}:{ctx.account}:guardrail/{gid}"
        now = _now()
        g: dict[str, Any] = {"guardrailId": gid, "guardrailArn": arn, "version": "DRAFT", "status": "READY",
                             "createdAt": now, "updatedAt": now, "_versions": 0, "_tags": body.get("tags") or []}
        _apply_guardrail_body(g, body)
        store[gid] = g
    return Response.json(202, {"guardrailId": gid, "guardrailArn": arn, "version": "DRAFT", "createdAt": now})


@hooks.before("bedrock", "GetGuardrail")
def get_guardrail(ctx: hooks.Context) -> Response:
    """GetGuardrail."""
    with _lock:
        g = _find_guardrail(ctx)
        if g is None:
            return error_response("rest-json", 404, "ResourceNotFoundException", "Guardrail not found.", "bedrock")
        view = {k: v for k, v in g.items() if not k.startswith("_")}
        version = ctx.query_param("guardrailVersion")
        if version:
            view["version"] = version
    return Response.json(200, view)


@hooks.before("bedrock", "ListGuardrails")
def list_guardrails(ctx: hooks.Context) -> Response:
    """ListGuardrails."""
    with _lock:
        items = [{"id": g["guardrailId"], "arn": g["guardrailArn"], "status": g["status"], "name": g["name"],
                  "description": g.get("description", ""), "version": g["version"], "createdAt": g["createdAt"],
                  "updatedAt": g["updatedAt"]} for g in _guardrail_store(ctx).values()]
    return Response.json(200, {"guardrails": items})


@hooks.before("bedrock", "UpdateGuardrail")
def update_guardrail(ctx: hooks.Context) -> Response:
    """UpdateGuardrail (replaces the DRAFT's configuration)."""
    with _lock:
        g = _find_guardrail(ctx)
        if g is None:
            return error_response("rest-json", 404, "ResourceNotFoundException", "Guardrail not found.", "bedrock")
        _apply_guardrail_body(g, ctx.json())
        g["updatedAt"] = _now()
    return Response.json(202, {"guardrailId": g["guardrailId"], "guardrailArn": g["guardrailArn"],
                               "version": "DRAFT", "updatedAt": g["updatedAt"]})


@hooks.before("bedrock", "CreateGuardrailVersion")
def create_guardrail_version(ctx: hooks.Context) -> Response:
    """CreateGuardrailVersion: numbered versions 1, 2, ..."""
    with _lock:
        g = _find_guardrail(ctx)
        if g is None:
            return error_response("rest-json", 404, "ResourceNotFoundException", "Guardrail not found.", "bedrock")
        g["_versions"] += 1
        version = str(g["_versions"])
    return Response.json(202, {"guardrailId": g["guardrailId"], "version": version})


@hooks.before("bedrock", "DeleteGuardrail")
def delete_guardrail(ctx: hooks.Context) -> Response:
    """DeleteGuardrail."""
    with _lock:
        g = _find_guardrail(ctx)
        if g is None:
            return error_response("rest-json", 404, "ResourceNotFoundException", "Guardrail not found.", "bedrock")
        _guardrail_store(ctx).pop(g["guardrailId"], None)
    return Response.json(202, {})


# ------------------------------------------------------------ knowledge bases
def _kb(ctx: hooks.Context) -> Any | None:
    backend = ctx.backend("bedrock-agent")
    return backend.knowledge_bases.get(ctx.info.path_params.get("knowledgeBaseId", ""))


def _kb_missing(ctx: hooks.Context) -> Response:
    kb_id = ctx.info.path_params.get("knowledgeBaseId", "")
    return error_response("rest-json", 404, "ResourceNotFoundException",
                          f"Knowledge base with id {kb_id} does not exist", "bedrock")


@hooks.before("bedrock-agent", "UpdateKnowledgeBase")
def update_knowledge_base(ctx: hooks.Context) -> Response:
    """UpdateKnowledgeBase: replaces name/description/role/configurations."""
    kb = _kb(ctx)
    if kb is None:
        return _kb_missing(ctx)
    body = ctx.json()
    kb.name = body.get("name", kb.name)
    kb.description = body.get("description")
    kb.role_arn = body.get("roleArn", kb.role_arn)
    if body.get("knowledgeBaseConfiguration"):
        kb.knowledge_base_configuration = body["knowledgeBaseConfiguration"]
    if body.get("storageConfiguration"):
        kb.storage_configuration = body["storageConfiguration"]
    from moto.core.utils import unix_time

    kb.updated_at = unix_time()
    return Response.json(202, {"knowledgeBase": kb.to_dict()})


def _ds_store(ctx: hooks.Context) -> dict[str, dict[str, Any]]:
    return _data_sources.setdefault((ctx.account, ctx.region, ctx.info.path_params.get("knowledgeBaseId", "")), {})


@hooks.before("bedrock-agent", "CreateDataSource")
def create_data_source(ctx: hooks.Context) -> Response:
    """CreateDataSource (status AVAILABLE)."""
    if _kb(ctx) is None:
        return _kb_missing(ctx)
    body = ctx.json()
    now = _now()
    ds = {"knowledgeBaseId": ctx.info.path_params["knowledgeBaseId"], "dataSourceId": uuid.uuid4().hex[:10].upper(),
          "name": body.get("name"), "status": "AVAILABLE", "createdAt": now, "updatedAt": now,
          "dataDeletionPolicy": body.get("dataDeletionPolicy") or "DELETE"}
    for key in ("description", "dataSourceConfiguration", "vectorIngestionConfiguration",
                "serverSideEncryptionConfiguration"):
        if body.get(key) is not None:
            ds[key] = body[key]
    with _lock:
        store = _ds_store(ctx)
        if any(d["name"] == ds["name"] for d in store.values()):
            return error_response("rest-json", 409, "ConflictException",
                                  f"Data source with name {ds['name']} already exists.", "bedrock")
        store[ds["dataSourceId"]] = ds
    return Response.json(200, {"dataSource": ds})


def _ds(ctx: hooks.Context) -> dict[str, Any] | None:
    return _ds_store(ctx).get(ctx.info.path_params.get("dataSourceId", ""))


def _ds_missing(ctx: hooks.Context) -> Response:
    return error_response("rest-json", 404, "ResourceNotFoundException",
                          f"Data source {ctx.info.path_params.get('dataSourceId')} does not exist", "bedrock")


@hooks.before("bedrock-agent", "GetDataSource")
def get_data_source(ctx: hooks.Context) -> Response:
    """GetDataSource."""
    with _lock:
        ds = _ds(ctx)
    return _ds_missing(ctx) if ds is None else Response.json(200, {"dataSource": ds})


@hooks.before("bedrock-agent", "UpdateDataSource")
def update_data_source(ctx: hooks.Context) -> Response:
    """UpdateDataSource."""
    body = ctx.json()
    with _lock:
        ds = _ds(ctx)
        if ds is None:
            return _ds_missing(ctx)
        for key in ("name", "description", "dataSourceConfiguration", "vectorIngestionConfiguration",
                    "dataDeletionPolicy", "serverSideEncryptionConfiguration"):
            if key in body:
                ds[key] = body[key]
        ds["updatedAt"] = _now()
    return Response.json(200, {"dataSource": ds})


@hooks.before("bedrock-agent", "ListDataSources")
def list_data_sources(ctx: hooks.Context) -> Response:
    """ListDataSources."""
    if _kb(ctx) is None:
        return _kb_missing(ctx)
    with _lock:
        items = [{k: d.get(k) for k in ("knowledgeBaseId", "dataSourceId", "name", "status", "description",
                                          "updatedAt") if d.get(k) is not None} for d in _ds_store(ctx).values()]
    return Response.json(200, {"dataSourceSummaries": items})


@hooks.before("bedrock-agent", "DeleteDataSource")
def delete_data_source(ctx: hooks.Context) -> Response:
    """DeleteDataSource."""
    with _lock:
        ds = _ds(ctx)
        if ds is None:
            return _ds_missing(ctx)
        _ds_store(ctx).pop(ds["dataSourceId"], None)
    return Response.json(202, {"knowledgeBaseId": ds["knowledgeBaseId"], "dataSourceId": ds["dataSourceId"],
                               "status": "DELETING"})


def _kb_init(original: Any, self: Any, *args: Any, **kwargs: Any) -> None:
    original(self, *args, **kwargs)
    self.status = "ACTIVE"


@hooks.on_reset
def _reset() -> None:
    with _lock:
        _guardrails.clear()
        _data_sources.clear()


def apply() -> None:
    """Fix the KB status enum."""
    from moto.bedrockagent.models import KnowledgeBase

    wrap_method(KnowledgeBase, "__init__", _kb_init)
