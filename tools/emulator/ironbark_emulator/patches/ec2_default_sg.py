"""EC2: a VPC's default security group cannot be deleted.

AWS behaviour restored: ``DeleteSecurityGroup`` on a group named ``default``
fails with ``CannotDelete`` (HTTP 400); the group goes away only with its VPC.
moto 5.2.5 deletes it.

https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html
https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html
"""

from __future__ import annotations

from ironbark_emulator import hooks
from ironbark_emulator.errors import Response, error_response


@hooks.before("ec2", "DeleteSecurityGroup")
def protect_default_sg(ctx: hooks.Context) -> Response | None:
    """Refuse to delete a group named ``default``."""
    backend = ctx.backend("ec2")
    group_id = ctx.params.get("GroupId")
    name = ctx.params.get("GroupName")
    group = None
    if group_id:
        group = backend.get_security_group_from_id(group_id)
    elif name:
        group = backend.get_security_group_by_name_or_id(name)
    if group is not None and group.name == "default":
        return error_response(
            "ec2", 400, "CannotDelete",
            f'the specified group: "{group.id}" name: "default" cannot be deleted by a user')
    return None
