"""How a pull fails when the failure is expected: the department's API, the broker or the store
could not do their part. The pull stops, its ``since`` mark stays where it was, the failure is
counted and said in one line; the connector tries again at its next period."""

from __future__ import annotations


class PullFailed(Exception):
    """A pull that did not complete; the message says what, naming the URL (never a header)."""

    kind = "http"  # the failures metric's label: the API answered wrong or not at all


class CredentialsRefused(PullFailed):
    """401 or 403: the key is wrong, expired or not allowed this resource."""

    kind = "credentials"


class PageNotJson(PullFailed):
    """A page that is not JSON; it is quarantined with its URL."""

    kind = "not_json"


class PageUnreadable(PullFailed):
    """JSON, but without the records where the definition says (or a paging that loops)."""

    kind = "unreadable"


class BrokerRefused(PullFailed):
    """Kafka did not acknowledge the records in time."""

    kind = "kafka"


class StoreUnavailable(PullFailed):
    """The store, which keeps the ``since`` marks, could not be reached."""

    kind = "store"
