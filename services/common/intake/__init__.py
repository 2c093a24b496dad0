"""A department's record to canonical rows, or a rejection saying why not: decoded, normalised
to the data dictionary, admitted within the feed's event-time bounds. Pure; the worker and the
HTTP push check every record through ``FeedIntake``."""
