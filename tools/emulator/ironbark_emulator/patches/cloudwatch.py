"""CloudWatch: PutCompositeAlarm.

AWS behaviour restored: ``PutCompositeAlarm`` creates a composite alarm that
``DescribeAlarms`` lists under ``CompositeAlarms`` with its ``AlarmRule``.
moto 5.2.5 raises NotImplementedError (HTTP 500) although its
``put_metric_alarm`` already stores an ``AlarmRule``; we route the operation
there (so moto's own awsJson handling applies; smithy-rpc-v2-cbor calls reach it
through the adapter in ``ironbark_emulator/cbor.py``).

https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html
"""

from __future__ import annotations

from typing import Any


def _alarm_rule(self: Any) -> str | None:
    return self.rule


def apply() -> None:
    """Alias the response method and expose ``alarm_rule`` for the serializer."""
    from moto.cloudwatch.models import Alarm
    from moto.cloudwatch.responses import CloudWatchResponse

    if not hasattr(CloudWatchResponse, "put_composite_alarm"):
        CloudWatchResponse.put_composite_alarm = CloudWatchResponse.put_metric_alarm  # type: ignore[attr-defined]
    if not hasattr(Alarm, "alarm_rule"):
        Alarm.alarm_rule = property(_alarm_rule)  # type: ignore[attr-defined]
