from pathlib import Path

import pytest
from pydantic import ValidationError

from datacenter.settings import Settings


def test_defaults_put_catalog_and_store_in_the_data_home(tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "h")
    assert s.resolved_catalog_url == f"sqlite:///{(tmp_path / 'h' / 'catalog.sqlite').resolve()}"
    assert s.resolved_store_url == str((tmp_path / "h" / "store").resolve())
    assert s.dask_scheduler == ""


def test_environment_variables_with_prefix_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATACENTER_STORE_URL", "s3://lunar/store")
    monkeypatch.setenv("DATACENTER_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("DATACENTER_DASK_SCHEDULER", "tcp://127.0.0.1:8786")
    s = Settings()
    assert s.resolved_store_url == "s3://lunar/store"
    assert s.s3_endpoint_url == "http://127.0.0.1:9000"
    assert s.dask_scheduler == "tcp://127.0.0.1:8786"


def test_datacenter_toml_in_the_working_folder_is_read_below_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "datacenter.toml").write_text('home = "from-toml"\ndask_scheduler = "tcp://x:1"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATACENTER_HOME")
    assert Settings().home == Path("from-toml")
    monkeypatch.setenv("DATACENTER_HOME", "from-env")
    assert Settings().home == Path("from-env")


def test_unknown_catalog_url_scheme_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match="sqlite:///"):
        Settings(catalog_url="mysql://db/x")


def test_bad_setting_from_the_environment_becomes_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datacenter.errors import ConfigError
    from datacenter.settings import get_settings

    monkeypatch.setenv("DATACENTER_CATALOG_URL", "mysql://db/x")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="DATACENTER_CATALOG_URL"):
        get_settings()


def test_negative_ingest_gdal_cache_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from datacenter.errors import ConfigError
    from datacenter.settings import get_settings

    monkeypatch.setenv("DATACENTER_INGEST_GDAL_CACHE_MIB", "-1")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="DATACENTER_INGEST_GDAL_CACHE_MIB"):
        get_settings()
