"""schemathesis hooks for the apiserver: msgpack request bodies and answers (the server speaks
JSON and msgpack; schemathesis knows only JSON by itself). Loaded by .ci/schemathesis through
SCHEMATHESIS_HOOKS."""

import datetime

import msgpack
import schemathesis

INT64 = (-(2**63), 2**64 - 1)


def _packable(value):
    """The value with integers msgpack cannot hold (past 64 bits) as floats, as JSON would carry
    them to a server that reads 64-bit integers."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        return float(value)
    if isinstance(value, list):
        return [_packable(item) for item in value]
    if isinstance(value, dict):
        return {key: _packable(item) for key, item in value.items()}
    return value


@schemathesis.serializer("application/msgpack")
def msgpack_body(ctx, value):
    return {"data": msgpack.packb(_packable(value), use_bin_type=True)}


def _as_json(value):
    """The answer as its JSON form: msgpack timestamps (extension -1) as RFC 3339 text, as the
    server writes times in JSON, so that both encodings are checked against the same schema."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, list):
        return [_as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    return value


@schemathesis.deserializer("application/msgpack")
def msgpack_answer(ctx, response):
    return _as_json(msgpack.unpackb(response.content, raw=False, timestamp=3))
