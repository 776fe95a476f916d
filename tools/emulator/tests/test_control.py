"""Control endpoints, request log, fault injection."""

from __future__ import annotations

import urllib.error

import pytest
from botocore.exceptions import ClientError

from conftest import Server


def test_health(emu: Server) -> None:
    h = emu.control("GET", "/_ironbark/health")
    assert h == {"ok": True, "moto": "5.2.5", "time_scale": 0.01}


def test_time_scale_roundtrip(emu: Server) -> None:
    assert emu.control("POST", "/_ironbark/time-scale", {"time_scale": "instant"})["time_scale"] == 0.0
    assert emu.control("GET", "/_ironbark/time-scale")["time_scale"] == 0.0
    assert emu.control("GET", "/_ironbark/health")["time_scale"] == 0.0
    emu.control("POST", "/_ironbark/time-scale", {"time_scale": 0.5})
    assert emu.control("GET", "/_ironbark/time-scale")["time_scale"] == 0.5
    with pytest.raises(urllib.error.HTTPError):
        emu.control("POST", "/_ironbark/time-scale", {"time_scale": -1})


def test_request_log_classifies_reads_and_writes(emu: Server) -> None:
    ec2 = emu.client("ec2")
    ec2.create_vpc(CidrBlock="10.1.0.0/16")
    ec2.describe_vpcs()
    s3 = emu.client("s3")
    s3.create_bucket(Bucket="ironbark-log-test")
    s3.put_object(Bucket="ironbark-log-test", Key="a/b.txt", Body=b"x")
    s3.get_object(Bucket="ironbark-log-test", Key="a/b.txt")
    assert s3.head_object(Bucket="ironbark-log-test", Key="a/b.txt")["ContentLength"] == 1
    s3.head_bucket(Bucket="ironbark-log-test")
    s3.list_objects_v2(Bucket="ironbark-log-test")
    emu.client("sts").get_caller_identity()
    emu.client("logs").create_log_group(logGroupName="/ironbark/x")
    emu.client("cloudwatch").describe_alarms()
    emu.client("dynamodb").list_tables()
    entries = emu.control("GET", "/_ironbark/log")["entries"]
    got = [(e["service"], e["operation"], e["class"]) for e in entries]
    assert got == [
        ("ec2", "CreateVpc", "write"), ("ec2", "DescribeVpcs", "read"),
        ("s3", "CreateBucket", "write"), ("s3", "PutObject", "write"), ("s3", "GetObject", "read"), ("s3", "HeadObject", "read"),
        ("s3", "HeadBucket", "read"), ("s3", "ListObjectsV2", "read"),
        ("sts", "GetCallerIdentity", "read"), ("logs", "CreateLogGroup", "write"),
        ("monitoring", "DescribeAlarms", "read"), ("dynamodb", "ListTables", "read"),
    ]
    assert all(e["status"] == 200 and e["fault"] is None for e in entries)
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert all(isinstance(e["time"], float) for e in entries)
    summary = emu.control("GET", "/_ironbark/log/summary")
    assert summary["total"] == 12 and summary["reads"] == 8 and summary["writes"] == 4 and summary["faults"] == 0
    assert summary["by_operation"]["ec2:CreateVpc"] == {"count": 1, "class": "write", "faults": 0}
    assert emu.control("POST", "/_ironbark/log/reset") == {"ok": True}
    assert emu.control("GET", "/_ironbark/log/summary")["total"] == 0


def test_converged_redeploy_makes_zero_writes(emu: Server) -> None:
    """The pattern the Rust harness uses: reset the log, re-run the plan, count writes."""
    ec2 = emu.client("ec2")

    def deploy() -> None:
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": ["app"]}])["Vpcs"]
        if not vpcs:
            ec2.create_vpc(CidrBlock="10.9.0.0/16",
                           TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "app"}]}])

    deploy()
    emu.control("POST", "/_ironbark/log/reset")
    deploy()
    s = emu.control("GET", "/_ironbark/log/summary")
    assert s["writes"] == 0 and s["reads"] == 1


def test_ec2_throttling_30_percent_standard_retries_succeed(emu: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    # Keep botocore's standard retry logic (retryable codes, quota) but shorten its backoff sleeps.
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.01)
    rule = {"service": "ec2", "operation": None, "throttle": 0.3, "error_rate": 0.0,
            "error_status": 500, "latency_ms": 0, "count": None}
    emu.control("POST", "/_ironbark/faults", rule)
    assert emu.control("GET", "/_ironbark/faults")[0]["throttle"] == 0.3
    ec2 = emu.client("ec2", retries={"mode": "standard", "total_max_attempts": 10})
    for _ in range(30):
        ec2.describe_vpcs()
    entries = emu.control("GET", "/_ironbark/log")["entries"]
    throttled = [e for e in entries if e["fault"] == "throttle"]
    assert throttled, "expected some throttled attempts"
    assert all(e["status"] == 503 for e in throttled)
    assert len([e for e in entries if e["status"] == 200]) == 30
    assert emu.control("GET", "/_ironbark/log/summary")["faults"] == len(throttled)


