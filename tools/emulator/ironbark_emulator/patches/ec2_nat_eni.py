"""EC2: deleting a NAT gateway releases its network interface and its Elastic IP association;
adding or removing route tables of a gateway endpoint adds or removes its routes.

AWS behaviour restored:
- ``DeleteNatGateway`` disassociates the Elastic IP and deletes the NAT gateway's network
  interface (``Deleting a NAT gateway disassociates its Elastic IP address, but does not
  release the address``). moto 5.2.5 keeps both, so the subnet can never be deleted
  (``DependencyViolation``) and the address stays associated.
- ``ModifyVpcEndpoint`` with ``AddRouteTableIds``/``RemoveRouteTableIds`` on a gateway
  endpoint adds/removes the prefix-list route in those route tables. moto 5.2.5 only updates
  the endpoint's list, so a later ``DeleteVpcEndpoints`` fails with ``InvalidRoute.NotFound``.

https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteNatGateway.html
https://docs.aws.amazon.com/vpc/latest/userguide/nat-gateway-working-with.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifyVpcEndpoint.html
"""

from __future__ import annotations

from typing import Any


def apply() -> None:
    """Wrap moto's ``delete_nat_gateway`` and ``modify_vpc_endpoint``."""
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.models.vpcs import VPCBackend

    delete_nat = NatGatewayBackend.delete_nat_gateway

    def delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
        nat = delete_nat(self, nat_gateway_id)
        eni = getattr(nat, "_eni", None)
        if eni is not None:
            for address in self.addresses:
                if address.eni is eni:
                    address.eni = None
                    address.association_id = None
            self.enis.pop(eni.id, None)
        return nat

    NatGatewayBackend.delete_nat_gateway = delete_nat_gateway  # type: ignore[method-assign]

    modify = VPCBackend.modify_vpc_endpoint

    def modify_vpc_endpoint(self: Any, vpc_id: str, policy_doc: str, add_subnets: Any, remove_subnets: Any,
                            remove_route_tables: Any, add_route_tables: Any, add_security_groups: Any,
                            remove_security_groups: Any) -> None:
        modify(self, vpc_id, policy_doc, add_subnets, remove_subnets, remove_route_tables, add_route_tables,
               add_security_groups, remove_security_groups)
        endpoint = self.vpc_end_points.get(vpc_id)
        prefix = getattr(endpoint, "destination_prefix_list_id", None)
        if endpoint is None or not prefix or str(endpoint.vpc_endpoint_type).lower() != "gateway":
            return
        for table in add_route_tables or []:
            self.create_route(table, None, gateway_id=vpc_id, destination_prefix_list_id=prefix)
        for table in remove_route_tables or []:
            self.delete_route(table, prefix)

    VPCBackend.modify_vpc_endpoint = modify_vpc_endpoint  # type: ignore[method-assign]
