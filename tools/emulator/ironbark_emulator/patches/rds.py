"""RDS: instance/cluster lifecycles, Data API (HTTP endpoint) switch.

AWS behaviours restored:

* ``CreateDBInstance`` returns ``creating``; the instance becomes ``available``
  after ~8 min (Aurora cluster members ~7 min).  moto: ``available`` at once.
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html
  https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html#Overview.DBInstance.Status
* ``ModifyDBInstance`` / ``ModifyDBCluster`` with changes put the resource in
  ``modifying`` for a while.  moto: never.
* ``DeleteDBInstance`` / ``DeleteDBCluster`` leave the resource visible as
  ``deleting`` before it disappears.  moto: gone at once.
* ``CreateDBCluster`` is ``creating`` for ~7 min.  moto: ``available`` on the first read.
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
* ``EnablePerformanceInsights`` is stored and reported (``PerformanceInsightsEnabled``,
  retention, KMS key); encrypted storage without a key reports the ARN of the
  account's ``aws/rds`` key instead of moto's ``default_kms_key_id`` placeholder.
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html
* ``EnableHttpEndpoint=True`` on an Aurora PostgreSQL/MySQL provisioned or
  Serverless v2 cluster turns the Data API on (moto only honours Serverless v1
  with a few old versions), and ``EnableHttpEndpoint`` / ``DisableHttpEndpoint``
  exist (moto: NotImplementedError, HTTP 500).
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_EnableHttpEndpoint.html
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.html
"""

from __future__ import annotations

import uuid
from typing import Any

from ironbark_emulator import clock, hooks, lifecycle
from ironbark_emulator.errors import Response, error_response

#: Engines whose clusters support the RDS Data API.
DATA_API_ENGINES = ("aurora-postgresql", "aurora-mysql")


def _status_rule(obj: Any, value: str) -> tuple[str, str, str] | None:
    if value == "deleting":
        key = "aurora_cluster_delete" if type(obj).__name__ == "DBCluster" else "rds_instance_delete"
        return ("deleting", "deleted", key)
    return None


def _deleted(obj: Any) -> bool:
    t = lifecycle.LazyStatus.transition(obj, "status")
    return t is not None and t.after == "deleted" and t.done()


def _purge(store: dict[str, Any]) -> None:
    """Drop resources whose 'deleting' phase is over."""
    for key, obj in list(store.items()):
        if _deleted(obj):
            store.pop(key, None)


def find_cluster_by_arn(arn: str, account: str, region: str) -> Any | None:
    """The moto DBCluster with this ARN (or identifier), if any."""
    from moto.rds.models import rds_backends

    backend = rds_backends[account][region]
    for cluster in backend.clusters.values():
        if cluster.db_cluster_arn == arn or cluster.db_cluster_identifier == arn:
            return cluster
    return None


def _wrap(cls: type, name: str, fn: Any) -> None:
    original = getattr(cls, name)
    if getattr(original, "_ironbark", False):
        return

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        return fn(original, self, *args, **kwargs)

    wrapper._ironbark = True  # type: ignore[attr-defined]
    wrapper.__doc__ = original.__doc__
    setattr(cls, name, wrapper)


def aws_managed_rds_key(account: str, region: str) -> str:
    """ARN of the account's AWS-managed ``aws/rds`` KMS key (deterministic id)."""
    return f"arn:aws:kms:{region}:{account}:key/{uuid.uuid5(uuid.NAMESPACE_URL, f'aws/rds/{account}/{region}')}"


def _fix_instance_fields(backend: Any, db: Any, db_kwargs: dict[str, Any]) -> None:
    """PerformanceInsights* and a real-looking default KMS key ARN (moto: ignored / a placeholder)."""
    if "enable_performance_insights" in db_kwargs:
        enabled = db_kwargs.get("enable_performance_insights") in (True, "true", "True")
        db.performance_insights_enabled = enabled
        if enabled:
            db.performance_insights_retention_period = int(
                db_kwargs.get("performance_insights_retention_period") or 7)
            db.performance_insights_kms_key_id = (db_kwargs.get("performance_insights_kms_key_id")
                                                  or aws_managed_rds_key(backend.account_id, backend.region_name))
    elif not hasattr(db, "performance_insights_enabled"):
        db.performance_insights_enabled = False
    if getattr(db, "kms_key_id", None) == "default_kms_key_id":
        db.kms_key_id = aws_managed_rds_key(backend.account_id, backend.region_name)


def _create_db_instance(original: Any, self: Any, db_kwargs: dict[str, Any]) -> Any:
    _purge(self.databases)
    db = original(self, db_kwargs)
    _fix_instance_fields(self, db, db_kwargs)
    key = "aurora_instance_create" if getattr(db, "db_cluster_identifier", None) else "rds_instance_create"
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(db, "status", "creating", "available", key)
    return db