def test_ec2_throttle_error_format(emu: Server) -> None:
    emu.control("POST", "/_ironbark/faults", {"service": "ec2", "throttle": 1.0, "count": 1})
    ec2 = emu.client("ec2")
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpcs()
    assert exc.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    ec2.describe_vpcs()  # count exhausted


@pytest.mark.parametrize("service,call,code", [
    ("iam", lambda c: c.list_roles(), "Throttling"),
    ("rds", lambda c: c.describe_db_instances(), "Throttling"),
    ("logs", lambda c: c.describe_log_groups(), "ThrottlingException"),
    ("eks", lambda c: c.list_clusters(), "ThrottlingException"),
    ("cloudfront", lambda c: c.list_distributions(), "Throttling"),
    ("cloudwatch", lambda c: c.describe_alarms(), "ThrottlingException"),
])
def test_throttle_codes_per_protocol(emu: Server, service: str, call, code: str) -> None:
    signing = {"cloudwatch": "monitoring"}.get(service, service)
    emu.control("POST", "/_ironbark/faults", {"service": signing, "throttle": 1.0, "count": 1})
    client = emu.client(service)
    with pytest.raises(ClientError) as exc:
        call(client)
    assert exc.value.response["Error"]["Code"] == code
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    call(client)


def test_error_and_latency_faults(emu: Server) -> None:
    emu.control("POST", "/_ironbark/faults",
                {"service": "sts", "operation": "GetCallerIdentity", "error_rate": 1.0, "error_status": 503, "count": 2})
    sts = emu.client("sts")
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    sts_retry = emu.client("sts", retries={"mode": "standard", "total_max_attempts": 3})
    sts_retry.get_caller_identity()
    emu.control("DELETE", "/_ironbark/faults")
    assert emu.control("GET", "/_ironbark/faults") == []
    emu.control("POST", "/_ironbark/faults", {"service": "sts", "latency_ms": 300})
    import time

    t = time.time()
    sts.get_caller_identity()
    assert time.time() - t >= 0.3
    faults = [e["fault"] for e in emu.control("GET", "/_ironbark/log")["entries"]]
    assert faults == ["error", "error", None, "latency"]


def test_moto_reset_still_works(emu: Server) -> None:
    ec2 = emu.client("ec2")
    ec2.create_vpc(CidrBlock="10.3.0.0/16")
    n = len(ec2.describe_vpcs()["Vpcs"])
    emu.reset()
    assert len(ec2.describe_vpcs()["Vpcs"]) == n - 1


def test_log_filter_by_access_key(emu: Server) -> None:
    import boto3

    other = boto3.client("sts", endpoint_url=emu.url, region_name="us-east-1",
                         aws_access_key_id="AKIDOTHERTEST", aws_secret_access_key="x")
    other.get_caller_identity()
    emu.client("sts").get_caller_identity()
    mine = emu.control("GET", "/_ironbark/log?access_key=AKIDOTHERTEST")["entries"]
    assert len(mine) == 1 and mine[0]["access_key"] == "AKIDOTHERTEST"
    assert emu.control("GET", "/_ironbark/log/summary?access_key=AKIDOTHERTEST")["total"] == 1
    assert emu.control("GET", "/_ironbark/log/summary")["total"] == 2


def test_log_tells_delete_object_from_abort_multipart_upload(emu: Server) -> None:
    """Both are DELETE /{Bucket}/{Key+}; only the abort carries the required ?uploadId=."""
    s3 = emu.client("s3")
    s3.create_bucket(Bucket="ironbark-delete-test")
    s3.put_object(Bucket="ironbark-delete-test", Key="k", Body=b"x")
    etag = s3.head_object(Bucket="ironbark-delete-test", Key="k")["ETag"]
    s3.delete_object(Bucket="ironbark-delete-test", Key="k", IfMatch=etag)
    upload = s3.create_multipart_upload(Bucket="ironbark-delete-test", Key="m")["UploadId"]
    s3.abort_multipart_upload(Bucket="ironbark-delete-test", Key="m", UploadId=upload)
    ops = [e["operation"] for e in emu.control("GET", "/_ironbark/log")["entries"]]
    assert ops[-4:] == ["HeadObject", "DeleteObject", "CreateMultipartUpload", "AbortMultipartUpload"]
