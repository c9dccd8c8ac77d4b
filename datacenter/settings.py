"""Settings: environment variables prefixed ``DATACENTER_``, then ``datacenter.toml``, then defaults.

    DATACENTER_HOME             data folder (default ./datacenter-data)
    DATACENTER_CATALOG_URL      sqlite:///path/to/catalog.sqlite (default: <home>/catalog.sqlite)
                                or postgresql://user:password@host:5432/dbname (pgstac)
    DATACENTER_STORE_URL        a folder or s3://bucket/prefix (default: <home>/store)
    DATACENTER_S3_ENDPOINT_URL  S3 endpoint for s3:// stores (credentials: the usual AWS_* variables)
    DATACENTER_S3_REGION        S3 region name (optional)
    DATACENTER_DASK_SCHEDULER   address of a dask.distributed scheduler (empty: local threads)
    DATACENTER_STORE_RETRIES    attempts per store call on a transient failure (default 4)
    DATACENTER_STORE_TIMEOUT    seconds to wait for the object store to answer (default 20)
    DATACENTER_API_MAX_BODY_BYTES  largest request body the API reads (default 1 MiB; more: 413)
    DATACENTER_API_BODY_TIMEOUT    seconds a request body may take to arrive (default 15; then 408)
    DATACENTER_API_RETRY_AFTER     seconds in `Retry-After` of a 503 (store/catalog outage; default 5)
    DATACENTER_API_MAX_NESTING, _MAX_NOT_NESTING, _MAX_FILTER_TERMS, _MAX_LIST_VALUES, _MAX_LIKE_LENGTH,
    _MAX_VERTICES, _MAX_REPAIR_VERTICES, _MAX_SORT_FIELDS, _MAX_Q_TERMS
                                bounds on one search (docs/security.md, "Request limits")
    DATACENTER_API_AUTH_FAILURES_PER_ADDRESS (20), _AUTH_FAILURES_PER_KEY (10),
    _PARTNER_REQUESTS (6000), _RATE_WINDOW (60 s)
                                failed authentications per client address / key prefix and
                                requests per partner in one window (then 429; 0: no limit)
    DATACENTER_API_SEARCH_TIMEOUT  seconds one search may run its SQL (default 10; then 503)
    DATACENTER_ADMIN_KEYS       comma-separated API keys allowed to write (STAC transactions)
    DATACENTER_DASK_WORKERS     with no scheduler address: 0 = threads in the server process,
                                N = a LocalCluster of N worker processes
    DATACENTER_SUBSET_SYNC_LIMIT  largest subset (bytes, estimated) answered synchronously (256 MiB)
    DATACENTER_JOB_RESULT_TTL_HOURS  how long job results stay downloadable (default 72)
    DATACENTER_WORK_DIR         where subsets and jobs write before serving or storing (default:
                                the system temp folder)
    DATACENTER_JOB_WORKERS      jobs run at once by one API process, fairly across partners (2)
    DATACENTER_JOB_NICE         how much lower large jobs' threads run than the API's (nice; 10)
    DATACENTER_JOB_SMALL_BYTES  jobs estimated at most this run at the API's priority (16 MiB)
    DATACENTER_JOB_MAX_BYTES    hard cap on a job's estimated output, anyone's (16 GiB; more: 413)
    DATACENTER_JOB_RETRY_AFTER  seconds in `Retry-After` of a 429 for a full job queue (30)
    DATACENTER_PARTNER_CONCURRENT_JOBS  a partner's jobs running at once per API process (1)
    DATACENTER_PARTNER_QUEUED_JOBS      a partner's jobs waiting to run (10; more: 429)
    DATACENTER_PARTNER_JOB_BYTES        a partner's largest job, estimated bytes (4 GiB; 413)
    DATACENTER_PARTNER_DAILY_BYTES      estimated bytes of a partner's jobs per 24 h (64 GiB; 429)
                                (the PARTNER_ defaults apply unless `datacenter partners limits`
                                set a partner's own; 0 = no limit)
    DATACENTER_INGEST_GDAL_CACHE_MIB  GDAL block cache of an ingest worker process, MiB (default
                                64; 0 = GDAL's default, 5 % of RAM)
    DATACENTER_DEFAULT_OWNER    dc:owner of a collection created by an ingest given no --owner
                                (default: none, so such records are visible to administrators only)
    DATACENTER_SEARCH_COUNT_LIMIT  searches count matches exactly up to this many and leave
                                `numberMatched` out above it (default 10000; 0: never count)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from datacenter.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DATACENTER_", toml_file="datacenter.toml", extra="ignore"
    )

    home: Path = Path("./datacenter-data")
    catalog_url: str = ""
    store_url: str = ""
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    dask_scheduler: str = ""
    store_retries: int = 4
    store_timeout: float = 20.0
    api_max_body_bytes: int = 1024 * 1024
    api_body_timeout: float = 15.0
    api_retry_after: int = 5
    # bounds on one search, `api.request_limits.RequestLimits` (400 above them)
    api_max_nesting: int = Field(16, ge=1)
    api_max_not_nesting: int = Field(4, ge=1)
    api_max_filter_terms: int = Field(1_000, ge=1)
    api_max_list_values: int = Field(1_000, ge=1)
    api_max_like_length: int = Field(256, ge=1)
    api_max_vertices: int = Field(10_000, ge=1)
    api_max_repair_vertices: int = Field(200, ge=0)
    api_max_sort_fields: int = Field(8, ge=1)
    api_max_q_terms: int = Field(100, ge=1)
    # rate limits, `api.rate_limits.RateLimiter` (429 above them; 0: no limit)
    api_auth_failures_per_address: int = Field(20, ge=0)
    api_auth_failures_per_key: int = Field(10, ge=0)
    api_partner_requests: int = Field(6_000, ge=0)
    api_rate_window: float = Field(60.0, gt=0)
    api_search_timeout: float = Field(10.0, ge=0)  # seconds of SQL per search (0: no bound)
    admin_keys: str = ""  # comma-separated; see `admin_key_set`
    dask_workers: int = 0
    subset_sync_limit: int = 256 * 1024 * 1024
    job_result_ttl_hours: float = 72.0
    work_dir: Path | None = None
    job_workers: int = Field(2, ge=1)
    job_nice: int = Field(10, ge=0, le=19)
    job_processes: bool = True  # large jobs in worker processes (api.subset.job_process)
    job_small_bytes: int = Field(16 * 1024**2, ge=0)
    job_max_bytes: int = Field(16 * 1024**3, ge=1)
    job_retry_after: int = Field(30, ge=1)
    partner_concurrent_jobs: int = Field(1, ge=0)
    partner_queued_jobs: int = Field(10, ge=0)
    partner_job_bytes: int = Field(4 * 1024**3, ge=0)
    partner_daily_bytes: int = Field(64 * 1024**3, ge=0)
    ingest_gdal_cache_mib: int = Field(64, ge=0)
    search_count_limit: int = Field(default=10_000, ge=0)
    browse_basemap: str = "lunar-basemap"  # the collection whose mosaic is the browse page's basemap
    default_owner: str = ""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @field_validator("catalog_url")
    @classmethod
    def _known_catalog_scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite://", "postgresql://", "postgres://")):
            raise ValueError(
                f"DATACENTER_CATALOG_URL={value!r} is not understood: use sqlite:///path/to/file.sqlite"
                " or postgresql://user:password@host:5432/dbname (PostGIS + pgstac)"
            )
        return value

    @property
    def resolved_catalog_url(self) -> str:
        """The catalog URL, defaulting to a SQLite file in the data home."""
        return self.catalog_url or f"sqlite:///{(self.home / 'catalog.sqlite').resolve()}"

    @property
    def admin_key_set(self) -> frozenset[str]:
        """The admin API keys (Authorization: Bearer <key>) that may write through the API."""
        return frozenset(k.strip() for k in self.admin_keys.split(",") if k.strip())

    @property
    def resolved_store_url(self) -> str:
        """The store URL, defaulting to a folder in the data home."""
        return self.store_url or str((self.home / "store").resolve())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; a bad value becomes a `ConfigError` naming the setting."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"DATACENTER_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None
