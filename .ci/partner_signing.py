"""Schemathesis hook for .ci/schema-fuzz: signs partner API requests as docs/partner-api.md
says (HMAC-SHA256 under the partner's secret of METHOD, PATH?QUERY, timestamp, nonce and
hex(SHA-256(body)), joined by newlines), over the bytes actually sent.

Only requests the document allows are signed: one it forbids goes unsigned and must be
refused all the same (401), so a forbidden header value is never made good by the hook.
"""

import hashlib
import hmac
import os
import time
import uuid

import requests
import schemathesis
from schemathesis.generation import GenerationMode

import fresh_keys  # noqa: F401  (registers its own before_call: a new key per request)

KEY = os.environ.get("PARTNER_KEY", "pk_demo")
SECRET = os.environ.get("PARTNER_SECRET", "sk_demo_partner_secret").encode()


class PartnerSignature(requests.auth.AuthBase):
    def __call__(self, r):
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        timestamp = str(int(time.time()))
        nonce = uuid.uuid4().hex
        canonical = "\n".join(
            [r.method, r.path_url, timestamp, nonce, hashlib.sha256(body).hexdigest()]
        )
        r.headers["X-Simrenew-Key"] = KEY
        r.headers["X-Simrenew-Timestamp"] = timestamp
        r.headers["X-Simrenew-Nonce"] = nonce
        r.headers["X-Simrenew-Signature"] = hmac.new(
            SECRET, canonical.encode(), hashlib.sha256
        ).hexdigest()
        return r


@schemathesis.hook
def before_call(context, case, kwargs):
    meta = case.meta
    if meta is not None and meta.generation.mode == GenerationMode.POSITIVE:
        kwargs["auth"] = PartnerSignature()
