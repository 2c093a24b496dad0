"""The canonical form of a normalised example, as kept in ``schemas/feeds/<feed>/expected.ndjson``.

The parametrised example test compares the normaliser's output with these files line by line;
``ioc feed-expected --feed F`` writes a draft of one for a new feed, to be checked by hand.
"""

from __future__ import annotations

from typing import Any

from services.common.canonical import Normalised, Rejection


def canonical_form(outcome: Normalised | Rejection) -> dict[str, Any]:
    if isinstance(outcome, Rejection):
        return {"rejected": outcome.reason}
    return {
        "entity": outcome.entity,
        "ts": outcome.ts.isoformat(),
        "attributes": outcome.attributes,
        "observations": {
            o.metric: o.value if o.value is not None else o.text for o in outcome.observations
        },
    }
