"""ElastiCache subnet group changes, replica counts, member clusters, reader endpoint;
DynamoDB UpdateTable SSESpecification."""

from __future__ import annotations


import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from conftest import Server

NOT_IMPLEMENTED = (ClientError, ResponseParserError)


def _subnets(srv: Server) -> list[str]:
    ec2 = srv.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{az}")
            ["Subnet"]["SubnetId"] for i, az in ((1, "a"), (2, "b"), (3, "c"))]


def _group(ec, nodes: int, **kw) -> dict:
    return ec.create_replication_group(ReplicationGroupId="redis1", ReplicationGroupDescription="r",
                                       Engine="redis", EngineVersion="7.1", CacheNodeType="cache.t4g.small",
                                       NumCacheClusters=nodes, AutomaticFailoverEnabled=nodes > 1,
                                       MultiAZEnabled=nodes > 1, **kw)["ReplicationGroup"]


def _code(exc: pytest.ExceptionInfo) -> str:
    return exc.value.response["Error"]["Code"]


def test_plain_moto_cache_subnet_group_changes_not_implemented(moto_srv: Server) -> None:
    ec = moto_srv.client("elasticache")
    s = _subnets(moto_srv)
    ec.create_cache_subnet_group(CacheSubnetGroupName="sg1", CacheSubnetGroupDescription="d", SubnetIds=s[:2])
    with pytest.raises(NOT_IMPLEMENTED):
        ec.modify_cache_subnet_group(CacheSubnetGroupName="sg1", SubnetIds=s)
    with pytest.raises(NOT_IMPLEMENTED):
        ec.delete_cache_subnet_group(CacheSubnetGroupName="sg1")


def test_cache_subnet_group_modify_and_delete(emu: Server) -> None:
    ec = emu.client("elasticache")
    s = _subnets(emu)
    ec.create_cache_subnet_group(CacheSubnetGroupName="sg1", CacheSubnetGroupDescription="d", SubnetIds=s[:2])
    got = ec.modify_cache_subnet_group(CacheSubnetGroupName="sg1", CacheSubnetGroupDescription="d2",
                                       SubnetIds=s)["CacheSubnetGroup"]
    assert got["CacheSubnetGroupDescription"] == "d2"
    desc = ec.describe_cache_subnet_groups(CacheSubnetGroupName="sg1")["CacheSubnetGroups"][0]
    assert sorted(x["SubnetIdentifier"] for x in desc["Subnets"]) == sorted(s)
    assert desc["CacheSubnetGroupDescription"] == "d2"

    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0})
    _group(ec, 1, CacheSubnetGroupName="sg1")
    with pytest.raises(ClientError) as exc:
        ec.delete_cache_subnet_group(CacheSubnetGroupName="sg1")
    assert _code(exc) == "CacheSubnetGroupInUse"
    ec.delete_replication_group(ReplicationGroupId="redis1")
    ec.delete_cache_subnet_group(CacheSubnetGroupName="sg1")
    with pytest.raises(ClientError) as exc:
        ec.describe_cache_subnet_groups(CacheSubnetGroupName="sg1")
    assert _code(exc) == "CacheSubnetGroupNotFoundFault"
    with pytest.raises(ClientError) as exc:
        ec.delete_cache_subnet_group(CacheSubnetGroupName="sg1")
    assert _code(exc) == "CacheSubnetGroupNotFoundFault"


def test_plain_moto_replica_counts_members_and_reader(moto_srv: Server) -> None:
    ec = moto_srv.client("elasticache")
    rg = _group(ec, 2)
    assert "ReaderEndpoint" not in rg["NodeGroups"][0]
    with pytest.raises(ClientError):  # CacheClusterNotFound
        ec.describe_cache_clusters(CacheClusterId=rg["MemberClusters"][0])
    with pytest.raises(NOT_IMPLEMENTED):
        ec.increase_replica_count(ReplicationGroupId="redis1", NewReplicaCount=2, ApplyImmediately=True)
    with pytest.raises(NOT_IMPLEMENTED):
        ec.decrease_replica_count(ReplicationGroupId="redis1", NewReplicaCount=0, ApplyImmediately=True)


