"""All Ironbark patches; ``apply_all`` imports and activates them once.

Each module patches one service.  Hooks register themselves through
``ironbark_emulator.hooks`` on import; model patches are applied by the
module's ``apply()``.
"""

from __future__ import annotations

import importlib

MODULES = [
    "iam",
    "ec2_idempotency",
    "ec2_status",
    "ec2_default_sg",
    "ec2_sg_rule_description",
    "ec2_nat_tag_filters",
    "ec2_nat_eni",
    "ec2_vpce",
    "rds",
    "rds_data",
    "eks",
    "eks_extras",
    "cloudfront",
    "opensearch",
    "beanstalk",
    "acm",
    "cloudwatch",
    "logs",
    "bedrock",
    "ecs",
    "route53",
    "elasticache",
    "elasticache_extras",
    "dynamodb",
    "cognito",
    "identity",
    "aoss",
]

_applied = False


def apply_all() -> None:
    """Import every patch module and call its ``apply()``."""
    global _applied
    if _applied:
        return
    for name in MODULES:
        try:
            mod = importlib.import_module(f"ironbark_emulator.patches.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ironbark_emulator.patches.{name}":
                continue  # not written yet
            raise
        apply = getattr(mod, "apply", None)
        if apply is not None:
            apply()
    _applied = True
