"""`python -m examples.teamnotes`: create/seed the database and serve the API."""

from __future__ import annotations

import argparse
import logging
import shlex

import uvicorn

from .app import create_app
from .db import Database
from .engine import ENGINES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--db", default="examples/teamnotes.db")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="sqlite",
        help="who answers team membership and note ownership (default: sqlite)",
    )
    parser.add_argument(
        "--fault-switch",
        action="store_true",
        help="tests only: POST /_faults makes the engine's calls fail or hang",
    )
    options = parser.parse_args()

    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    app = create_app(options.db, options.engine, fault_switch=options.fault_switch)
    if options.fault_switch:
        logging.getLogger("examples.teamnotes").warning(
            "--fault-switch: POST /_faults can break the engine; tests only"
        )
    url = f"http://{options.host}:{options.port}/graphql"
    print_welcome(app.state.db, url, options.engine)
    uvicorn.run(app, host=options.host, port=options.port, log_level="info")


TEAM_NOTES_QUERY = "{ me { name role } myTeams { name notes { title body } } }"


def print_welcome(db: Database, url: str, engine: str) -> None:
    print(f"\nteamnotes: GraphiQL and the API at {url} (data: {db.path})")
    print(f"A page showing what each demo user may do: {url.removesuffix('graphql')}")
    print(f"Relationship checks answered by: {engine}")
    print("Anonymous (public field, no token needed):")
    print(f"  {curl(url, '{ publicNotes { title } }', None)}")
    print("Demo users (Authorization: Bearer <token>):")
    for user in db.users():
        print(f"  {user.name:<6} {user.role:<10} token {user.token}")
        print(f"    {curl(url, TEAM_NOTES_QUERY, user.token)}")
    print(flush=True)


def curl(url: str, query: str, token: str | None) -> str:
    import json

    body = json.dumps({"query": query})
    parts = ["curl", "-s", url, "-H", "Content-Type: application/json"]
    if token is not None:
        parts += ["-H", f"Authorization: Bearer {token}"]
    parts += ["-d", body]
    return shlex.join(parts)


if __name__ == "__main__":
    main()
