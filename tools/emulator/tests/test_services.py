"""EKS, CloudFront, OpenSearch, Beanstalk, ACM, CloudWatch, Logs, Bedrock, ECS, Route 53, ElastiCache."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from conftest import Server, make_network

ROLE = "arn:aws:iam::123456789012:role/eks"
NOT_IMPLEMENTED = (ClientError, ResponseParserError)


def _eks_cluster(eks, ec2, name: str = "c1") -> dict:
    net = make_network(ec2)
    sg = ec2.create_security_group(GroupName="eks", Description="x", VpcId=net["vpc"])["GroupId"]
    return eks.create_cluster(name=name, roleArn=ROLE, resourcesVpcConfig={
        "subnetIds": [net["subnet"]], "securityGroupIds": [sg], "endpointPrivateAccess": True,
        "endpointPublicAccess": False})["cluster"]


# ---------------------------------------------------------------------- EKS
def test_plain_moto_eks_active_at_once_and_no_addons(moto_srv: Server) -> None:
    eks, ec2 = moto_srv.client("eks"), moto_srv.client("ec2")
    assert _eks_cluster(eks, ec2)["status"] == "ACTIVE"
    with pytest.raises(NOT_IMPLEMENTED):
        eks.create_addon(clusterName="c1", addonName="vpc-cni")
    eks.update_cluster_config(name="c1", resourcesVpcConfig={"endpointPublicAccess": True})
    assert "subnetIds" not in eks.describe_cluster(name="c1")["cluster"]["resourcesVpcConfig"] or \
        not eks.describe_cluster(name="c1")["cluster"]["resourcesVpcConfig"].get("subnetIds")


def test_eks_cluster_nodegroup_addon_lifecycle(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.002})  # cluster 1.44 s, nodegroup 0.48 s
    eks, ec2 = emu.client("eks"), emu.client("ec2")
    c = _eks_cluster(eks, ec2)
    assert c["status"] == "CREATING"
    with pytest.raises(ClientError) as exc:
        eks.create_nodegroup(clusterName="c1", nodegroupName="ng", nodeRole=ROLE,
                             subnets=c["resourcesVpcConfig"]["subnetIds"])
    assert exc.value.response["Error"]["Code"] == "InvalidRequestException"
    eks.get_waiter("cluster_active").wait(name="c1", WaiterConfig={"Delay": 0.3, "MaxAttempts": 30})
    ng = eks.create_nodegroup(clusterName="c1", nodegroupName="ng", nodeRole=ROLE,
                              subnets=c["resourcesVpcConfig"]["subnetIds"])["nodegroup"]
    assert ng["status"] == "CREATING"
    eks.get_waiter("nodegroup_active").wait(clusterName="c1", nodegroupName="ng",
                                            WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})
    # partial update keeps subnets and security groups
    eks.update_cluster_config(name="c1", resourcesVpcConfig={"endpointPublicAccess": True})
    eks.get_waiter("cluster_active").wait(name="c1", WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})
    vpc = eks.describe_cluster(name="c1")["cluster"]["resourcesVpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["subnetIds"] and vpc["securityGroupIds"]
    # add-ons
    versions = eks.describe_addon_versions(addonName="vpc-cni")["addons"][0]["addonVersions"]
    a = eks.create_addon(clusterName="c1", addonName="vpc-cni", addonVersion=versions[0]["addonVersion"])["addon"]
    assert a["status"] == "CREATING"
    assert eks.list_addons(clusterName="c1")["addons"] == ["vpc-cni"]
    time.sleep(0.2)
    assert eks.describe_addon(clusterName="c1", addonName="vpc-cni")["addon"]["status"] == "ACTIVE"
    assert eks.update_addon(clusterName="c1", addonName="vpc-cni", addonVersion=versions[1]["addonVersion"])["update"]["status"] == "InProgress"
    assert eks.delete_addon(clusterName="c1", addonName="vpc-cni")["addon"]["status"] == "DELETING"
    time.sleep(0.2)
    assert eks.list_addons(clusterName="c1")["addons"] == []
    # deletes: nodegroup DELETING then gone, then cluster DELETING then gone
    assert eks.delete_nodegroup(clusterName="c1", nodegroupName="ng")["nodegroup"]["status"] == "DELETING"
    with pytest.raises(ClientError):
        eks.delete_cluster(name="c1")  # nodegroup still deleting
    time.sleep(0.55)
    assert eks.list_nodegroups(clusterName="c1")["nodegroups"] == []
    assert eks.delete_cluster(name="c1")["cluster"]["status"] == "DELETING"
    assert eks.describe_cluster(name="c1")["cluster"]["status"] == "DELETING"
    eks.get_waiter("cluster_deleted").wait(name="c1", WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})


# --------------------------------------------------------------- CloudFront
def _dist_config(oac: str, ref: str = "r1") -> dict:
    return {"CallerReference": ref, "Comment": "c", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": "b.s3.us-east-1.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""},
                                                  "OriginAccessControlId": oac}]},
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}}


def _oac(cf) -> str:
    return cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "oac", "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"]


def test_plain_moto_cloudfront_bugs(moto_srv: Server) -> None:
    cf = moto_srv.client("cloudfront")
    d = cf.create_distribution(DistributionConfig=_dist_config(_oac(cf)))
    did = d["Distribution"]["Id"]
    assert not d["Distribution"]["DistributionConfig"]["Origins"]["Items"][0].get("OriginAccessControlId")
    assert cf.get_distribution(Id=did)["Distribution"]["Status"] == "Deployed"
    conf = cf.get_distribution_config(Id=did)
    u = cf.update_distribution(Id=did, IfMatch="WRONG", DistributionConfig=conf["DistributionConfig"])
    assert u["ETag"] == conf["ETag"]
    with pytest.raises(NOT_IMPLEMENTED):
        cf.list_cache_policies()


def test_cloudfront_status_oac_etag(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.003})  # deploy 1.08 s
    cf = emu.client("cloudfront")
    cf.list_distributions()  # warm up the freshly reset account
    oac = _oac(cf)
    d = cf.create_distribution(DistributionConfig=_dist_config(oac))
    did = d["Distribution"]["Id"]
    assert d["Distribution"]["Status"] == "InProgress"
    assert d["Distribution"]["DistributionConfig"]["Origins"]["Items"][0]["OriginAccessControlId"] == oac
    assert cf.get_distribution(Id=did)["Distribution"]["Status"] == "InProgress"
    conf = cf.get_distribution_config(Id=did)
    assert conf["DistributionConfig"]["Origins"]["Items"][0]["OriginAccessControlId"] == oac
    with pytest.raises(ClientError) as exc:
        cf.update_distribution(Id=did, IfMatch="WRONG", DistributionConfig=conf["DistributionConfig"])
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    cfg = conf["DistributionConfig"]
    cfg["Enabled"] = False
    u = cf.update_distribution(Id=did, IfMatch=conf["ETag"], DistributionConfig=cfg)
    assert u["ETag"] != conf["ETag"] and u["Distribution"]["Status"] == "InProgress"
    cf.get_waiter("distribution_deployed").wait(Id=did, WaiterConfig={"Delay": 0.2, "MaxAttempts": 30})
    cf.delete_distribution(Id=did, IfMatch=u["ETag"])


def test_cloudfront_enabled_distribution_cannot_be_deleted(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0})
    cf = emu.client("cloudfront")
    d = cf.create_distribution(DistributionConfig=_dist_config(_oac(cf)))
    with pytest.raises(ClientError) as exc:
        cf.delete_distribution(Id=d["Distribution"]["Id"], IfMatch=d["ETag"])
    assert exc.value.response["Error"]["Code"] == "DistributionNotDisabled"


def test_cloudfront_cache_and_response_headers_policies(emu: Server) -> None:
    cf = emu.client("cloudfront")
    managed = cf.list_cache_policies(Type="managed")["CachePolicyList"]["Items"]
    assert "Managed-CachingOptimized" in [p["CachePolicy"]["CachePolicyConfig"]["Name"] for p in managed]
    opt = cf.get_cache_policy(Id="658327ea-f89d-4fab-a63d-7e88639e58f6")["CachePolicy"]["CachePolicyConfig"]
    assert opt["DefaultTTL"] == 86400
    cfg = {"Name": "app", "MinTTL": 0, "DefaultTTL": 60, "MaxTTL": 3600,
           "ParametersInCacheKeyAndForwardedToOrigin": {
               "EnableAcceptEncodingGzip": True, "HeadersConfig": {"HeaderBehavior": "none"},
               "CookiesConfig": {"CookieBehavior": "none"}, "QueryStringsConfig": {"QueryStringBehavior": "none"}}}
    p = cf.create_cache_policy(CachePolicyConfig=cfg)
    pid = p["CachePolicy"]["Id"]
    assert p["CachePolicy"]["CachePolicyConfig"] == cf.get_cache_policy_config(Id=pid)["CachePolicyConfig"]
    with pytest.raises(ClientError) as exc:
        cf.create_cache_policy(CachePolicyConfig=cfg)
    assert exc.value.response["Error"]["Code"] == "CachePolicyAlreadyExists"
    assert [x["CachePolicy"]["Id"] for x in cf.list_cache_policies(Type="custom")["CachePolicyList"]["Items"]] == [pid]
    cfg["DefaultTTL"] = 120
    u = cf.update_cache_policy(Id=pid, IfMatch=p["ETag"], CachePolicyConfig=cfg)
    assert u["CachePolicy"]["CachePolicyConfig"]["DefaultTTL"] == 120 and u["ETag"] != p["ETag"]
    cf.delete_cache_policy(Id=pid, IfMatch=u["ETag"])
    rh = cf.create_response_headers_policy(ResponseHeadersPolicyConfig={
        "Name": "sec", "SecurityHeadersConfig": {"ContentTypeOptions": {"Override": True}}})
    rid = rh["ResponseHeadersPolicy"]["Id"]
    got = cf.get_response_headers_policy(Id=rid)["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]
    assert got["SecurityHeadersConfig"]["ContentTypeOptions"]["Override"] is True
    names = [x["ResponseHeadersPolicy"]["ResponseHeadersPolicyConfig"]["Name"]
             for x in cf.list_response_headers_policies()["ResponseHeadersPolicyList"]["Items"]]
    assert "Managed-SecurityHeadersPolicy" in names and "sec" in names


# --------------------------------------------------------------- OpenSearch
def _domain(os_client) -> dict:
    return os_client.create_domain(DomainName="search", EngineVersion="OpenSearch_2.13",
                                   ClusterConfig={"InstanceType": "t3.small.search", "InstanceCount": 1},
                                   EBSOptions={"EBSEnabled": True, "VolumeSize": 10})["DomainStatus"]


def test_opensearch_processing(emu: Server, moto_srv: Server) -> None:
    assert _domain(moto_srv.client("opensearch"))["Processing"] is False
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.001})  # 1.2 s
    os_client = emu.client("opensearch")
    d = _domain(os_client)
    assert d["Processing"] is True and d["Created"] is False and "Endpoint" not in d
    time.sleep(1.3)
    d = os_client.describe_domain(DomainName="search")["DomainStatus"]
    assert d["Processing"] is False and d["Created"] is True and d["Endpoint"]
    os_client.update_domain_config(DomainName="search", ClusterConfig={"InstanceCount": 2})
    assert os_client.describe_domain(DomainName="search")["DomainStatus"]["Processing"] is True


# ---------------------------------------------------------------- Beanstalk
STACK = "64bit Amazon Linux 2023 v4.6.0 running Python 3.11"


def test_plain_moto_beanstalk(moto_srv: Server) -> None:
    eb = moto_srv.client("elasticbeanstalk")
    eb.create_application(ApplicationName="app")
    env = eb.create_environment(ApplicationName="app", EnvironmentName="web1", SolutionStackName=STACK)
    assert env["Status"] == "Ready" and env["SolutionStackName"] == "None"
    with pytest.raises(NOT_IMPLEMENTED):
        eb.terminate_environment(EnvironmentName="web1")


def test_beanstalk_lifecycle_and_settings(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.002})  # launch 0.72 s, update/terminate 0.24 s
    eb = emu.client("elasticbeanstalk")
    eb.describe_environments()  # warm up the freshly reset account
    eb.create_application(ApplicationName="app")
    with pytest.raises(ClientError) as exc:
        eb.create_environment(ApplicationName="app", EnvironmentName="badenv", SolutionStackName="nope")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    opts = [{"Namespace": "aws:autoscaling:launchconfiguration", "OptionName": "InstanceType", "Value": "t3.small"}]
    env = eb.create_environment(ApplicationName="app", EnvironmentName="web1", SolutionStackName=STACK,
                                OptionSettings=opts)
    assert env["Status"] == "Launching" and env["SolutionStackName"] == STACK and env["Health"] == "Grey"
    assert env["CNAME"] == "web1.us-east-1.elasticbeanstalk.com" and env["EnvironmentId"].startswith("e-")
    assert "Python 3.11" in env["PlatformArn"]
    time.sleep(0.8)
    env = eb.describe_environments(EnvironmentNames=["web1"])["Environments"][0]
    assert env["Status"] == "Ready" and env["Health"] == "Green"
    settings = eb.describe_configuration_settings(ApplicationName="app", EnvironmentName="web1")
    assert settings["ConfigurationSettings"][0]["OptionSettings"] == opts
    upd = eb.update_environment(EnvironmentName="web1", OptionSettings=[
        {"Namespace": "aws:autoscaling:asg", "OptionName": "MaxSize", "Value": "4"}])
    assert upd["Status"] == "Updating"
    got = eb.describe_configuration_settings(ApplicationName="app", EnvironmentName="web1")
    assert len(got["ConfigurationSettings"][0]["OptionSettings"]) == 2
    time.sleep(0.3)
    assert eb.terminate_environment(EnvironmentName="web1")["Status"] == "Terminating"
    time.sleep(0.3)
    assert eb.describe_environments()["Environments"] == []


# ---------------------------------------------------------------------- ACM
def test_acm_issued_on_emulator_clock(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 1})
    acm = emu.client("acm")
    arn = acm.request_certificate(DomainName="app.example.com", ValidationMethod="DNS")["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "PENDING_VALIDATION"
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": "instant"})
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == "ISSUED"


# ------------------------------------------------------- CloudWatch and Logs
def test_composite_alarm(emu: Server, moto_srv: Server) -> None:
    with pytest.raises(NOT_IMPLEMENTED):
        moto_srv.client("cloudwatch").put_composite_alarm(AlarmName="x", AlarmRule="ALARM(a)")
    cw = emu.client("cloudwatch")
    cw.put_metric_alarm(AlarmName="a", Namespace="AWS/Lambda", MetricName="Errors", Statistic="Sum", Period=300,
                        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")
    cw.put_composite_alarm(AlarmName="combo", AlarmRule='ALARM("a")', AlarmActions=["arn:aws:sns:us-east-1:123456789012:t"])
    alarms = cw.describe_alarms(AlarmTypes=["CompositeAlarm", "MetricAlarm"])
    assert [a["AlarmName"] for a in alarms["CompositeAlarms"]] == ["combo"]
    assert alarms["CompositeAlarms"][0]["AlarmRule"] == 'ALARM("a")'
    assert [a["AlarmName"] for a in alarms["MetricAlarms"]] == ["a"]


def test_logs_query_definitions(emu: Server, moto_srv: Server) -> None:
    with pytest.raises(NOT_IMPLEMENTED):
        moto_srv.client("logs").put_query_definition(name="q", queryString="fields @message")
    logs = emu.client("logs")
    qid = logs.put_query_definition(name="errors/5xx", queryString="fields @message | limit 5",
                                    logGroupNames=["/app"])["queryDefinitionId"]
    logs.put_query_definition(name="other", queryString="fields @timestamp")
    defs = logs.describe_query_definitions(queryDefinitionNamePrefix="errors")["queryDefinitions"]
    assert [(d["queryDefinitionId"], d["logGroupNames"]) for d in defs] == [(qid, ["/app"])]
    logs.put_query_definition(queryDefinitionId=qid, name="errors/5xx", queryString="fields @message | limit 9")
    assert logs.describe_query_definitions(queryDefinitionNamePrefix="errors")["queryDefinitions"][0]["queryString"].endswith("9")
    logs.delete_query_definition(queryDefinitionId=qid)
    assert len(logs.describe_query_definitions()["queryDefinitions"]) == 1


# ------------------------------------------------------------------ Bedrock
def test_bedrock_models_and_guardrails(emu: Server, moto_srv: Server) -> None:
    with pytest.raises(NOT_IMPLEMENTED):
        moto_srv.client("bedrock").list_foundation_models()
    br = emu.client("bedrock")
    ids = [m["modelId"] for m in br.list_foundation_models(byOutputModality="EMBEDDING")["modelSummaries"]]
    assert "amazon.titan-embed-text-v2:0" in ids and not any(i.startswith("anthropic") for i in ids)
    assert br.get_foundation_model(modelIdentifier="amazon.titan-embed-text-v2:0")["modelDetails"]["providerName"] == "Amazon"
    g = br.create_guardrail(name="safe", blockedInputMessaging="no", blockedOutputsMessaging="no",
                            contentPolicyConfig={"filtersConfig": [{"type": "HATE", "inputStrength": "HIGH",
                                                                    "outputStrength": "HIGH"}]})
    got = br.get_guardrail(guardrailIdentifier=g["guardrailId"])
    assert got["status"] == "READY" and got["contentPolicy"]["filters"][0]["type"] == "HATE"
    assert br.create_guardrail_version(guardrailIdentifier=g["guardrailId"])["version"] == "1"
    assert [x["name"] for x in br.list_guardrails()["guardrails"]] == ["safe"]
    br.delete_guardrail(guardrailIdentifier=g["guardrailId"])


def test_bedrock_agent_kb_update_and_data_source(emu: Server, moto_srv: Server) -> None:
    def kb(client) -> dict:
        return client.create_knowledge_base(
            name="kb", roleArn="arn:aws:iam::123456789012:role/kb",
            knowledgeBaseConfiguration={"type": "VECTOR", "vectorKnowledgeBaseConfiguration": {
                "embeddingModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"}},
            storageConfiguration={"type": "RDS", "rdsConfiguration": {
                "resourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:kb",
                "credentialsSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
                "databaseName": "kb", "tableName": "items", "fieldMapping": {
                    "primaryKeyField": "id", "vectorField": "embedding", "textField": "chunk",
                    "metadataField": "metadata"}}})["knowledgeBase"]

    plain = moto_srv.client("bedrock-agent")
    assert kb(plain)["status"] == "Active"
    agent = emu.client("bedrock-agent")
    k = kb(agent)
    assert k["status"] == "ACTIVE"
    u = agent.update_knowledge_base(knowledgeBaseId=k["knowledgeBaseId"], name="kb", description="new",
                                    roleArn=k["roleArn"], knowledgeBaseConfiguration=k["knowledgeBaseConfiguration"],
                                    storageConfiguration=k["storageConfiguration"])["knowledgeBase"]
    assert u["description"] == "new"
    assert agent.get_knowledge_base(knowledgeBaseId=k["knowledgeBaseId"])["knowledgeBase"]["description"] == "new"
    ds = agent.create_data_source(knowledgeBaseId=k["knowledgeBaseId"], name="docs", dataSourceConfiguration={
        "type": "S3", "s3Configuration": {"bucketArn": "arn:aws:s3:::docs"}})["dataSource"]
    assert ds["status"] == "AVAILABLE"
    got = agent.get_data_source(knowledgeBaseId=k["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])["dataSource"]
    assert got["dataSourceConfiguration"]["s3Configuration"]["bucketArn"] == "arn:aws:s3:::docs"
    assert len(agent.list_data_sources(knowledgeBaseId=k["knowledgeBaseId"])["dataSourceSummaries"]) == 1
    agent.delete_data_source(knowledgeBaseId=k["knowledgeBaseId"], dataSourceId=ds["dataSourceId"])


# ---------------------------------------------------------------------- ECS
def _ecs_service(ecs, token: str | None, desired: int = 2):
    kw = {"clientToken": token} if token else {}
    return ecs.create_service(cluster="c", serviceName="web", taskDefinition="app", desiredCount=desired, **kw)


def _ecs_setup(ecs) -> None:
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(family="app", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}])


def test_ecs_create_service_does_not_replace(emu: Server, moto_srv: Server) -> None:
    plain = moto_srv.client("ecs")
    _ecs_setup(plain)
    _ecs_service(plain, None, 2)
    plain.update_service(cluster="c", service="web", desiredCount=5)
    _ecs_service(plain, None, 2)  # moto silently replaces
    assert plain.describe_services(cluster="c", services=["web"])["services"][0]["desiredCount"] == 2

    ecs = emu.client("ecs")
    _ecs_setup(ecs)
    first = _ecs_service(ecs, "tok")["service"]
    again = _ecs_service(ecs, "tok")["service"]
    assert first["serviceArn"] == again["serviceArn"]
    ecs.update_service(cluster="c", service="web", desiredCount=5)
    with pytest.raises(ClientError) as exc:
        _ecs_service(ecs, None)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    assert ecs.describe_services(cluster="c", services=["web"])["services"][0]["desiredCount"] == 5


# ------------------------------------------------------------------ Route 53
def test_route53_create_existing_record_fails(emu: Server, moto_srv: Server) -> None:
    def run(r53) -> int:
        zone = r53.create_hosted_zone(Name="example.com", CallerReference=str(time.time()))["HostedZone"]["Id"]
        for ip in ("10.0.0.1", "10.0.0.2"):
            r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
                "Action": "CREATE", "ResourceRecordSet": {"Name": "app.example.com", "Type": "A", "TTL": 60,
                                                          "ResourceRecords": [{"Value": ip}]}}]})
        sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        return len([s for s in sets if s["Type"] == "A"])

    assert run(moto_srv.client("route53")) == 2
    with pytest.raises(ClientError) as exc:
        run(emu.client("route53"))
    assert exc.value.response["Error"]["Code"] == "InvalidChangeBatch"


# --------------------------------------------------------------- ElastiCache
def test_elasticache_num_cache_clusters(emu: Server, moto_srv: Server) -> None:
    def members(srv: Server) -> int:
        ec = srv.client("elasticache")
        rg = ec.create_replication_group(ReplicationGroupId="redis1", ReplicationGroupDescription="r",
                                         Engine="redis", CacheNodeType="cache.t4g.small", NumCacheClusters=2,
                                         AutomaticFailoverEnabled=True)["ReplicationGroup"]
        return len(rg["MemberClusters"])

    assert members(moto_srv) == 1
    assert members(emu) == 2
