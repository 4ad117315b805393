"""A small team notes API protected by strawberry-authz (the README's example).

Run it with `bash scripts/serve` (or `python -m examples.teamnotes`).
"""
