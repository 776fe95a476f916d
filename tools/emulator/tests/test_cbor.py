"""CloudWatch over Smithy RPC v2 CBOR (what aws-sdk-rust's CloudWatch client speaks).

Requests are built with botocore's own ``RpcV2CBORSerializer`` and signed with SigV4
(scope ``monitoring``), answers read with its ``RpcV2CBORParser``; plus unit tests of
the CBOR codec (cbor2, set up by ``dumps``/``loads`` in ``ironbark_emulator/cbor.py``).
"""

from __future__ import annotations

import gzip
import math
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from typing import Any

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.parsers
import botocore.serialize
import botocore.session
import pytest

from conftest import Server
from ironbark_emulator import cbor

CW = botocore.session.get_session().get_service_model("cloudwatch")
ALARM_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"


def cbor_call(srv: Server, operation: str, params: dict[str, Any] | None = None,
              access_key: str = "test", raw_body: bytes | None = None,
              gzip_body: bool = False) -> tuple[int, dict[str, Any], dict[str, str]]:
    """One CloudWatch call the way aws-sdk-rust makes it; returns (status, parsed, headers)."""
    op = CW.operation_model(operation)
    req = botocore.serialize.create_serializer("smithy-rpc-v2-cbor").serialize_to_request(params or {}, op)
    body = req["body"] if raw_body is None else raw_body
    headers = dict(req["headers"])
    if gzip_body:  # aws-sdk-rust compresses PutMetricData bodies of 10 KiB and more
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    aws_req = botocore.awsrequest.AWSRequest(method="POST", url=srv.url + req["url_path"], data=body,
                                             headers=headers)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(access_key, "test"), "monitoring",
                            "us-east-1").add_auth(aws_req)
    http = urllib.request.Request(aws_req.url, data=body, method="POST", headers=dict(aws_req.headers.items()))
    try:
        with urllib.request.urlopen(http, timeout=30) as r:
            status, headers, data = r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as exc:
        status, headers, data = exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()
    if status < 300 or headers.get("content-type") == "application/cbor":
        parsed = botocore.parsers.create_parser("smithy-rpc-v2-cbor").parse(
            {"status_code": status, "headers": headers, "body": data}, op.output_shape)
    else:
        parsed = {"raw": data}
    return status, parsed, headers


def put_alarm(srv: Server, name: str, **extra: Any) -> None:
    """PutMetricAlarm over CBOR."""
    params = {"AlarmName": name, "Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum",
              "Period": 300, "EvaluationPeriods": 2, "DatapointsToAlarm": 1, "Threshold": 1.0,
              "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
              "Dimensions": [{"Name": "FunctionName", "Value": "api"}],
              "AlarmActions": [TOPIC], "OKActions": [TOPIC]}
    params.update(extra)
    status, parsed, headers = cbor_call(srv, "PutMetricAlarm", params)
    assert status == 200, parsed
    assert headers["content-type"] == "application/cbor" and headers["smithy-protocol"] == "rpc-v2-cbor"


# -------------------------------------------------------------------- codec
@pytest.mark.parametrize("value", [
    0, 1, 23, 24, 255, 256, 65535, 65536, 2**32, 2**64 - 1, 2**64, 2**70,
    -1, -24, -25, -256, -257, -65537, -(2**63), -(2**64), -(2**70),
    0.0, 1.5, -2.25, 1e300, -1e-300, 3.141592653589793,
    "", "a", "ünïcødé ✓", "x" * 70000, b"", b"\x00\xff" * 40,
    None, True, False, [], {}, [1, [2, [3, {"k": [None]}]]],
    {"a": {"b": {"c": [1.5, -7, "z", b"\x01"]}}, "n": -100},
    cbor.Tag(1, 1700000000), cbor.Tag(1, 1700000000.25), cbor.Tag(42, [1, "x"]),
    cbor.Simple(16), cbor.Simple(100),
])
def test_cbor_codec_round_trip(value: Any) -> None:
    assert cbor.loads(cbor.dumps(value)) == value