def _modify_db_instance(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    db = original(self, *args, **kwargs)
    db_kwargs = kwargs.get("db_kwargs") or (args[1] if len(args) > 1 else {})
    _fix_instance_fields(self, db, db_kwargs)
    changes = {k for k, v in db_kwargs.items() if v is not None} - {"db_instance_identifier", "apply_immediately"}
    if changes and clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(db, "status", "modifying", "available", "rds_instance_modify")
    return db


def _delete_db_instance(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    db = original(self, *args, **kwargs)
    if clock.get_time_scale() > 0:
        db.status = "deleting"
        self.databases[db.db_instance_identifier] = db  # stays visible as 'deleting' until purged
    return db


def _describe_db_instances(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    _purge(self.databases)
    return original(self, *args, **kwargs)


def _create_db_cluster(original: Any, self: Any, kwargs: dict[str, Any]) -> Any:
    _purge(self.clusters)
    cluster = original(self, kwargs)
    if getattr(cluster, "kms_key_id", None) == "default_kms_key_id":
        cluster.kms_key_id = aws_managed_rds_key(self.account_id, self.region_name)
    if clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(cluster, "status", "creating", "available", "aurora_cluster_create")
    else:
        cluster.status = "available"
    return cluster


def _modify_db_cluster(original: Any, self: Any, kwargs: dict[str, Any]) -> Any:
    # moto overwrites kwargs["db_cluster_identifier"] with the new identifier (None when the
    # cluster is not renamed): read both before calling it.
    cluster_id = kwargs.get("new_db_cluster_identifier") or kwargs["db_cluster_identifier"]
    changes = {k for k, v in kwargs.items() if v is not None} - {
        "db_cluster_identifier",
        "apply_immediately",
    }
    original(self, kwargs)
    cluster = self.clusters[cluster_id]
    if changes and clock.get_time_scale() > 0:
        lifecycle.LazyStatus.begin(cluster, "status", "modifying", "available", "aurora_cluster_modify")
    else:
        cluster.status = "available"
    return cluster


def _delete_db_cluster(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    cluster = original(self, *args, **kwargs)
    if clock.get_time_scale() > 0:
        cluster.status = "deleting"
        self.clusters[cluster.db_cluster_identifier] = cluster
    return cluster


def _describe_db_clusters(original: Any, self: Any, *args: Any, **kwargs: Any) -> Any:
    _purge(self.clusters)
    return original(self, *args, **kwargs)


def _http_endpoint_getter(self: Any) -> bool:
    return bool(self.__dict__.get("_enable_http_endpoint", False))


def _http_endpoint_setter(self: Any, val: Any) -> None:
    if val is None:
        self.__dict__.setdefault("_enable_http_endpoint", False)
        return
    if isinstance(val, str):
        val = val.lower() == "true"
    engine = getattr(self, "engine", "")
    self.__dict__["_enable_http_endpoint"] = bool(val) and engine in DATA_API_ENGINES


def _http_endpoint_response(action: str, arn: str, enabled: bool) -> Response:
    rid = str(uuid.uuid4())
    xml = (f'<{action}Response xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><{action}Result>'
           f"<ResourceArn>{arn}</ResourceArn><HttpEndpointEnabled>{str(enabled).lower()}</HttpEndpointEnabled>"
           f"</{action}Result><ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{action}Response>")
    return Response.xml(200, xml)


@hooks.before("rds", "EnableHttpEndpoint", "DisableHttpEndpoint")
def http_endpoint(ctx: hooks.Context) -> Response | None:
    """EnableHttpEndpoint / DisableHttpEndpoint for Aurora clusters."""
    arn = ctx.params.get("ResourceArn", "")
    cluster = find_cluster_by_arn(arn, ctx.account, ctx.region)
    if cluster is None:
        return error_response("query", 404, "DBClusterNotFoundFault", f"DBCluster {arn} not found.")
    enable = ctx.info.operation == "EnableHttpEndpoint"
    if enable and cluster.engine not in DATA_API_ENGINES:
        return error_response("query", 400, "InvalidParameterValue",
                              f"The Data API isn't supported for engine {cluster.engine}.")
    cluster.enable_http_endpoint = enable
    return _http_endpoint_response(ctx.info.operation, cluster.db_cluster_arn, enable)


def apply() -> None:
    """Install the model patches."""
    from moto.rds.models import DBCluster, DBInstance, RDSBackend

    lifecycle.install(DBInstance, "status", _status_rule)
    # DBCluster has its own 'status' property (creating -> available on first read); replace it.
    if not isinstance(DBCluster.__dict__.get("status"), lifecycle.LazyStatus):
        DBCluster.status = lifecycle.LazyStatus("status", _status_rule, fallback="_status")  # type: ignore[assignment]
        DBCluster.enable_http_endpoint = property(_http_endpoint_getter, _http_endpoint_setter)  # type: ignore
    _wrap(RDSBackend, "create_db_instance", _create_db_instance)
    _wrap(RDSBackend, "modify_db_instance", _modify_db_instance)
    _wrap(RDSBackend, "delete_db_instance", _delete_db_instance)
    _wrap(RDSBackend, "describe_db_instances", _describe_db_instances)
    _wrap(RDSBackend, "create_db_cluster", _create_db_cluster)
    _wrap(RDSBackend, "modify_db_cluster", _modify_db_cluster)
    _wrap(RDSBackend, "delete_db_cluster", _delete_db_cluster)
    _wrap(RDSBackend, "describe_db_clusters", _describe_db_clusters)
