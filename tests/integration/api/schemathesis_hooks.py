"""schemathesis's extensions for this API, loaded by the pytest plugin (imported) and by its CLI
run (SCHEMATHESIS_HOOKS): the push body's NDJSON form."""

from __future__ import annotations

import json
from typing import Any

import schemathesis


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """The generated text as it is (anything else, as JSON)."""
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()
