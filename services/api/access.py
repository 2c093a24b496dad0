"""Who may read what: reader keys read every feed; an agency's key reads only its own feeds."""

from __future__ import annotations

from services.api.errors import Forbidden
from services.common.feeds import FeedDefinition
from services.common.keys import Principal


def require_read(caller: Principal, feed: FeedDefinition) -> None:
    if caller.kind == "reader":
        return
    if caller.kind == "agency" and caller.subject == feed.agency:
        return
    raise Forbidden(f"this key may not read feed {feed.feed!r}")
