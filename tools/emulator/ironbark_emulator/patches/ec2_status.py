"""EC2: NAT gateways and interface VPC endpoints take time to become available.

AWS behaviour restored: ``CreateNatGateway`` returns ``State: pending`` and the
gateway becomes ``available`` after a minute or two; ``DeleteNatGateway`` moves
it to ``deleting`` then ``deleted``.  Interface VPC endpoints are
``pendingAcceptance``/``pending`` then ``available``; deleted ones go through
``deleting``.  moto 5.2.5 reports ``available`` in the create response.
Durations: ``clock.DURATIONS`` (nat_create 90 s, vpce_create 90 s) x time scale.

https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_NatGateway.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_VpcEndpoint.html
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator import lifecycle


def _nat_rule(obj: Any, value: str) -> tuple[str, str, str] | None:
    if value == "available":
        return ("pending", "available", "nat_create")
    if value == "deleted":
        return ("deleting", "deleted", "nat_delete")
    return None


def _vpce_rule(obj: Any, value: str) -> tuple[str, str, str] | None:
    if value == "deleted":
        return ("deleting", "deleted", "vpce_delete")
    return None


def apply() -> None:
    """Install the lazy state descriptors and the interface-endpoint init hook."""
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.ec2.models.vpcs import VPCEndPoint

    lifecycle.install(NatGateway, "state", _nat_rule)
    lifecycle.install(VPCEndPoint, "state", _vpce_rule)

    original_init = VPCEndPoint.__init__
    if getattr(original_init, "_ironbark", False):
        return

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if (self.vpc_endpoint_type or "").lower() in ("interface", "gatewayloadbalancer"):
            # Interface endpoints provision ENIs in each subnet: pending -> available.
            from ironbark_emulator import clock

            if clock.get_time_scale() > 0:
                lifecycle.LazyStatus.begin(self, "state", "pending", "available", "vpce_create")

    init._ironbark = True  # type: ignore[attr-defined]
    VPCEndPoint.__init__ = init  # type: ignore[method-assign]
