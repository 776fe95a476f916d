"""Route 53: CREATE of an existing record set fails.

AWS behaviour restored: a ``CREATE`` change for a name/type (and set
identifier) that already exists fails the whole batch with
``InvalidChangeBatch`` (HTTP 400).  moto 5.2.5 only notices an identical
earlier change and otherwise stores a duplicate record set.

https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator.patches._util import wrap_method


def _norm(name: str) -> str:
    return (name or "").rstrip(".").lower()


def _change(original: Any, self: Any, zoneid: str, change_list: list[dict[str, Any]]) -> Any:
    from moto.route53.exceptions import ResourceRecordAlreadyExists

    zone = self.get_hosted_zone(zoneid)
    for change in change_list:
        if change.get("Action") != "CREATE":
            continue
        rrs = change["ResourceRecordSet"]
        for existing in zone.rrsets:
            if (_norm(existing.name) == _norm(rrs["Name"]) and existing.type == rrs.get("Type")
                    and (existing.set_identifier or None) == (rrs.get("SetIdentifier") or None)):
                raise ResourceRecordAlreadyExists(name=_norm(rrs["Name"]) + ".", _type=rrs.get("Type", ""))
    return original(self, zoneid, change_list)


def apply() -> None:
    """Wrap the backend method."""
    from moto.route53.models import Route53Backend

    wrap_method(Route53Backend, "change_resource_record_sets", _change)
