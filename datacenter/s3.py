"""The S3 filesystem of the store: s3fs with every request bounded in time.

Its own module so that s3fs, aiobotocore and botocore (0.3 s to import) load only when a
store or an ingest prefix is on S3, not at every start of the CLI or the API.
"""

from __future__ import annotations

from typing import Any

from botocore.handlers import add_expect_header
from s3fs import S3FileSystem


class BoundedS3FileSystem(S3FileSystem):
    """s3fs whose clients send no ``Expect: 100-continue``: aiohttp waits for the interim
    answer to it with no timeout at all (not even the read timeout), so an endpoint that
    accepts a PUT and never answers hung an upload forever. Without it a PUT is bounded by
    the read timeout like any request. (A subclass, not a custom session, so the filesystem
    still pickles: Dask ships it to workers.)"""

    async def set_session(self, refresh: bool = False, kwargs: dict[str, Any] | None = None) -> Any:
        client = await super().set_session(refresh=refresh, kwargs=kwargs or {})
        client.meta.events.unregister("before-call.s3", add_expect_header)
        return client


def bounded_s3_filesystem(endpoint_url: str | None, region: str | None, timeout: float) -> Any:
    """An s3fs filesystem whose every request is bounded: `timeout` seconds to connect and
    `timeout` seconds between bytes read (no 100-continue wait, see `BoundedS3FileSystem`), one
    attempt per call (the bounded retry loop is `Store._call`'s)."""
    client_kwargs: dict[str, str] = {}
    if endpoint_url:
        client_kwargs["endpoint_url"] = endpoint_url
    if region:
        client_kwargs["region_name"] = region
    fs = BoundedS3FileSystem(
        client_kwargs=client_kwargs, use_listings_cache=False,
        config_kwargs={
            "connect_timeout": timeout, "read_timeout": timeout,
            "retries": {"max_attempts": 1, "mode": "standard"},
        },
    )
    fs.retries = 1
    return fs
