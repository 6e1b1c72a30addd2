"""The store keeps the lifecycle figures (issue 15): co2e_embodied_g and water_l columns, and databases written
before they existed are migrated in place (SQLite file and PostgreSQL schema alike)."""

from __future__ import annotations

import sqlalchemy as sa

from wattlens.store.db import SCHEMA_VERSION

RECORD = {"name": "w", "duration_s": 1.0, "energy_j": 10.0, "co2e_g": 0.001, "co2e_embodied_g": 0.0004, "water_l": 2e-5}


def _downgrade_to_v1(st) -> None:
    """Make the database look like one written by schema version 1 (no lifecycle columns)."""
    prefix = f'"{st.schema}".' if st.schema else ""
    with st._engine.begin() as conn:
        for column in ("co2e_embodied_g", "water_l"):
            conn.execute(sa.text(f"ALTER TABLE {prefix}measurements DROP COLUMN {column}"))
        conn.execute(sa.text(f"UPDATE {prefix}schema_version SET version = 1"))


def test_lifecycle_figures_are_columns(store_opener):
    st = store_opener()
    st.save_measurement(RECORD)
    st.save_measurement({"name": "off", "energy_j": 1.0, "co2e_g": 0.0001})  # lifecycle not asked: NULL, not 0
    rows = st.measurements()
    assert (rows[0]["co2e_embodied_g"], rows[0]["water_l"]) == (0.0004, 2e-5)
    assert (rows[1]["co2e_embodied_g"], rows[1]["water_l"]) == (None, None)


def test_version_1_database_is_migrated(store_opener):
    st = store_opener()
    st.save_measurement({"name": "old", "energy_j": 1.0})
    _downgrade_to_v1(st)
    st.close()
    again = store_opener()
    assert again.schema_version() == SCHEMA_VERSION == 2
    again.save_measurement(RECORD)
    rows = again.measurements()
    assert [r["name"] for r in rows] == ["old", "w"]
    assert rows[0]["water_l"] is None and rows[1]["water_l"] == 2e-5