def test_member_clusters_and_reader_endpoint(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0})
    ec = emu.client("elasticache")
    s = _subnets(emu)
    ec.create_cache_subnet_group(CacheSubnetGroupName="sg1", CacheSubnetGroupDescription="d", SubnetIds=s)
    rg = _group(ec, 2, CacheSubnetGroupName="sg1", SecurityGroupIds=["sg-1"],
                PreferredMaintenanceWindow="mon:03:00-mon:04:00")
    ng = rg["NodeGroups"][0]
    assert ng["ReaderEndpoint"]["Address"].startswith("replica.")
    assert ng["ReaderEndpoint"]["Port"] == 6379
    for cid in rg["MemberClusters"]:
        c = ec.describe_cache_clusters(CacheClusterId=cid)["CacheClusters"][0]
        assert c["ReplicationGroupId"] == "redis1"
        assert c["EngineVersion"] == "7.1"
        assert c["CacheSubnetGroupName"] == "sg1"
        assert [g["SecurityGroupId"] for g in c["SecurityGroups"]] == ["sg-1"]
        assert c["PreferredMaintenanceWindow"] == "mon:03:00-mon:04:00"
        assert c["CacheClusterStatus"] == "available"
        assert c["CacheNodeType"] == "cache.t4g.small"
    listed = {c["CacheClusterId"] for c in ec.describe_cache_clusters()["CacheClusters"]}
    assert listed == set(rg["MemberClusters"])

    ec.modify_replication_group(ReplicationGroupId="redis1", EngineVersion="7.2", SecurityGroupIds=["sg-2", "sg-3"],
                                PreferredMaintenanceWindow="tue:03:00-tue:04:00", ApplyImmediately=True)
    c = ec.describe_cache_clusters(CacheClusterId="redis1-001")["CacheClusters"][0]
    assert c["EngineVersion"] == "7.2"
    assert [g["SecurityGroupId"] for g in c["SecurityGroups"]] == ["sg-2", "sg-3"]
    assert c["PreferredMaintenanceWindow"] == "tue:03:00-tue:04:00"
    with pytest.raises(ClientError) as exc:
        ec.describe_cache_clusters(CacheClusterId="redis1-009")
    assert _code(exc) == "CacheClusterNotFound"


