"""IAM: AWS-managed policies, loaded cheaply.

AWS behaviour restored: AWS-managed policies (``arn:aws:iam::aws:policy/...``)
exist in every account and can be attached.  moto 5.2.5 only loads them with
``MOTO_IAM_LOAD_MANAGED_POLICIES=true`` (set by the CLI).

Performance: moto then parses ~1,300 policies for every IAM backend it creates,
and it creates one per partition (aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b,
aws-eusc) on the first request of every account, which made each
``/moto-api/reset`` cost about a second.  We parse the JSON once and load the
policies only into the ``aws`` partition, the only one Ironbark uses.

https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-vs-inline.html#aws-managed-policies
"""

from __future__ import annotations

import functools
import json
from typing import Any

from ironbark_emulator.patches._util import wrap_method


@functools.lru_cache(maxsize=1)
def _parsed() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return json.loads(aws_managed_policies_data)


def _init_aws_policies(original: Any, self: Any) -> list[Any]:
    from moto.iam.models import AWSManagedPolicy
    from moto.settings import load_iam_aws_managed_policies

    if not load_iam_aws_managed_policies() or self.region_name != "aws":
        return []
    return [AWSManagedPolicy.from_data(name, self.account_id, self.region_name, d) for name, d in _parsed().items()]


def apply() -> None:
    """Replace the policy loader."""
    from moto.iam.models import IAMBackend

    wrap_method(IAMBackend, "_init_aws_policies", _init_aws_policies)