@pytest.mark.parametrize("hexdata,value", [  # RFC 8949 appendix A
    ("f93c00", 1.0), ("f97bff", 65504.0), ("f9c400", -4.0), ("fa47c35000", 100000.0),
    ("fb3ff199999999999a", 1.1), ("3bffffffffffffffff", -18446744073709551616),
    ("c11a514b67b0", cbor.Tag(1, 1363896240)), ("c1fb41d452d9ec200000", cbor.Tag(1, 1363896240.5)),
    ("5f42010243030405ff", b"\x01\x02\x03\x04\x05"), ("7f657374726561646d696e67ff", "streaming"),
    ("9fff", []), ("9f018202039f0405ffff", [1, [2, 3], [4, 5]]),
    ("bf61610161629f0203ffff", {"a": 1, "b": [2, 3]}), ("a201020304", {1: 2, 3: 4}),
    ("f7", None), ("f0", cbor.Simple(16)),
])
def test_cbor_decodes_rfc_vectors(hexdata: str, value: Any) -> None:
    assert cbor.loads(bytes.fromhex(hexdata)) == value


def test_cbor_codec_special_cases() -> None:
    assert cbor.dumps(1.0) == bytes.fromhex("fb3ff0000000000000")  # doubles stay doubles
    assert cbor.dumps(-1) == b"\x20" and cbor.dumps({}) == b"\xa0"
    assert math.isnan(cbor.loads(bytes.fromhex("f97e00")))
    assert cbor.loads(bytes.fromhex("f97c00")) == math.inf
    when = datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=timezone.utc)
    assert cbor.loads(cbor.dumps(when)) == cbor.Tag(1, when.timestamp())
    for bad in ("", "1a0102", "a1", "ff", "9f01", "0001", "1c", "62c328", "a1810101"):
        with pytest.raises(cbor.CBORDecodeError):
            cbor.loads(bytes.fromhex(bad))
    with pytest.raises(cbor.CBORDecodeError):
        cbor.loads(b"\x81" * (cbor.MAX_DEPTH + 5) + b"\x00")


def test_cbor_codec_setup_over_cbor2() -> None:
    """Where cbor2's defaults differ from what the adapter needs, ``dumps``/``loads`` override them."""
    assert cbor.dumps(math.nan) == bytes.fromhex("fb7ff8000000000000")  # cbor2 alone: half float f97e00
    assert cbor.dumps([math.inf, -math.inf]) == bytes.fromhex("82fb7ff0000000000000fbfff0000000000000")
    assert cbor.dumps(datetime(2024, 1, 1)) == bytes.fromhex("c11a65920080")  # tag 1, naive is UTC
    assert cbor.dumps(memoryview(b"ab")) == b"\x42ab" and cbor.dumps(bytearray(b"ab")) == b"\x42ab"
    assert cbor.dumps((1, "a")) == b"\x82\x01\x61a" and cbor.dumps({"a": [1]}) == b"\xa1\x61a\x81\x01"
    precise = 1704067200.1234567  # finer than a datetime's microseconds: tag 1 stays a number
    assert cbor.loads(cbor.dumps(cbor.Tag(1, precise))).value == precise
    assert cbor.loads(bytes.fromhex("c074323031332d30332d32315432303a30343a30305a")) == \
        cbor.Tag(0, "2013-03-21T20:04:00Z")  # RFC 8949 appendix A, not a datetime
    for raw, tag in (("d9d9f7a0", 55799), ("d81c8101", 28), ("d81d00", 29), ("d901008100", 256),
                     ("d9010280", 258), ("d818456449455446", 24), ("c482211901f4", 4)):
        value = cbor.loads(bytes.fromhex(raw))  # self-described, shared / string refs, set, decimal
        assert isinstance(value, cbor.Tag) and value.tag == tag
    assert cbor.loads(bytes.fromhex("c2f6")) == cbor.Tag(2, None)  # a bignum tag around a non-byte string
    decoded = cbor.loads(bytes.fromhex("83f7d82a820102bf61619f01ffff"))
    assert decoded == [None, cbor.Tag(42, [1, 2]), {"a": [1]}]
    assert type(decoded[1].value) is list and type(decoded[2]) is dict and type(decoded[2]["a"]) is list
    for bad in ("f818", "f800", "a1d82a810101", "a1a00101"):  # two-byte simple < 32 (RFC 8949 3.3); keys
        with pytest.raises(cbor.CBORDecodeError):
            cbor.loads(bytes.fromhex(bad))


