"""moto's server with two fixes to its DynamoDB: number arithmetic, and atomic writes.

moto 5.2.5 adds numbers with `Decimal(v) if "." in v else int(v)` and stores `f"{total}"`. A
counter whose additions cancel out exactly at seven or more decimals is stored as `0E-7` (how
Decimal prints that zero), and every later `ADD` to it fails with a 500 because `int("0E-7")`
raises. Real DynamoDB normalises numbers (no exponent form, no trailing zeros), so the gateway's
budget counters (a reservation released to exactly zero) hit a failure AWS never produces.
This wrapper adds as DynamoDB does and stores the normalised result.

moto's server handles requests on many threads, and its DynamoDB checks a write's condition and
then applies the write without a lock, so two concurrent conditional writes can both pass (seen:
4 of 12 concurrent stream-lease admissions passed a limit of 3). Real DynamoDB applies each
conditional write atomically, and the gateway's budgets, rate limits and stream leases rely on
it. This wrapper runs one DynamoDB request at a time (a stronger guarantee than DynamoDB's
per-item one, which only costs the tests a little concurrency). Everything else is moto.

Usage: python infra/local/moto_server.py -H 127.0.0.1 -p PORT (the arguments of moto.server).
"""

import threading
from decimal import Decimal

from moto.dynamodb.models import dynamo_type
from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_original_add = dynamo_type.DynamoType.__add__


def _normalised(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _add(self: dynamo_type.DynamoType, other: dynamo_type.DynamoType) -> dynamo_type.DynamoType:
    if self.type == other.type and self.is_number():
        total = Decimal(self.value) + Decimal(other.value)
        return dynamo_type.DynamoType({"N": _normalised(total)})
    return _original_add(self, other)


dynamo_type.DynamoType.__add__ = _add

_dynamodb_lock = threading.Lock()
_original_call_action = DynamoHandler.call_action


def _call_action_atomically(self: DynamoHandler):
    with _dynamodb_lock:
        return _original_call_action(self)


DynamoHandler.call_action = _call_action_atomically

if __name__ == "__main__":
    main()
