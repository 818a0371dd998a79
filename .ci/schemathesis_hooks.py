"""schemathesis hooks for the apiserver: msgpack request bodies and answers (the server speaks
JSON and msgpack; schemathesis knows only JSON by itself). Loaded by .ci/schemathesis through
SCHEMATHESIS_HOOKS."""

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


@schemathesis.deserializer("application/msgpack")
def msgpack_answer(ctx, response):
    return msgpack.unpackb(response.content, raw=False)
