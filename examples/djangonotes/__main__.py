"""`python -m examples.djangonotes [USER]`: run the demo query for one user.

Configures Django with an in-memory SQLite database, loads the demo data
and prints the first page of the user's notes connection, with its
`totalCount`, and each team's notes (filtered by the same rule).
"""

from __future__ import annotations

import asyncio
import json
import sys

QUERY = """
query($after: String) {
  notes(first: 5, after: $after) {
    totalCount
    edges { node { id title owner } }
    pageInfo { hasNextPage endCursor }
  }
  teams { name notes { title } }
}
"""


def main(argv: list[str]) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": "file:djangonotes?mode=memory&cache=shared",
                }
            },
            INSTALLED_APPS=["examples.djangonotes"],
            DEFAULT_AUTO_FIELD="django.db.models.AutoField",
            USE_TZ=True,
        )
        django.setup()
    from .data import seed
    from .schema import schema

    seed()
    user = argv[0] if argv else "alice"
    result = asyncio.run(schema.execute(QUERY, context_value={"user": user}))
    print(
        json.dumps(
            {
                "data": result.data,
                "errors": result.errors and [str(error) for error in result.errors],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