def test_replica_count_changes(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0})
    ec = emu.client("elasticache")
    _group(ec, 1)
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.002})  # modify 0.24 s
    waiter = ec.get_waiter("replication_group_available")

    def wait() -> dict:
        waiter.wait(ReplicationGroupId="redis1", WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
        return ec.describe_replication_groups(ReplicationGroupId="redis1")["ReplicationGroups"][0]

    with pytest.raises(ClientError) as exc:  # failover needs a replica
        ec.modify_replication_group(ReplicationGroupId="redis1", AutomaticFailoverEnabled=True, ApplyImmediately=True)
    assert _code(exc) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as exc:
        ec.increase_replica_count(ReplicationGroupId="redis1", NewReplicaCount=2, ApplyImmediately=False)
    assert _code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec.increase_replica_count(ReplicationGroupId="redis1", NewReplicaCount=6, ApplyImmediately=True)
    assert _code(exc) == "InvalidParameterValue"

    rg = ec.increase_replica_count(ReplicationGroupId="redis1", NewReplicaCount=2,
                                   ApplyImmediately=True)["ReplicationGroup"]
    assert rg["Status"] == "modifying"
    assert rg["MemberClusters"] == ["redis1-001", "redis1-002", "redis1-003"]
    assert [m["CacheClusterId"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]] == rg["MemberClusters"]
    assert [m["CurrentRole"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]] == ["primary", "replica", "replica"]
    with pytest.raises(ClientError) as exc:  # still modifying
        ec.decrease_replica_count(ReplicationGroupId="redis1", NewReplicaCount=1, ApplyImmediately=True)
    assert _code(exc) == "InvalidReplicationGroupState"
    assert ec.describe_cache_clusters(CacheClusterId="redis1-003")["CacheClusters"][0]["CacheClusterStatus"] == "modifying"
    assert wait()["Status"] == "available"

    ec.modify_replication_group(ReplicationGroupId="redis1", AutomaticFailoverEnabled=True, MultiAZEnabled=True,
                                ApplyImmediately=True)
    rg = wait()
    assert (rg["AutomaticFailover"], rg["MultiAZ"]) == ("enabled", "enabled")
    with pytest.raises(ClientError) as exc:  # failover and Multi-AZ need a replica
        ec.decrease_replica_count(ReplicationGroupId="redis1", NewReplicaCount=0, ApplyImmediately=True)
    assert _code(exc) == "InvalidParameterCombination"
    with pytest.raises(ClientError) as exc:  # Multi-AZ needs failover
        ec.modify_replication_group(ReplicationGroupId="redis1", AutomaticFailoverEnabled=False, ApplyImmediately=True)
    assert _code(exc) == "InvalidParameterCombination"

    rg = ec.decrease_replica_count(ReplicationGroupId="redis1", ReplicasToRemove=["redis1-002"],
                                   ApplyImmediately=True)["ReplicationGroup"]
    assert rg["MemberClusters"] == ["redis1-001", "redis1-003"]
    wait()
    ec.modify_replication_group(ReplicationGroupId="redis1", AutomaticFailoverEnabled=False, MultiAZEnabled=False,
                                ApplyImmediately=True)
    wait()
    rg = ec.decrease_replica_count(ReplicationGroupId="redis1", NewReplicaCount=0,
                                   ApplyImmediately=True)["ReplicationGroup"]
    assert rg["MemberClusters"] == ["redis1-001"]
    assert [m["CurrentRole"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]] == ["primary"]
    rg = wait()
    assert rg["MemberClusters"] == ["redis1-001"]
    with pytest.raises(ClientError) as exc:
        ec.describe_cache_clusters(CacheClusterId="redis1-003")
    assert _code(exc) == "CacheClusterNotFound"


def _table(ddb) -> None:
    ddb.create_table(TableName="t1", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])


def test_plain_moto_update_table_ignores_sse(moto_srv: Server) -> None:
    ddb = moto_srv.client("dynamodb")
    _table(ddb)
    ddb.update_table(TableName="t1", SSESpecification={"Enabled": True, "SSEType": "KMS"})
    assert "SSEDescription" not in ddb.describe_table(TableName="t1")["Table"]


def test_update_table_sse_specification(emu: Server) -> None:
    ddb = emu.client("dynamodb")
    kms = emu.client("kms")
    _table(ddb)
    assert "SSEDescription" not in ddb.describe_table(TableName="t1")["Table"]
    ddb.update_table(TableName="t1", SSESpecification={"Enabled": True, "SSEType": "KMS"})
    sse = ddb.describe_table(TableName="t1")["Table"]["SSEDescription"]
    assert (sse["Status"], sse["SSEType"]) == ("ENABLED", "KMS")
    assert sse["KMSMasterKeyArn"] == kms.describe_key(KeyId="alias/aws/dynamodb")["KeyMetadata"]["Arn"]

    key = kms.create_key()["KeyMetadata"]
    ddb.update_table(TableName="t1", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key["KeyId"]})
    assert ddb.describe_table(TableName="t1")["Table"]["SSEDescription"]["KMSMasterKeyArn"] == key["Arn"]

    ddb.update_table(TableName="t1", SSESpecification={"Enabled": False})
    assert "SSEDescription" not in ddb.describe_table(TableName="t1")["Table"]
