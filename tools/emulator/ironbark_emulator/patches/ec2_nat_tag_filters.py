"""EC2: ``DescribeNatGateways`` honours tag filters.

AWS behaviour restored: the ``tag:<key>``, ``tag-key`` and ``tag-value`` filters of
``DescribeNatGateways`` select NAT gateways by their tags. moto 5.2.5 implements only the
``nat-gateway-id``, ``vpc-id``, ``subnet-id`` and ``state`` filters and silently ignores the
rest, so a tool looking for *its* NAT gateway by tag gets every NAT gateway in the account.

https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeNatGateways.html
"""

from __future__ import annotations

from typing import Any


def apply() -> None:
    """Filter the result of moto's ``describe_nat_gateways`` by the tag filters it ignores."""
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.utils import tag_filter_matches

    original = NatGatewayBackend.describe_nat_gateways

    def describe_nat_gateways(self: Any, filters: Any, nat_gateway_ids: Any) -> list[Any]:
        found = original(self, filters, nat_gateway_ids)
        for name, values in (filters or {}).items():
            if name.startswith("tag:") or name in ("tag-key", "tag-value"):
                found = [n for n in found if tag_filter_matches(n, name, values)]
        return found

    NatGatewayBackend.describe_nat_gateways = describe_nat_gateways  # type: ignore[method-assign]
