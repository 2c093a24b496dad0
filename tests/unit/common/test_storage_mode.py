from __future__ import annotations

import pytest

from services.common.storage_mode import StorageModeError, choose_storage_mode


def test_timescaledb_is_chosen_when_available_and_nothing_is_forced() -> None:
    assert choose_storage_mode(None, timescaledb_available=True) == "timescaledb"
    assert choose_storage_mode("", timescaledb_available=False) == "postgres"


def test_a_forced_mode_is_honoured() -> None:
    assert choose_storage_mode("postgres", timescaledb_available=True) == "postgres"


def test_forcing_timescaledb_without_the_extension_fails_clearly() -> None:
    with pytest.raises(StorageModeError, match="timescaledb extension is not installed"):
        choose_storage_mode("timescaledb", timescaledb_available=False)
    with pytest.raises(StorageModeError, match="must be timescaledb or postgres"):
        choose_storage_mode("sqlite", timescaledb_available=False)
