"""docs/WEB.md lists every API route the app serves, and its generated tables match the answers' records."""

from __future__ import annotations

from wattlens.web import apidoc, pages


def test_the_api_tables_are_generated_from_the_records() -> None:
    assert apidoc.is_current(), "docs/WEB.md is stale: python scripts/contracts.py"


def test_every_route_is_documented() -> None:
    from wattlens.web.app import API

    text = apidoc.DOC.read_text(encoding="utf-8")
    routes = {path for path, _ in API}
    assert routes == {e.path for e in pages.ENDPOINTS} - {"/api/"}
    for path in routes:
        assert f"`{path}`" in text or f"`GET {path}" in text, path
