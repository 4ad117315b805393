"""`python -m examples.djangonotes [USER] [--port PORT]`.

With `--port`, serves `POST /graphql` on 127.0.0.1 (Django's ASGI
application under uvicorn; the viewer is the demo user named by the
`X-User` header). Without it, prints the demo query's answer for USER
(default alice). Either way Django runs on an in-memory SQLite database
holding the demo data.
"""

from __future__ import annotations

import argparse
import asyncio
import json

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


def configure() -> None:
    """Django settings for the demo (kept if the caller configured some)."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": "file:djangonotes?mode=memory&cache=shared",
            }
        },
        INSTALLED_APPS=["examples.djangonotes"],
        ROOT_URLCONF="examples.djangonotes.urls",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        SECRET_KEY="djangonotes demo only",
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        USE_TZ=True,
    )
    django.setup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.djangonotes")
    parser.add_argument("user", nargs="?", default="alice")
    parser.add_argument("--port", type=int, help="serve POST /graphql on this port")
    args = parser.parse_args(argv)
    configure()
    from .data import seed

    seed()
    if args.port is not None:
        import uvicorn
        from django.core.asgi import get_asgi_application

        uvicorn.run(get_asgi_application(), host="127.0.0.1", port=args.port)
        return
    from .schema import schema

    result = asyncio.run(schema.execute(QUERY, context_value={"user": args.user}))
    errors = result.errors and [str(error) for error in result.errors]
    print(json.dumps({"data": result.data, "errors": errors}, indent=2))


if __name__ == "__main__":
    main()
