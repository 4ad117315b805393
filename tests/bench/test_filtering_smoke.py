"""Smoke test for `benchmarks/filtering.py`: a small table, no timings.

The benchmark means something only if every variant returns the right page
and count with the stated number of SQL statements (`run_once` asserts both).
"""

from benchkit import load_benchmark


def test_every_variant_returns_the_visible_page_with_its_statement_count():
    bench = load_benchmark("filtering")
    assert bench.main(["--check"]) == 0


def test_the_filtered_variant_runs_as_many_statements_as_the_hand_written_one():
    bench = load_benchmark("filtering")
    engine = bench.database(100)
    cases = {case.name: case for case in bench.variants(engine, 100)}
    assert cases["authz.filter"].statements == cases["by hand"].statements == 2
    log: list[str] = []
    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", lambda *a: log.append(a[2]))
    bench.run_once(cases["authz.filter"], log)
    assert "owner_id" in log[-1]  # the filter is in the page's own statement
