"""A database password never shows: not in errors, resume hints, log records, JSON, nor in the stored rows
(issue 18, finding 8). The loopback test server trusts loopback, so any password is accepted: what is checked is
where it would show."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from wattlens.cli.main import main
from wattlens.redact import MASK, blank, mask_url, passwords_in

SECRET = "Pw-s3cret/42"  # a slash: printed percent-encoded in the URL, so both forms must be blanked
ENCODED = "Pw-s3cret%2F42"


def _url_with_password() -> str:
    url = os.environ.get("WATTLENS_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("WATTLENS_TEST_PG_URL is not set on CI (scripts/pg.sh start)")
        pytest.skip("WATTLENS_TEST_PG_URL not set (run scripts/pg.sh start, or make test)")
    return url.replace("://postgres@", f"://postgres:{ENCODED}@", 1)


def test_mask_url_and_every_printed_form() -> None:
    url = f"postgresql+psycopg://me:{ENCODED}@127.0.0.1:5432/db"
    assert mask_url(url) == f"postgresql+psycopg://me:{MASK}@127.0.0.1:5432/db"
    found = passwords_in(["bench", f"--db={url}"])
    assert {SECRET, ENCODED} <= found
    assert blank(f"in {url} (password {SECRET})", found) == f"in {mask_url(url)} (password {MASK})"
    assert mask_url("results.sqlite") == "results.sqlite" and passwords_in(["sqlite:///x.db"]) == frozenset()


@pytest.mark.postgres
def test_no_output_log_or_stored_row_holds_the_password(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    url = _url_with_password()
    outputs = []
    for argv in (
        ["report", "no-such-run", "--db", url],
        ["results", "--db", url, "--run", "no-such-run"],
        ["-v", "measure", "--db", url, "--json", "--", sys.executable, "-c", "pass"],
        ["results", "--db", url, "--all"],
    ):
        code = main(argv)
        captured = capsys.readouterr()
        outputs.append((argv[0:2], code, captured.out + captured.err))
    assert any(MASK in text for _, _, text in outputs), outputs  # the URL was printed, masked
    for argv, _, text in outputs:
        assert SECRET not in text and ENCODED not in text, (argv, text)
    assert SECRET not in caplog.text and ENCODED not in caplog.text
    engine = sa.create_engine(url.replace(ENCODED, "x"))
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                assert not any(isinstance(v, str) and (SECRET in v or ENCODED in v) for v in row), table
    engine.dispose()


@pytest.mark.postgres
def test_a_failing_connection_in_a_fresh_process_prints_no_password(tmp_path: Path) -> None:
    url = _url_with_password()
    bad = url.replace(url.split("@", 1)[1].split("/", 1)[0], "127.0.0.1:1")  # same URL, a closed port
    proc = subprocess.run(
        [sys.executable, "-m", "wattlens", "results", "--db", bad],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode != 0 and proc.stderr.strip()
    assert SECRET not in proc.stderr + proc.stdout and ENCODED not in proc.stderr + proc.stdout


def test_the_module_examples_run() -> None:
    import doctest

    import wattlens.redact

    result = doctest.testmod(wattlens.redact)
    assert result.attempted > 0 and result.failed == 0
