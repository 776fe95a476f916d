"""EC2 patches: ClientToken idempotency, NAT/endpoint lifecycles, default SG."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from conftest import Server, make_network


def test_plain_moto_ignores_nat_client_token(moto_srv: Server) -> None:
    ec2 = moto_srv.client("ec2")
    net = make_network(ec2)
    ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=net["eip"], ClientToken="tok-1")
    with pytest.raises(ClientError) as exc:
        ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=net["eip"], ClientToken="tok-1")
    assert exc.value.response["Error"]["Code"] == "Resource.AlreadyAssociated"


def test_nat_client_token_idempotent(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": "instant"})
    ec2 = emu.client("ec2")
    net = make_network(ec2)
    a = ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=net["eip"], ClientToken="tok-1")["NatGateway"]
    b = ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=net["eip"], ClientToken="tok-1")["NatGateway"]
    assert a["NatGatewayId"] == b["NatGatewayId"]
    assert len(ec2.describe_nat_gateways()["NatGateways"]) == 1
    with pytest.raises(ClientError) as exc:
        ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=net["eip2"], ClientToken="tok-1")
    assert exc.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(ec2.describe_nat_gateways()["NatGateways"]) == 1


def test_plain_moto_duplicates_endpoints_and_instances(moto_srv: Server) -> None:
    ec2 = moto_srv.client("ec2")
    net = make_network(ec2)
    for _ in range(2):
        ec2.create_vpc_endpoint(VpcId=net["vpc"], ServiceName="com.amazonaws.us-east-1.s3", ClientToken="t")
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, ClientToken="t")
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 2
    assert sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"]) == 2


def test_endpoint_instance_launch_template_client_token(emu: Server) -> None:
    ec2 = emu.client("ec2")
    net = make_network(ec2)
    ids = set()
    for _ in range(2):
        ids.add(ec2.create_vpc_endpoint(VpcId=net["vpc"], ServiceName="com.amazonaws.us-east-1.s3",
                                        ClientToken="t")["VpcEndpoint"]["VpcEndpointId"])
        ids.add(ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                  ClientToken="t")["Instances"][0]["InstanceId"])
        ids.add(ec2.create_launch_template(LaunchTemplateName="lt", LaunchTemplateData={"InstanceType": "t3.micro"},
                                           ClientToken="t")["LaunchTemplate"]["LaunchTemplateId"])
    assert len(ids) == 3
    assert len(ec2.describe_vpc_endpoints()["VpcEndpoints"]) == 1
    assert sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"]) == 1
    with pytest.raises(ClientError) as exc:
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2, ClientToken="t")
    assert exc.value.response["Error"]["Code"] == "IdempotentParameterMismatch"
    # a new token creates a new resource; a reset forgets tokens
    ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, ClientToken="t2")
    assert sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"]) == 2
    emu.reset()
    ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, ClientToken="t")
    assert sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"]) == 1


def test_plain_moto_nat_available_at_once(moto_srv: Server) -> None:
    ec2 = moto_srv.client("ec2")
    net = make_network(ec2)
    nat = ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=net["eip"])["NatGateway"]
    assert nat["State"] == "available"


def test_nat_pending_then_available_with_waiter(emu: Server) -> None:
    ec2 = emu.client("ec2")
    net = make_network(ec2)
    t0 = time.time()
    nat = ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=net["eip"])["NatGateway"]
    assert nat["State"] == "pending"
    nid = nat["NatGatewayId"]
    assert ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]["State"] == "pending"
    emu.control("POST", "/_ironbark/log/reset")
    ec2.get_waiter("nat_gateway_available").wait(NatGatewayIds=[nid], WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    elapsed = time.time() - t0
    assert 0.85 <= elapsed < 3.0
    polls = [e for e in emu.control("GET", "/_ironbark/log")["entries"] if e["operation"] == "DescribeNatGateways"]
    assert len(polls) >= 2  # the waiter saw 'pending' at least once
    assert ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]["State"] == "available"
    ec2.delete_nat_gateway(NatGatewayId=nid)
    assert ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]["State"] == "deleting"
    time.sleep(0.7)
    assert ec2.describe_nat_gateways(NatGatewayIds=[nid])["NatGateways"][0]["State"] == "deleted"


def test_interface_endpoint_pending_then_available(emu: Server, moto_srv: Server) -> None:
    for srv, first in ((moto_srv, "available"), (emu, "pending")):
        ec2 = srv.client("ec2")
        net = make_network(ec2)
        ep = ec2.create_vpc_endpoint(VpcId=net["vpc"], VpcEndpointType="Interface", SubnetIds=[net["subnet"]],
                                     ServiceName="com.amazonaws.us-east-1.secretsmanager")["VpcEndpoint"]
        assert ep["State"] == first
    time.sleep(1.0)
    assert ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]["State"] == "available"


def test_instant_time_scale(emu: Server) -> None:
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0})
    ec2 = emu.client("ec2")
    net = make_network(ec2)
    assert ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=net["eip"])["NatGateway"]["State"] == "available"


def test_default_security_group_cannot_be_deleted(emu: Server, moto_srv: Server) -> None:
    m = moto_srv.client("ec2")
    vpc = m.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sg = m.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]["GroupId"]
    m.delete_security_group(GroupId=sg)  # moto: deleted

    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"][0]["GroupId"]
    with pytest.raises(ClientError) as exc:
        ec2.delete_security_group(GroupId=sg)
    assert exc.value.response["Error"]["Code"] == "CannotDelete"
    other = ec2.create_security_group(GroupName="app", Description="x", VpcId=vpc)["GroupId"]
    ec2.delete_security_group(GroupId=other)
    ec2.delete_vpc(VpcId=vpc)  # the default group goes with its VPC


def test_aws_managed_policies_attachable(emu: Server, moto_srv: Server) -> None:
    arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    m = moto_srv.client("iam")
    m.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    with pytest.raises(ClientError):
        m.attach_role_policy(RoleName="r", PolicyArn=arn)
    iam = emu.client("iam")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName="r", PolicyArn=arn)
    assert iam.list_attached_role_policies(RoleName="r")["AttachedPolicies"][0]["PolicyArn"] == arn


def _group_rule_description(server: Server) -> str | None:
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    app = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    db = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": app, "Description": "PostgreSQL from the application"}]}])
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [db]}])["SecurityGroupRules"]
    [rule] = [r for r in rules if not r["IsEgress"]]
    assert rule["ReferencedGroupInfo"]["GroupId"] == app
    return rule.get("Description")


def test_group_rule_description_is_kept(emu: Server, moto_srv: Server) -> None:
    """DescribeSecurityGroupRules returns a group-referencing rule's description."""
    assert _group_rule_description(moto_srv) is None
    assert _group_rule_description(emu) == "PostgreSQL from the application"