def test_cbor_output_follows_the_model() -> None:
    shape = CW.operation_model("DescribeAlarms").output_shape
    out = cbor.json_to_cbor({"MetricAlarms": [{"Threshold": 1, "Period": "60", "Unknown": 1, "Unit": None,
                                               "StateUpdatedTimestamp": "2024-01-01T00:00:00.500Z",
                                               "AlarmConfigurationUpdatedTimestamp": 1704067200}]}, shape)
    alarm = out["MetricAlarms"][0]
    assert alarm == {"Threshold": 1.0, "Period": 60, "StateUpdatedTimestamp": cbor.Tag(1, 1704067200.5),
                     "AlarmConfigurationUpdatedTimestamp": cbor.Tag(1, 1704067200)}
    assert isinstance(alarm["Threshold"], float)
    blob = CW.operation_model("GetMetricWidgetImage").output_shape
    assert cbor.json_to_cbor({"MetricWidgetImage": "aGk="}, blob) == {"MetricWidgetImage": b"hi"}
    stats = CW.operation_model("GetMetricStatistics").input_shape
    assert cbor.cbor_to_json({"StartTime": cbor.Tag(1, 1.5), "EndTime": cbor.Tag(1, 2)}, stats) == \
        {"StartTime": 1.5, "EndTime": 2}


# ------------------------------------------------------------ end to end
def test_plain_moto_has_no_cbor(moto_srv: Server) -> None:
    status, _, _ = cbor_call(moto_srv, "DescribeAlarms", {})
    assert status == 404


def test_cbor_metric_alarm_with_tags(emu: Server) -> None:
    put_alarm(emu, "api-errors", Threshold=2.5, Tags=[{"Key": "team", "Value": "core"}])
    status, out, _ = cbor_call(emu, "DescribeAlarms",
                               {"AlarmNames": ["api-errors"], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    assert status == 200
    assert out["CompositeAlarms"] == []
    [alarm] = out["MetricAlarms"]
    assert alarm["AlarmArn"] == ALARM_ARN + "api-errors"
    assert alarm["Threshold"] == 2.5 and alarm["Period"] == 300 and alarm["EvaluationPeriods"] == 2
    assert alarm["DatapointsToAlarm"] == 1 and alarm["Statistic"] == "Sum"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "api"}]
    assert alarm["AlarmActions"] == [TOPIC] and alarm["OKActions"] == [TOPIC]
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime)
    assert isinstance(alarm["AlarmConfigurationUpdatedTimestamp"], datetime)
    status, tags, _ = cbor_call(emu, "ListTagsForResource", {"ResourceARN": ALARM_ARN + "api-errors"})
    assert status == 200 and tags["Tags"] == [{"Key": "team", "Value": "core"}]
    assert cbor_call(emu, "TagResource", {"ResourceARN": ALARM_ARN + "api-errors",
                                          "Tags": [{"Key": "env", "Value": "dev"}]})[0] == 200
    assert cbor_call(emu, "UntagResource", {"ResourceARN": ALARM_ARN + "api-errors", "TagKeys": ["team"]})[0] == 200
    _, tags, _ = cbor_call(emu, "ListTagsForResource", {"ResourceARN": ALARM_ARN + "api-errors"})
    assert tags["Tags"] == [{"Key": "env", "Value": "dev"}]


