"""Keep secrets out of the server's log: no query string is ever logged.

Uvicorn logs each request with its full URL: `"POST /graphql?x=1 HTTP/1.1"`
on `uvicorn.access`, and each WebSocket handshake (`"WebSocket
/graphql?token=..." [accepted]`) on `uvicorn.error`. A URL is the wrong place
for a credential (it also ends up in proxy logs and browser history), so the
app never reads a token from one; but a client may still send one, and a
GraphQL GET request carries its variables there. This filter cuts the query
string from every path those two loggers print, so whatever a client put in
a URL never reaches the log.
"""

from __future__ import annotations

import logging

UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")
REDACTED = "?[query string not logged]"


class DropQueryStrings(logging.Filter):
    """Replace the query string of every URL path in a record's arguments.

    Uvicorn passes the path as a `%s` argument, never formatted into the
    message, so the arguments are the place to clean.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_without_query(arg) for arg in record.args)
        return True


def _without_query(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "?" in value:
        return value.split("?", 1)[0] + REDACTED
    return value


def drop_query_strings_from_uvicorn_logs() -> None:
    """Install `DropQueryStrings` on uvicorn's loggers (once).

    Filters on a logger survive uvicorn's own `logging.config.dictConfig`
    (it replaces handlers, not filters), so this may run before
    `uvicorn.run`.
    """
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
            logger.addFilter(DropQueryStrings())