def _nat_ids_tagged(server: Server, value: str) -> list[str]:
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    for stack in ("mine", "other"):
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip, TagSpecifications=[
            {"ResourceType": "natgateway", "Tags": [{"Key": "ironbark:stack", "Value": stack}]}])
    found = ec2.describe_nat_gateways(Filters=[{"Name": "tag:ironbark:stack", "Values": [value]}])["NatGateways"]
    return [n["NatGatewayId"] for n in found]


def test_nat_gateways_are_filtered_by_tag(emu: Server, moto_srv: Server) -> None:
    """DescribeNatGateways with a tag filter returns only the tagged NAT gateway."""
    assert len(_nat_ids_tagged(moto_srv, "mine")) == 2  # plain moto ignores the filter
    assert len(_nat_ids_tagged(emu, "mine")) == 1


def _nat_leftovers(server: Server) -> tuple[int, bool]:
    """Delete a NAT gateway; return (ENIs left in its subnet, whether its EIP is still associated)."""
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    ec2.delete_nat_gateway(NatGatewayId=nat)
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])["NetworkInterfaces"]
    [address] = ec2.describe_addresses(AllocationIds=[eip])["Addresses"]
    return len(enis), "AssociationId" in address


def test_deleted_nat_gateway_releases_its_interface(emu: Server, moto_srv: Server) -> None:
    """DeleteNatGateway removes the NAT's ENI and disassociates its Elastic IP."""
    assert _nat_leftovers(moto_srv) == (1, True)
    assert _nat_leftovers(emu) == (0, False)


def _endpoint_routes_after_modify(server: Server) -> tuple[bool, bool]:
    ec2 = server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    first = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    second = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    vpce = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway",
                                   RouteTableIds=[first])["VpcEndpoint"]["VpcEndpointId"]
    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddRouteTableIds=[second], RemoveRouteTableIds=[first])

    def has_route(table: str) -> bool:
        routes = ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"][0]["Routes"]
        return any(r.get("GatewayId") == vpce for r in routes)

    return has_route(first), has_route(second)


def test_gateway_endpoint_routes_follow_modify(emu: Server, moto_srv: Server) -> None:
    """ModifyVpcEndpoint moves a gateway endpoint's prefix-list route between route tables."""
    assert _endpoint_routes_after_modify(moto_srv) == (True, False)
    assert _endpoint_routes_after_modify(emu) == (False, True)
