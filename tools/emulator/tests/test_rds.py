"""RDS lifecycles, EnableHttpEndpoint and the real rds-data Data API."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from conftest import Server

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-creds"


def _instance(rds, ident: str = "db1") -> dict:
    return rds.create_db_instance(DBInstanceIdentifier=ident, Engine="postgres", EngineVersion="16.3",
                                  DBInstanceClass="db.t4g.micro", AllocatedStorage=20, MasterUsername="app",
                                  MasterUserPassword="password123")["DBInstance"]


def _cluster(rds, ident: str = "kb", **kw) -> dict:
    return rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", EngineVersion="16.4",
                                 MasterUsername="app", MasterUserPassword="password123",
                                 ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 4}, **kw)["DBCluster"]


def test_plain_moto_rds_instance_available_at_once(moto_srv: Server) -> None:
    assert _instance(moto_srv.client("rds"))["DBInstanceStatus"] == "available"


def test_rds_instance_creating_modifying_deleting(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.004})  # create 1.9 s, modify 0.5 s, delete 1.2 s
    rds = emu.client("rds")
    rds.describe_db_instances()  # warm up the freshly reset account
    assert _instance(rds)["DBInstanceStatus"] == "creating"
    assert rds.describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]["DBInstanceStatus"] == "creating"
    rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier="db1", WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})
    mod = rds.modify_db_instance(DBInstanceIdentifier="db1", DBInstanceClass="db.t4g.small", ApplyImmediately=True)
    assert mod["DBInstance"]["DBInstanceStatus"] == "modifying"
    time.sleep(0.6)
    assert rds.describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]["DBInstanceStatus"] == "available"
    assert rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)["DBInstance"]["DBInstanceStatus"] == "deleting"
    assert rds.describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]["DBInstanceStatus"] == "deleting"
    rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier="db1", WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})
    with pytest.raises(ClientError) as exc:
        rds.describe_db_instances(DBInstanceIdentifier="db1")
    assert exc.value.response["Error"]["Code"] == "DBInstanceNotFound"


def test_aurora_cluster_creating_then_available(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.005})  # 2.1 s
    rds = emu.client("rds")
    assert _cluster(rds)["Status"] == "creating"
    for _ in range(2):
        assert rds.describe_db_clusters(DBClusterIdentifier="kb")["DBClusters"][0]["Status"] == "creating"
    time.sleep(2.2)
    assert rds.describe_db_clusters(DBClusterIdentifier="kb")["DBClusters"][0]["Status"] == "available"


def test_aurora_cluster_modify_without_rename(emu: Server) -> None:
    """ModifyDBCluster without NewDBClusterIdentifier (the usual case) goes modifying ->
    available and keeps the change (our wrapper used to read the identifier moto had
    overwritten with None)."""
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.005})  # modify: 0.3 s
    rds = emu.client("rds")
    _cluster(rds, "acu")
    time.sleep(2.2)
    c = rds.modify_db_cluster(
        DBClusterIdentifier="acu",
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 8},
        ApplyImmediately=True,
    )["DBCluster"]
    assert c["Status"] == "modifying"
    time.sleep(0.4)
    c = rds.describe_db_clusters(DBClusterIdentifier="acu")["DBClusters"][0]
    assert c["Status"] == "available"
    assert c["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == 8


def test_plain_moto_http_endpoint_not_supported(moto_srv: Server) -> None:
    rds = moto_srv.client("rds")
    c = _cluster(rds, EnableHttpEndpoint=True)
    assert c["HttpEndpointEnabled"] is False
    with pytest.raises((ClientError, ResponseParserError)):  # HTTP 500 NotImplementedError page
        rds.enable_http_endpoint(ResourceArn=c["DBClusterArn"])


def test_http_endpoint_enable(emu: Server) -> None:
    rds = emu.client("rds")
    assert _cluster(rds, "a", EnableHttpEndpoint=True)["HttpEndpointEnabled"] is True
    c = _cluster(rds, "b")
    assert c["HttpEndpointEnabled"] is False
    r = rds.enable_http_endpoint(ResourceArn=c["DBClusterArn"])
    assert r["HttpEndpointEnabled"] is True and r["ResourceArn"] == c["DBClusterArn"]
    assert rds.describe_db_clusters(DBClusterIdentifier="b")["DBClusters"][0]["HttpEndpointEnabled"] is True
    rds.disable_http_endpoint(ResourceArn=c["DBClusterArn"])
    assert rds.describe_db_clusters(DBClusterIdentifier="b")["DBClusters"][0]["HttpEndpointEnabled"] is False


def test_plain_moto_rds_data_runs_no_sql(moto_srv: Server) -> None:
    data = moto_srv.client("rds-data")
    r = data.execute_statement(resourceArn="arn:aws:rds:us-east-1:123456789012:cluster:nope", secretArn=SECRET,
                               sql="SELECT 1")
    assert r["records"] == []


def test_rds_data_pgvector_roundtrip(emu: Server) -> None:
    rds, data = emu.client("rds"), emu.client("rds-data")
    arn = _cluster(rds, "vec")["DBClusterArn"]

    def ex(sql: str, **kw):
        return data.execute_statement(resourceArn=arn, secretArn=SECRET, sql=sql, **kw)

    with pytest.raises(ClientError) as exc:
        ex("SELECT 1")
    assert exc.value.response["Error"]["Code"] == "BadRequestException"
    assert "HttpEndpoint is not enabled" in exc.value.response["Error"]["Message"]
    rds.enable_http_endpoint(ResourceArn=arn)
    ex("CREATE EXTENSION IF NOT EXISTS vector")
    ex("CREATE TABLE docs (id bigserial PRIMARY KEY, title text, embedding vector(3), score float8, "
       "active boolean, tags text[])")
    r = ex("INSERT INTO docs (title, embedding, score, active, tags) VALUES (:t, CAST(:e AS vector), :s, :a, ARRAY['x'])",
           parameters=[{"name": "t", "value": {"stringValue": "near"}},
                       {"name": "e", "value": {"stringValue": "[1,1,1]"}},
                       {"name": "s", "value": {"doubleValue": 0.5}},
                       {"name": "a", "value": {"booleanValue": True}}])
    assert r["numberOfRecordsUpdated"] == 1
    b = data.batch_execute_statement(
        resourceArn=arn, secretArn=SECRET,
        sql="INSERT INTO docs (title, embedding) VALUES (:t, CAST(:e AS vector))",
        parameterSets=[[{"name": "t", "value": {"stringValue": "far"}}, {"name": "e", "value": {"stringValue": "[9,9,9]"}}],
                       [{"name": "t", "value": {"isNull": True}}, {"name": "e", "value": {"stringValue": "[2,2,2]"}}]])
    assert len(b["updateResults"]) == 2
    r = ex("SELECT id, title, embedding, score, active, tags FROM docs ORDER BY embedding <-> CAST(:q AS vector)",
           parameters=[{"name": "q", "value": {"stringValue": "[1,1,1]"}}], includeResultMetadata=True)
    assert r["numberOfRecordsUpdated"] == 0
    assert r["records"][0] == [{"longValue": 1}, {"stringValue": "near"}, {"stringValue": "[1,1,1]"},
                               {"doubleValue": 0.5}, {"booleanValue": True}, {"arrayValue": {"stringValues": ["x"]}}]
    assert [row[1] for row in r["records"]] == [{"stringValue": "near"}, {"isNull": True}, {"stringValue": "far"}]
    meta = {m["name"]: (m["typeName"], m["type"]) for m in r["columnMetadata"]}
    assert meta["id"] == ("int8", -5) and meta["title"] == ("text", 12) and meta["embedding"][0] == "vector"
    # transactions
    tx = data.begin_transaction(resourceArn=arn, secretArn=SECRET)["transactionId"]
    ex("DELETE FROM docs", transactionId=tx)
    assert data.rollback_transaction(resourceArn=arn, secretArn=SECRET, transactionId=tx)["transactionStatus"] == "Rollback Complete"
    assert ex("SELECT count(*) AS n FROM docs", formatRecordsAs="JSON")["formattedRecords"] == '[{"n": 3}]'
    tx = data.begin_transaction(resourceArn=arn, secretArn=SECRET)["transactionId"]
    ex("DELETE FROM docs WHERE title = 'far'", transactionId=tx)
    data.commit_transaction(resourceArn=arn, secretArn=SECRET, transactionId=tx)
    assert ex("SELECT count(*) FROM docs")["records"] == [[{"longValue": 2}]]
    with pytest.raises(ClientError) as exc:
        ex("SELECT * FROM missing_table")
    assert "SQLState: 42P01" in exc.value.response["Error"]["Message"]


def test_rds_data_one_database_per_cluster(emu: Server) -> None:
    rds, data = emu.client("rds"), emu.client("rds-data")
    a = _cluster(rds, "one", EnableHttpEndpoint=True)["DBClusterArn"]
    b = _cluster(rds, "two", EnableHttpEndpoint=True)["DBClusterArn"]
    data.execute_statement(resourceArn=a, secretArn=SECRET, sql="CREATE TABLE t (x int)")
    with pytest.raises(ClientError):
        data.execute_statement(resourceArn=b, secretArn=SECRET, sql="SELECT * FROM t")