def test_cbor_composite_alarm_and_delete(emu: Server) -> None:
    put_alarm(emu, "a")
    status, _, _ = cbor_call(emu, "PutCompositeAlarm", {"AlarmName": "combo", "AlarmRule": 'ALARM("a")',
                                                        "AlarmActions": [TOPIC]})
    assert status == 200
    _, out, _ = cbor_call(emu, "DescribeAlarms", {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    assert [a["AlarmName"] for a in out["MetricAlarms"]] == ["a"]
    [combo] = out["CompositeAlarms"]
    assert combo["AlarmRule"] == 'ALARM("a")' and combo["AlarmActions"] == [TOPIC]
    assert isinstance(combo["StateUpdatedTimestamp"], datetime)
    _, out, _ = cbor_call(emu, "DescribeAlarms", {"AlarmNames": ["combo"],
                                                  "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    assert out["MetricAlarms"] == [] and [c["AlarmName"] for c in out["CompositeAlarms"]] == ["combo"]
    status, _, headers = cbor_call(emu, "DeleteAlarms", {"AlarmNames": ["a", "combo"]})
    assert status == 200 and headers["content-type"] == "application/cbor"
    _, out, _ = cbor_call(emu, "DescribeAlarms", {"AlarmTypes": ["MetricAlarm", "CompositeAlarm"]})
    assert out["MetricAlarms"] == [] and out["CompositeAlarms"] == []


def test_cbor_dashboards_and_missing_dashboard(emu: Server) -> None:
    body = '{"widgets":[{"type":"text","x":0,"y":0,"width":6,"height":3,"properties":{"markdown":"hi"}}]}'
    status, out, _ = cbor_call(emu, "PutDashboard", {"DashboardName": "ops", "DashboardBody": body})
    assert status == 200 and out.get("DashboardValidationMessages", []) == []
    _, out, _ = cbor_call(emu, "GetDashboard", {"DashboardName": "ops"})
    assert out["DashboardBody"] == body and out["DashboardName"] == "ops"
    _, out, _ = cbor_call(emu, "ListDashboards", {})
    assert [d["DashboardName"] for d in out["DashboardEntries"]] == ["ops"]
    assert isinstance(out["DashboardEntries"][0]["LastModified"], datetime)
    # A missing dashboard: 404, `__type` is the shape name and x-amzn-query-error carries the
    # awsQuery code that SDKs match (aws-sdk-rust: "ResourceNotFound" -> DashboardNotFoundError).
    status, out, headers = cbor_call(emu, "GetDashboard", {"DashboardName": "nope"})
    assert status == 404 and headers["content-type"] == "application/cbor"
    assert headers["x-amzn-query-error"] == "ResourceNotFound;Sender"
    assert out["Error"]["Code"] == "ResourceNotFound"
    assert out["Error"]["QueryErrorCode"] == "DashboardNotFoundError"
    assert out["Error"]["Message"]
    assert cbor_call(emu, "DeleteDashboards", {"DashboardNames": ["ops"]})[0] == 200
    _, out, _ = cbor_call(emu, "ListDashboards", {})
    assert out["DashboardEntries"] == []


def test_cbor_empty_body_log_and_faults(emu: Server) -> None:
    status, out, _ = cbor_call(emu, "DescribeAlarms", raw_body=b"", access_key="AKIDCBORLOG")
    assert status == 200 and out["MetricAlarms"] == []
    status, out, _ = cbor_call(emu, "ListDashboards", raw_body=b"\xbf\xff", access_key="AKIDCBORLOG")
    assert status == 200 and out["DashboardEntries"] == []
    status, out, _ = cbor_call(emu, "DescribeAlarms", raw_body=b"\x9f", access_key="AKIDCBORLOG")
    assert status == 400 and out["Error"]["Code"] == "SerializationException"
    emu.control("POST", "/_ironbark/faults", {"service": "monitoring", "operation": "DescribeAlarms",
                                              "throttle": 1.0, "count": 1})
    status, out, _ = cbor_call(emu, "DescribeAlarms", {}, access_key="AKIDCBORLOG")
    assert status == 400 and out["Error"]["Code"] == "ThrottlingException"
    entries = emu.control("GET", "/_ironbark/log?access_key=AKIDCBORLOG")["entries"]
    assert [(e["service"], e["operation"], e["class"], e["status"], e["fault"]) for e in entries] == [
        ("monitoring", "DescribeAlarms", "read", 200, None),
        ("monitoring", "ListDashboards", "read", 200, None),
        ("monitoring", "DescribeAlarms", "read", 400, None),
        ("monitoring", "DescribeAlarms", "read", 400, "throttle"),
    ]


def test_cbor_gzip_metric_data_and_statistics(emu: Server) -> None:
    now = int(time.time()) // 60 * 60
    data = [{"MetricName": "Latency", "Value": float(i), "Timestamp": now - 120 + i,
             "Dimensions": [{"Name": "Api", "Value": "x" * 200}]} for i in range(40)]
    status, _, _ = cbor_call(emu, "PutMetricData", {"Namespace": "Ironbark", "MetricData": data}, gzip_body=True)
    assert status == 200
    status, out, _ = cbor_call(emu, "GetMetricStatistics", {
        "Namespace": "Ironbark", "MetricName": "Latency", "Dimensions": [{"Name": "Api", "Value": "x" * 200}],
        "StartTime": now - 600, "EndTime": now + 600, "Period": 60, "Statistics": ["Sum", "SampleCount"]})
    assert status == 200
    assert sum(p["SampleCount"] for p in out["Datapoints"]) == 40.0
    assert sum(p["Sum"] for p in out["Datapoints"]) == float(sum(range(40)))
    assert all(isinstance(p["Timestamp"], datetime) for p in out["Datapoints"])
