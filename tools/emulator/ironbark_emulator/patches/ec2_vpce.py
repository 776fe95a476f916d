"""EC2 VPC endpoints: ``vpc-endpoint-id`` filter and ``PrivateDnsEnabled`` modification.

AWS behaviours restored:

* ``DescribeVpcEndpoints`` accepts the ``vpc-endpoint-id`` filter (moto 5.2.5:
  HTTP 500 FilterNotImplementedError).
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeVpcEndpoints.html
* ``ModifyVpcEndpoint(PrivateDnsEnabled=...)`` changes the endpoint's
  ``PrivateDnsEnabled`` (moto accepts and ignores it).
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcEndpoint.html
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response
from ironbark_emulator.patches._util import wrap_method


def _filter_value(original: Any, self: Any, filter_name: str, method_name: str | None = None) -> Any:
    if filter_name in ("vpc-endpoint-id", "vpc_endpoint_id"):
        return self.id
    if filter_name == "service-name":
        return self.service_name
    if filter_name == "vpc-id":
        return self.vpc_id
    return original(self, filter_name, method_name)


@hooks.after("ec2", "ModifyVpcEndpoint")
def modify_private_dns(ctx: hooks.Context, resp: Response) -> Response:
    """Apply PrivateDnsEnabled after moto handled the rest of the modification."""
    value = ctx.params.get("PrivateDnsEnabled")
    if resp.status == 200 and value is not None:
        endpoint = ctx.backend("ec2").vpc_end_points.get(ctx.params.get("VpcEndpointId", ""))
        if endpoint is not None:
            endpoint.private_dns_enabled = value.lower() == "true"
    return resp


def apply() -> None:
    """Wrap the filter lookup."""
    from moto.ec2.models.vpcs import VPCEndPoint

    wrap_method(VPCEndPoint, "get_filter_value", _filter_value)
