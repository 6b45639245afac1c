"""Schemathesis hook for .ci/schema-fuzz: a new Idempotency-Key for every request the
document allows, as real clients send one per intended change.

Schemathesis draws header values from their patterns and shrinks them, so many requests
went out under the same few keys ("0", "00") with different bodies, and the server
rightly refused them (409 idempotency-key-reused) before reaching anything else: most
order requests never got as far as the order. Requests the document forbids keep the
drawn key, so malformed keys are still sent and must still be refused. Replays of one
key are tested in crates/web/tests (api.rs, partner.rs).
"""

import uuid

import schemathesis
from schemathesis.generation import GenerationMode


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = str(uuid.uuid4())
