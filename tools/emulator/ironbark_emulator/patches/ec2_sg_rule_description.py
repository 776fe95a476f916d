"""EC2: security group rules that reference another group keep their description.

AWS behaviour restored: ``DescribeSecurityGroupRules`` returns the ``Description`` given in
``UserIdGroupPairs`` (or ``PrefixListIds``) when the rule was authorized. moto 5.2.5 reads the
description only from ``IpRanges``, so group-referencing rules come back without one, and a
tool comparing descriptions sees drift that is not there.

https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_SecurityGroupRule.html
https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_UserIdGroupPair.html
"""

from __future__ import annotations

from typing import Any


def apply() -> None:
    """Make ``SecurityGroupRule.description`` fall back to the referenced group's description."""
    from moto.ec2.models.security_groups import SecurityGroupRule

    def description(self: Any) -> str | None:
        found = self.ip_range.get("Description")
        if found is None and self.source_group:
            found = self.source_group.get("Description")
        return found

    SecurityGroupRule.description = property(description)  # type: ignore[method-assign,assignment]
