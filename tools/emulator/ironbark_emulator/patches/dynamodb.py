"""DynamoDB: ``UpdateTable`` applies ``SSESpecification``.

AWS behaviour restored: ``UpdateTable(SSESpecification={"Enabled": true, "SSEType": "KMS",
"KMSMasterKeyId": key})`` switches the table to that KMS key (the AWS managed key
``alias/aws/dynamodb`` without ``KMSMasterKeyId``) and ``DescribeTable`` reports it in
``SSEDescription``; ``Enabled: false`` goes back to the AWS owned key (no
``SSEDescription``).  moto 5.2.5 ignores the parameter.
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateTable.html#DDB-UpdateTable-request-SSESpecification
"""

from __future__ import annotations

from typing import Any

from ironbark_emulator.patches._util import wrap_method


def _key_arn(backend: Any, key: str) -> str:
    """The ARN of a key id, alias or ARN (as DynamoDB reports ``KMSMasterKeyArn``)."""
    from moto.kms import kms_backends

    if key.startswith("arn:") and ":key/" in key:
        return key
    try:
        return kms_backends[backend.account_id][backend.region_name].describe_key(key).arn
    except Exception:  # noqa: BLE001 - unknown key: report what was given, like moto's create
        return key


def _update_table(original: Any, self: Any) -> Any:
    sse = self.body.get("SSESpecification")
    if sse is not None:
        backend = self.dynamodb_backend
        table = backend.get_table(self.body["TableName"])
        if sse.get("Enabled"):
            key = sse.get("KMSMasterKeyId")
            arn = _key_arn(backend, key) if key else table._get_default_encryption_key(
                backend.account_id, backend.region_name)
            table.sse_specification = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": arn}
        else:
            table.sse_specification = None
    return original(self)


def apply() -> None:
    """Wrap the UpdateTable handler."""
    from moto.dynamodb.responses import DynamoHandler

    wrap_method(DynamoHandler, "update_table", _update_table)
