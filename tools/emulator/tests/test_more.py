"""VPC endpoint filter/modify, RDS Performance Insights + KMS, Cognito, OpenSearch Serverless."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from conftest import Server, make_network

NOT_IMPLEMENTED = (ClientError, ResponseParserError)


def _interface_endpoint(ec2) -> str:
    net = make_network(ec2)
    return ec2.create_vpc_endpoint(VpcId=net["vpc"], VpcEndpointType="Interface", SubnetIds=[net["subnet"]],
                                   ServiceName="com.amazonaws.us-east-1.secretsmanager",
                                   PrivateDnsEnabled=True)["VpcEndpoint"]["VpcEndpointId"]


def test_vpc_endpoint_id_filter_and_private_dns(emu: Server, moto_srv: Server) -> None:
    m = moto_srv.client("ec2")
    mid = _interface_endpoint(m)
    with pytest.raises(NOT_IMPLEMENTED):
        m.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-id", "Values": [mid]}])
    m.modify_vpc_endpoint(VpcEndpointId=mid, PrivateDnsEnabled=False)
    assert m.describe_vpc_endpoints(VpcEndpointIds=[mid])["VpcEndpoints"][0]["PrivateDnsEnabled"] is True

    ec2 = emu.client("ec2")
    eid = _interface_endpoint(ec2)
    ec2.modify_vpc_endpoint(VpcEndpointId=eid, PrivateDnsEnabled=False)
    got = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-endpoint-id", "Values": [eid]}])["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in got] == [eid] and got[0]["PrivateDnsEnabled"] is False


def _pi_instance(rds) -> dict:
    return rds.create_db_instance(DBInstanceIdentifier="pi", Engine="postgres", DBInstanceClass="db.t4g.micro",
                                  AllocatedStorage=20, MasterUsername="app", MasterUserPassword="password123",
                                  StorageEncrypted=True, EnablePerformanceInsights=True)["DBInstance"]


def test_rds_performance_insights_and_kms_arn(emu: Server, moto_srv: Server) -> None:
    plain = _pi_instance(moto_srv.client("rds"))
    assert "PerformanceInsightsEnabled" not in plain and plain["KmsKeyId"] == "default_kms_key_id"
    rds = emu.client("rds")
    d = _pi_instance(rds)
    assert d["PerformanceInsightsEnabled"] is True and d["PerformanceInsightsRetentionPeriod"] == 7
    assert d["KmsKeyId"].startswith("arn:aws:kms:us-east-1:123456789012:key/")
    d = rds.modify_db_instance(DBInstanceIdentifier="pi", EnablePerformanceInsights=False, ApplyImmediately=True)
    assert d["DBInstance"]["PerformanceInsightsEnabled"] is False


def test_cognito_deletion_protection(emu: Server, moto_srv: Server) -> None:
    m = moto_srv.client("cognito-idp")
    m.delete_user_pool(UserPoolId=m.create_user_pool(PoolName="p", DeletionProtection="ACTIVE")["UserPool"]["Id"])
    idp = emu.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="p", DeletionProtection="ACTIVE")["UserPool"]["Id"]
    with pytest.raises(ClientError) as exc:
        idp.delete_user_pool(UserPoolId=pool)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    idp.update_user_pool(UserPoolId=pool, DeletionProtection="INACTIVE")
    idp.delete_user_pool(UserPoolId=pool)


def test_cognito_identity_pool_roles(emu: Server, moto_srv: Server) -> None:
    roles = {"authenticated": "arn:aws:iam::123456789012:role/auth",
             "unauthenticated": "arn:aws:iam::123456789012:role/unauth"}
    m = moto_srv.client("cognito-identity")
    mp = m.create_identity_pool(IdentityPoolName="ip", AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
    with pytest.raises(NOT_IMPLEMENTED):
        m.set_identity_pool_roles(IdentityPoolId=mp, Roles=roles)
    ci = emu.client("cognito-identity")
    pool = ci.create_identity_pool(IdentityPoolName="ip", AllowUnauthenticatedIdentities=False)["IdentityPoolId"]
    ci.set_identity_pool_roles(IdentityPoolId=pool, Roles=roles)
    got = ci.get_identity_pool_roles(IdentityPoolId=pool)
    assert got["Roles"] == roles and got["IdentityPoolId"] == pool


ENC = {"Rules": [{"ResourceType": "collection", "Resource": ["collection/kb*"]}], "AWSOwnedKey": True}
NET = [{"Rules": [{"ResourceType": "collection", "Resource": ["collection/kb-vectors"]}], "AllowFromPublic": True}]
DATA = [{"Rules": [{"ResourceType": "index", "Resource": ["index/kb-vectors/*"], "Permission": ["aoss:*"]}],
         "Principal": ["arn:aws:iam::123456789012:role/kb"]}]


def test_opensearch_serverless_access_policy_and_collection(emu: Server, moto_srv: Server) -> None:
    m = moto_srv.client("opensearchserverless")
    m.create_security_policy(name="enc", type="encryption", policy=json.dumps(ENC))
    with pytest.raises(NOT_IMPLEMENTED):
        m.create_collection(name="kb-vectors", type="VECTORSEARCH")
    with pytest.raises(NOT_IMPLEMENTED):
        m.create_access_policy(name="data", type="data", policy=json.dumps(DATA))

    aoss = emu.client("opensearchserverless")
    aoss.create_security_policy(name="enc", type="encryption", policy=json.dumps(ENC))
    aoss.create_security_policy(name="net", type="network", policy=json.dumps(NET))
    col = aoss.create_collection(name="kb-vectors", type="VECTORSEARCH")["createCollectionDetail"]
    assert col["kmsKeyArn"] == "auto"
    p = aoss.create_access_policy(name="data", type="data", policy=json.dumps(DATA))["accessPolicyDetail"]
    got = aoss.get_access_policy(name="data", type="data")["accessPolicyDetail"]
    assert got["policy"] == DATA and got["policyVersion"] == p["policyVersion"]
    assert [s["name"] for s in aoss.list_access_policies(type="data")["accessPolicySummaries"]] == ["data"]
    u = aoss.update_access_policy(name="data", type="data", policyVersion=p["policyVersion"],
                                  description="d")["accessPolicyDetail"]
    assert u["policyVersion"] != p["policyVersion"]
    with pytest.raises(ClientError):
        aoss.update_access_policy(name="data", type="data", policyVersion=p["policyVersion"], description="x")
    aoss.delete_access_policy(name="data", type="data")
    assert aoss.list_access_policies(type="data")["accessPolicySummaries"] == []


def test_eks_updates_and_access_entries(emu: Server, moto_srv: Server) -> None:
    from test_services import ROLE, _eks_cluster

    m_eks = moto_srv.client("eks")
    _eks_cluster(m_eks, moto_srv.client("ec2"))
    with pytest.raises(NOT_IMPLEMENTED):
        m_eks.create_access_entry(clusterName="c1", principalArn="arn:aws:iam::123456789012:role/admin")
    assert "update" not in m_eks.update_cluster_config(name="c1", logging={"clusterLogging": [
        {"types": ["api"], "enabled": True}]})

    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0})
    eks = emu.client("eks")
    c = _eks_cluster(eks, emu.client("ec2"))
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.003})  # cluster update 0.9 s
    upd = eks.update_cluster_config(name="c1", resourcesVpcConfig={"endpointPublicAccess": True})["update"]
    assert upd["status"] == "InProgress" and upd["type"] == "EndpointAccessUpdate"
    assert eks.describe_cluster(name="c1")["cluster"]["status"] == "UPDATING"
    assert eks.list_updates(name="c1")["updateIds"] == [upd["id"]]
    eks.get_waiter("cluster_active").wait(name="c1", WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})
    assert eks.describe_update(name="c1", updateId=upd["id"])["update"]["status"] == "Successful"

    role = "arn:aws:iam::123456789012:role/admin"
    entry = eks.create_access_entry(clusterName="c1", principalArn=role, kubernetesGroups=["ops"])["accessEntry"]
    assert entry["type"] == "STANDARD" and entry["username"].endswith("assumed-role/admin/{{SessionName}}")
    assert eks.describe_access_entry(clusterName="c1", principalArn=role)["accessEntry"]["kubernetesGroups"] == ["ops"]
    policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    eks.associate_access_policy(clusterName="c1", principalArn=role, policyArn=policy, accessScope={"type": "cluster"})
    assert eks.list_access_entries(clusterName="c1", associatedPolicyArn=policy)["accessEntries"] == [role]
    pols = eks.list_associated_access_policies(clusterName="c1", principalArn=role)["associatedAccessPolicies"]
    assert [p["policyArn"] for p in pols] == [policy]
    eks.disassociate_access_policy(clusterName="c1", principalArn=role, policyArn=policy)
    eks.delete_access_entry(clusterName="c1", principalArn=role)
    assert eks.list_access_entries(clusterName="c1")["accessEntries"] == []
    assert policy in [p["arn"] for p in eks.list_access_policies()["accessPolicies"]]
    _ = (c, ROLE)


def test_elasticache_and_opensearch_lifecycles(emu: Server, moto_srv: Server) -> None:
    def rg(ec) -> dict:
        return ec.create_replication_group(ReplicationGroupId="redis1", ReplicationGroupDescription="r",
                                           Engine="redis", CacheNodeType="cache.t4g.small",
                                           NumCacheClusters=2)["ReplicationGroup"]

    m = moto_srv.client("elasticache")
    assert rg(m)["Status"] == "available"
    m.delete_replication_group(ReplicationGroupId="redis1")
    assert m.describe_replication_groups()["ReplicationGroups"][0]["Status"] == "deleting"  # forever

    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.002})  # create 1.2 s, modify 0.24 s, delete 0.6 s
    ec = emu.client("elasticache")
    ec.describe_replication_groups()
    assert rg(ec)["Status"] == "creating"
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId="redis1",
                                                      WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})
    mod = ec.modify_replication_group(ReplicationGroupId="redis1", CacheNodeType="cache.t4g.medium",
                                      ApplyImmediately=True)["ReplicationGroup"]
    assert mod["Status"] == "modifying"
    import time

    time.sleep(0.3)
    assert ec.delete_replication_group(ReplicationGroupId="redis1")["ReplicationGroup"]["Status"] == "deleting"
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId="redis1",
                                                    WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})

    os_client = emu.client("opensearch")
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0})
    os_client.create_domain(DomainName="search", EngineVersion="OpenSearch_2.13")
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.001})  # delete 0.6 s
    d = os_client.delete_domain(DomainName="search")["DomainStatus"]
    assert d["Deleted"] is True
    assert os_client.describe_domain(DomainName="search")["DomainStatus"]["Deleted"] is True
    time.sleep(0.7)
    with pytest.raises(ClientError) as exc:
        os_client.describe_domain(DomainName="search")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"
