"""RDS Data API (rds-data) executed for real against a local PostgreSQL.

AWS behaviour restored: ``ExecuteStatement``, ``BatchExecuteStatement``,
``BeginTransaction``, ``CommitTransaction`` and ``RollbackTransaction`` run the
SQL on the cluster's database and return typed records (``stringValue``,
``longValue``, ``doubleValue``, ``booleanValue``, ``isNull``, ``blobValue``,
``arrayValue``), ``columnMetadata`` when ``includeResultMetadata`` is set,
``numberOfRecordsUpdated`` and ``formattedRecords`` for ``formatRecordsAs=JSON``.
Calls fail with ``BadRequestException`` if the cluster does not exist or its
HTTP endpoint is not enabled.  moto 5.2.5 runs no SQL (always ``records: []``)
and lacks the batch/transaction calls (HTTP 404).

Each emulated Aurora cluster gets its own PostgreSQL database
(``cluster_<identifier>``); the request's ``database`` parameter is accepted
but all databases of one cluster map to that one PostgreSQL database.

https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ExecuteStatement.html
https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_Field.html
https://docs.aws.amazon.com/rdsdataservice/latest/APIReference/API_ColumnMetadata.html
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.html
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import re
import threading
import uuid
from typing import Any

from ironbark_emulator import hooks, pg
from ironbark_emulator.errors import Response, error_response
from ironbark_emulator.patches.rds import find_cluster_by_arn

#: PostgreSQL type name -> JDBC java.sql.Types code, as the Data API reports in columnMetadata.type
JDBC_TYPES: dict[str, int] = {
    "bool": -7, "int2": 5, "int4": 4, "int8": -5, "float4": 7, "float8": 8, "numeric": 2,
    "text": 12, "varchar": 12, "bpchar": 1, "name": 12, "bytea": -2, "date": 91, "time": 92,
    "timetz": 92, "timestamp": 93, "timestamptz": 93, "oid": -5, "serial": 4, "bigserial": -5,
}
SIGNED = {"int2", "int4", "int8", "float4", "float8", "numeric", "money"}
CASE_SENSITIVE = {"text", "varchar", "bpchar", "name", "char"}

_lock = threading.Lock()
#: transaction id -> (database, connection, lock)
_transactions: dict[str, tuple[str, Any, threading.Lock]] = {}
#: database -> (autocommit connection, lock)
_pool: dict[str, tuple[Any, threading.Lock]] = {}
_typnames: dict[int, str] = {}


class DataApiError(Exception):
    """A Data API error: (HTTP status, error code, message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(message: str) -> DataApiError:
    return DataApiError(400, "BadRequestException", message)


def _cluster_db(ctx: hooks.Context, body: dict[str, Any]) -> str:
    arn = body.get("resourceArn") or ""
    if not body.get("secretArn"):
        raise _bad("Parameter secretArn is required.")
    cluster = find_cluster_by_arn(arn, ctx.account, ctx.region)
    if cluster is None:
        raise _bad(f"Database cluster {arn} not found.")
    if not cluster.http_endpoint_enabled:
        raise _bad(f"HttpEndpoint is not enabled for cluster {cluster.db_cluster_identifier}. "
                   "Please refer to https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.html#data-api.troubleshooting")
    if not str(cluster.engine).startswith("aurora-postgresql"):
        raise _bad("The emulator executes SQL only for aurora-postgresql clusters.")
    return pg.db_name_for_cluster(cluster.db_cluster_identifier)


def _sql_error(exc: Exception) -> DataApiError:
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    if info:
        msg = f"ERROR: {info.get('M', '')}"
        if info.get("P"):
            msg += f"\n  Position: {info['P']}"
        msg += f"; SQLState: {info.get('C', '')}"
    else:
        msg = str(exc)
    return _bad(msg)


def _param_value(value: dict[str, Any]) -> Any:
    if value.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue"):
        if key in value:
            return value[key]
    if "blobValue" in value:
        raw = value["blobValue"]
        return base64.b64decode(raw) if isinstance(raw, str) else raw
    if "arrayValue" in value:
        arr = value["arrayValue"]
        for key in ("stringValues", "longValues", "doubleValues", "booleanValues"):
            if key in arr:
                return list(arr[key])
        if "arrayValues" in arr:
            return [_param_value({"arrayValue": a}) for a in arr["arrayValues"]]
    return None


_CASTS = {"DATE": "date", "TIME": "time", "TIMESTAMP": "timestamp", "DECIMAL": "numeric",
          "UUID": "uuid", "JSON": "jsonb"}


def _bind(sql: str, parameters: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    """Turn Data API parameters into pg8000 ``:name`` parameters (with typeHint casts)."""
    params: dict[str, Any] = {}
    for p in parameters or []:
        name = p.get("name")
        if not name:
            raise _bad("Parameter name is required.")
        params[name] = _param_value(p.get("value") or {})
        hint = p.get("typeHint")
        if hint in _CASTS:
            sql = re.sub(rf"(?<!:):{re.escape(name)}\b", f"CAST(:{name} AS {_CASTS[hint]})", sql)
    used = set(re.findall(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)", sql))
    return sql, {k: v for k, v in params.items() if k in used}


def _field(value: Any, opts: dict[str, Any]) -> dict[str, Any]:
    if value is None:
        return {"isNull": True}
    if isinstance(value, bool):
        return {"booleanValue": value}
    if isinstance(value, int):
        if opts.get("longReturnType") == "STRING":
            return {"stringValue": str(value)}
        return {"longValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, decimal.Decimal):
        if opts.get("decimalReturnType") == "DOUBLE_OR_LONG":
            return {"longValue": int(value)} if value == value.to_integral_value() else {"doubleValue": float(value)}
        return {"stringValue": str(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"blobValue": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime.datetime):
        return {"stringValue": value.replace(tzinfo=None).isoformat(sep=" ")}
    if isinstance(value, (datetime.date, datetime.time)):
        return {"stringValue": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": _array(list(value))}
    if isinstance(value, (dict,)):
        return {"stringValue": json.dumps(value)}
    return {"stringValue": str(value)}


def _array(values: list[Any]) -> dict[str, Any]:
    items = [v for v in values if v is not None]
    if items and all(isinstance(v, (list, tuple)) for v in items):
        return {"arrayValues": [_array(list(v)) for v in values]}
    if items and all(isinstance(v, bool) for v in items):
        return {"booleanValues": values}
    if items and all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return {"longValues": values}
    if items and all(isinstance(v, float) for v in items):
        return {"doubleValues": values}
    return {"stringValues": [None if v is None else str(v) for v in values]}


def _json_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return value
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ")
    return str(value) if not isinstance(value, str) else value


def _type_names(conn: Any, oids: list[int]) -> None:
    missing = [o for o in set(oids) if o not in _typnames]
    if missing:
        for oid, name in conn.run("SELECT oid::int8, typname::text FROM pg_type WHERE oid = ANY(CAST(:o AS oid[]))",
                                  o=missing):
            _typnames[int(oid)] = name


def _column_metadata(conn: Any, columns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    _type_names(conn, [c["type_oid"] for c in columns])
    out = []
    for c in columns:
        tname = _typnames.get(c["type_oid"], "unknown")
        base = tname[1:] if tname.startswith("_") else None
        prec = c.get("type_size", -1)
        out.append({
            "name": c["name"], "label": c["name"], "typeName": tname,
            "type": 2003 if base else JDBC_TYPES.get(tname, 1111),
            "arrayBaseColumnType": JDBC_TYPES.get(base, 0) if base else 0,
            "isAutoIncrement": False, "isCaseSensitive": tname in CASE_SENSITIVE,
            "isCurrency": tname == "money", "isSigned": tname in SIGNED,
            "nullable": 2, "precision": prec if prec and prec > 0 else 2147483647,
            "scale": 0, "schemaName": "", "tableName": "",
        })
    return out


def _autocommit_conn(database: str) -> tuple[Any, threading.Lock]:
    with _lock:
        entry = _pool.get(database)
    if entry is None:
        conn = pg.connect(database)
        entry = (conn, threading.Lock())
        with _lock:
            _pool[database] = entry
    return entry


def _run(database: str, transaction_id: str | None, sql: str, params: dict[str, Any]) -> tuple[Any, Any, int]:
    """Run one statement; returns (rows, columns, row_count)."""
    import pg8000.exceptions

    if transaction_id:
        with _lock:
            tx = _transactions.get(transaction_id)
        if tx is None or tx[0] != database:
            raise _bad(f"Transaction {transaction_id} is not found")
        conn, lock = tx[1], tx[2]
    else:
        conn, lock = _autocommit_conn(database)
    with lock:
        try:
            rows = conn.run(sql, **params)
            return rows, conn.columns, conn.row_count
        except pg8000.exceptions.DatabaseError as exc:
            if not transaction_id:
                try:
                    conn.run("ROLLBACK")
                except Exception:
                    pass
            raise _sql_error(exc) from exc
        except pg8000.exceptions.InterfaceError as exc:
            if not transaction_id:
                with _lock:
                    _pool.pop(database, None)
            raise _bad(str(exc)) from exc


_READ_SQL = re.compile(r"^\s*(select|with|show|values|table|explain)\b", re.I)


def _execute(ctx: hooks.Context) -> dict[str, Any]:
    body = ctx.json()
    database = _cluster_db(ctx, body)
    sql = body.get("sql")
    if not sql:
        raise _bad("Parameter sql is required.")
    sql, params = _bind(sql, body.get("parameters") or [])
    rows, columns, row_count = _run(database, body.get("transactionId"), sql, params)
    opts = body.get("resultSetOptions") or {}
    out: dict[str, Any] = {"numberOfRecordsUpdated": 0 if (columns and _READ_SQL.match(sql)) else max(row_count, 0),
                           "generatedFields": []}
    if columns:
        if body.get("formatRecordsAs") == "JSON":
            names = [c["name"] for c in columns]
            out["formattedRecords"] = json.dumps([dict(zip(names, (_json_value(v) for v in r))) for r in rows])
        else:
            out["records"] = [[_field(v, opts) for v in r] for r in rows]
        if body.get("includeResultMetadata"):
            conn, lock = _autocommit_conn(database)
            with lock:
                out["columnMetadata"] = _column_metadata(conn, columns)
    return out


def _batch(ctx: hooks.Context) -> dict[str, Any]:
    body = ctx.json()
    database = _cluster_db(ctx, body)
    sql = body.get("sql")
    if not sql:
        raise _bad("Parameter sql is required.")
    sets = body.get("parameterSets") or [[]]
    tx = body.get("transactionId")
    results = []
    own_tx = None
    if not tx:
        own_tx = _begin(database)
    try:
        for ps in sets:
            bound_sql, params = _bind(sql, ps)
            _run(database, tx or own_tx, bound_sql, params)
            results.append({"generatedFields": []})
        if own_tx:
            _finish(own_tx, commit=True)
    except Exception:
        if own_tx:
            _finish(own_tx, commit=False)
        raise
    return {"updateResults": results}


def _begin(database: str) -> str:
    conn = pg.connect(database)
    conn.run("BEGIN")
    tid = base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes).decode()
    with _lock:
        _transactions[tid] = (database, conn, threading.Lock())
    return tid


def _finish(tid: str, commit: bool) -> None:
    with _lock:
        tx = _transactions.pop(tid, None)
    if tx is None:
        raise _bad(f"Transaction {tid} is not found")
    _, conn, lock = tx
    with lock:
        try:
            conn.run("COMMIT" if commit else "ROLLBACK")
        finally:
            conn.close()


def _respond(ctx: hooks.Context, fn: Any) -> Response:
    try:
        return Response.json(200, fn(ctx))
    except DataApiError as exc:
        return error_response("rest-json", exc.status, exc.code, exc.message, "rds-data")


@hooks.before("rds-data", "ExecuteStatement")
def execute_statement(ctx: hooks.Context) -> Response:
    """ExecuteStatement."""
    return _respond(ctx, _execute)


@hooks.before("rds-data", "BatchExecuteStatement")
def batch_execute_statement(ctx: hooks.Context) -> Response:
    """BatchExecuteStatement (all parameter sets in one transaction unless one is given)."""
    return _respond(ctx, _batch)


@hooks.before("rds-data", "BeginTransaction")
def begin_transaction(ctx: hooks.Context) -> Response:
    """BeginTransaction."""
    return _respond(ctx, lambda c: {"transactionId": _begin(_cluster_db(c, c.json()))})


@hooks.before("rds-data", "CommitTransaction")
def commit_transaction(ctx: hooks.Context) -> Response:
    """CommitTransaction."""
    def run(c: hooks.Context) -> dict[str, Any]:
        body = c.json()
        _cluster_db(c, body)
        _finish(body.get("transactionId", ""), commit=True)
        return {"transactionStatus": "Transaction Committed"}
    return _respond(ctx, run)


@hooks.before("rds-data", "RollbackTransaction")
def rollback_transaction(ctx: hooks.Context) -> Response:
    """RollbackTransaction."""
    def run(c: hooks.Context) -> dict[str, Any]:
        body = c.json()
        _cluster_db(c, body)
        _finish(body.get("transactionId", ""), commit=False)
        return {"transactionStatus": "Rollback Complete"}
    return _respond(ctx, run)


def close_all() -> None:
    """Close every client connection (before PostgreSQL stops)."""
    with _lock:
        conns = [c for c, _ in _pool.values()] + [t[1] for t in _transactions.values()]
        _pool.clear()
        _transactions.clear()
    for conn in conns:
        try:
            conn.close()
        except Exception:
            pass


@hooks.on_reset
def _reset() -> None:
    close_all()
    try:
        pg.drop_all()
    except Exception as exc:  # pragma: no cover
        print(f"ironbark-emulator: dropping databases failed: {exc}", flush=True)
