"""The object store: a local folder by default, ``s3://bucket/prefix`` through s3fs.

Everything the data center writes lives under one root and is addressed by a *key*:
a relative POSIX path such as ``lunar-dem/ldem-s87/ldem-s87.tif``. Keys never leave the
root: ``..``, absolute paths, backslashes and URL schemes are refused with `InvalidKey`.
Writes are atomic: bytes go to a temporary key, are checked (size, SHA-256), then move
into place. Every call to the store is retried with backoff on a transient failure and
then fails with a `StorageError` naming the key and the store.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import posixpath
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import fsspec

from datacenter.errors import DiskFull, InvalidKey, NotFound, StorageError
from datacenter.settings import Settings

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
CHUNK = 4 * 1024 * 1024
T = TypeVar("T")
logger = logging.getLogger(__name__)


def check_key(key: str) -> str:
    """Return `key` normalised, or raise `InvalidKey` if it could escape the store."""
    if not key or not isinstance(key, str):
        raise InvalidKey("empty storage key")
    if "\\" in key or "\x00" in key or key.startswith("/") or _SCHEME.match(key):
        raise InvalidKey(f"storage key {key!r} must be a relative path inside the store")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise InvalidKey(
            f"storage key {key!r} has an empty, '.' or '..' segment; keys are plain relative paths"
        )
    return key


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


# Errors that say "the object is not there / not allowed", never worth a retry.
_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
              FileExistsError)
# Errors that say "the server did not answer properly": retried with backoff.
# (botocore's own errors are added by `_botocore`: s3fs is imported only for an S3 store)
_TRANSIENT: tuple[type[BaseException], ...] = (OSError, TimeoutError, ConnectionError)
TEMP_PREFIX = ".incoming"
#: errno values of a full disk or an exhausted quota
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
# A store that accepted the connection but sent nothing in time (botocore, fsspec's bound).
_TIMEOUTS: tuple[type[BaseException], ...] = (TimeoutError,)


def _botocore(*names: str) -> tuple[type[BaseException], ...]:
    """botocore's exception classes `names` once botocore is loaded, else none: no
    instance of them can exist before (importing s3fs and botocore costs 0.3 s of every
    CLI start, needed only when a store or a prefix is on S3)."""
    module = sys.modules.get("botocore.exceptions")
    return tuple(getattr(module, n) for n in names) if module is not None else ()


def _timeouts() -> tuple[type[BaseException], ...]:
    return _TIMEOUTS + _botocore("ReadTimeoutError", "ConnectTimeoutError")


def is_transient(exc: BaseException) -> bool:
    """True for an outage-like failure (connection refused or reset, timeout, 5xx)."""
    return isinstance(exc, _TRANSIENT + _botocore("BotoCoreError")) and not isinstance(exc, _PERMANENT)


class Store:
    """An fsspec filesystem rooted at one folder or bucket prefix.

    Every operation that talks to the store is retried on a transient failure, `retries`
    attempts in all with exponential backoff from `backoff` seconds; then a `StorageError`
    names the operation, the key and the store (bucket and endpoint), so an operator knows
    which server to look at. A missing object is `NotFound`, a refused one `StorageError`.
    """

    def __init__(
        self,
        url: str,
        *,
        s3_endpoint_url: str | None = None,
        s3_region: str | None = None,
        retries: int = 4,
        backoff: float = 0.2,
        timeout: float = 20.0,
    ):
        self.url = url.rstrip("/")
        self.endpoint = s3_endpoint_url
        self.retries = max(1, retries)
        self.backoff = backoff
        self.timeout = timeout
        self.region = s3_region
        if url.startswith("s3://"):
            self.fs = s3_filesystem(s3_endpoint_url, s3_region, timeout)
            self.root = self.url[len("s3://") :]
            if not self.root:
                raise StorageError(f"store URL {url!r} names no bucket: use s3://bucket/prefix")
        elif "://" in url and not url.startswith("file://"):
            raise StorageError(
                f"store URL {url!r} is not supported: use a local folder or s3://bucket/prefix"
            )
        else:
            path = Path(url.removeprefix("file://")).resolve()
            path.mkdir(parents=True, exist_ok=True)
            self.fs = fsspec.filesystem("file")
            self.root = path.as_posix()

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(
            settings.resolved_store_url,
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_region=settings.s3_region,
            retries=settings.store_retries,
            timeout=settings.store_timeout,
        )

    @property
    def is_local(self) -> bool:
        protocol = self.fs.protocol
        return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    def describe(self) -> str:
        """The store as an operator knows it: URL, and the S3 endpoint if one is set."""
        return f"{self.url} (endpoint {self.endpoint})" if self.endpoint else self.url

    def path(self, key: str) -> str:
        """The filesystem path of `key` (inside the root; never exposed to API users)."""
        return posixpath.join(self.root, check_key(key))

    @property
    def _bounded(self) -> dict[str, float]:
        """Keyword arguments that bound one whole fsspec call on S3 (fsspec cancels it after
        `timeout` s); used for calls that move no object data (info, listing, delete, ranged
        reads of at most `CHUNK`). Uploads are bounded per request instead (`s3_filesystem`)."""
        return {} if self.is_local else {"timeout": self.timeout}

    @property
    def _bounded(self) -> dict[str, float]:
        """Keyword arguments bounding one whole fsspec call on S3 (fsspec cancels it after
        `timeout` s), for single-request calls that move no object data: info, listing and
        ranged reads of at most `CHUNK`. Uploads and deletes are bounded per request
        (`s3_filesystem`; fsspec's bound on a batched delete leaves its tasks unawaited)."""
        return {} if self.is_local else {"timeout": self.timeout}

    def _call(self, what: str, key: str, op: Callable[[], T]) -> T:
        """Run `op` with bounded retries; translate failures into our errors.

        A store that does not answer within `timeout` seconds (connect or read) fails the call
        at once, without retries: waiting `retries` times as long would only hang the caller.
        A full disk (ENOSPC, EDQUOT) is said to be one, naming the store, never retried."""
        delay = self.backoff
        for attempt in range(1, self.retries + 1):
            try:
                return op()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
                # e.g. "a.tif/x": a path *through* an object names nothing in the store
                raise NotFound(f"no object {key!r} in the store") from exc
            except PermissionError as exc:
                raise StorageError(
                    f"the store {self.describe()} refused to {what} {key!r}: {exc}; check the "
                    "credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) and bucket policy"
                ) from exc
            except _timeouts() as exc:
                raise StorageError(
                    f"could not {what} {key!r}: the object store at {self.describe()} did not answer "
                    f"within {self.timeout:g} s ({type(exc).__name__}); check that it and its storage "
                    "servers are running and reachable, then retry (DATACENTER_STORE_TIMEOUT sets the wait)"
                ) from exc
            except OSError as exc:
                if exc.errno not in DISK_FULL:
                    if attempt == self.retries:
                        raise self._exhausted(what, key, exc) from exc
                    self._wait(what, key, exc, attempt, delay)
                    delay *= 2
                    continue
                raise DiskFull(
                    f"could not {what} {key!r}: the store {self.describe()} is full "
                    f"({exc.strerror or exc}); free space there or grow it, then re-run "
                    "(nothing was published)"
                ) from exc
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if attempt == self.retries:
                    raise self._exhausted(what, key, exc) from exc
                self._wait(what, key, exc, attempt, delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _exhausted(self, what: str, key: str, exc: BaseException) -> StorageError:
        return StorageError(
            f"could not {what} {key!r}: the store {self.describe()} did not answer "
            f"after {self.retries} attempts ({type(exc).__name__}: {exc}); "
            "check that the object store is running and reachable, then retry"
        )

    def _wait(self, what: str, key: str, exc: BaseException, attempt: int, delay: float) -> None:
        logger.warning("store %s: %s %r failed (%s), retry %d of %d in %.1f s",
                       self.describe(), what, key, exc, attempt, self.retries - 1, delay)
        time.sleep(delay)

    def exists(self, key: str) -> bool:
        try:
            self.info(key)
        except NotFound:
            return False
        return True

    def info(self, key: str) -> ObjectInfo:
        path = self.path(key)
        info = self._call("read the size of", key, lambda: self.fs.info(path, **self._bounded))
        if info.get("type") == "directory":
            raise NotFound(f"{key!r} is a folder in the store, not an object")
        return ObjectInfo(key=key, size=int(info["size"]))

    def list(self, prefix: str = "") -> list[str]:
        """Every object key under `prefix` (all of them for ""), temporary uploads excluded."""
        base = self.path(prefix) if prefix else self.root
        if self.is_local and not Path(base).exists():
            return []
        found = self._call("list", prefix or "/", lambda: self.fs.find(base, **self._bounded))
        root = self.root.rstrip("/") + "/"
        keys = (p[len(root):] if p.startswith(root) else p for p in found)
        return sorted(k for k in keys if not k.startswith(TEMP_PREFIX + "/"))

    def put_file(self, local_path: str | Path, key: str, *, sha256: str | None = None) -> ObjectInfo:
        """Copy a local file to `key` atomically; with `sha256`, verified before it is visible."""
        size = Path(local_path).stat().st_size
        return self._atomic_write(
            key, size, sha256, lambda tmp: self.fs.put_file(str(local_path), tmp)
        )

    def put_bytes(self, data: bytes, key: str) -> ObjectInfo:
        """Write `data` to `key` atomically."""
        return self._atomic_write(
            key, len(data), hashlib.sha256(data).hexdigest(), lambda tmp: self.fs.pipe_file(tmp, data)
        )

    def _atomic_write(
        self, key: str, size: int, sha256: str | None, write: Callable[[str], object]
    ) -> ObjectInfo:
        """Upload to a temporary key, check it, then move it to `key`.

        On S3 the temporary key sits under ``<root>/.incoming/`` (never inside an item's
        folder, so listings of published data never show it); the move is a server-side
        copy then a delete of the temporary key. Readers see the old object or the whole
        new one, never a partial one. A failure removes the temporary key (best effort).
        """
        final = self.path(key)
        name = posixpath.basename(final)
        if self.is_local:
            tmp = posixpath.join(posixpath.dirname(final), f".tmp-{uuid.uuid4().hex}-{name}")
            self.fs.makedirs(posixpath.dirname(final), exist_ok=True)
        else:
            tmp = posixpath.join(self.root, TEMP_PREFIX, f"{uuid.uuid4().hex}-{name}")
        tmp_key = tmp[len(self.root.rstrip("/")) + 1 :]
        try:
            self._call("upload", key, lambda: write(tmp))
            stored = int(self._call("check the upload of", key, lambda: self.fs.info(tmp, **self._bounded))["size"])
            if stored != size:
                raise StorageError(
                    f"the upload of {key!r} to {self.describe()} holds {stored} bytes, expected "
                    f"{size}; not published"
                )
            if sha256 is not None and self._digest(tmp, tmp_key) != sha256:
                raise StorageError(
                    f"the upload of {key!r} to {self.describe()} reads back with another "
                    "SHA-256 than the local file; not published"
                )
            self._call("publish", key, lambda: self.fs.mv(tmp, final))
        except BaseException as exc:
            if not _unanswered(exc):  # else `sweep_incoming` / the product sweep removes it later
                with suppress(Exception):
                    self.fs.rm(tmp)
            raise
        return self.info(key)

    def put_dir(self, local_dir: str | Path, key: str) -> int:
        """Copy a local folder (a Zarr store) to the prefix `key`; returns the bytes copied.

        The files go under a temporary sibling prefix first, then move into place, so a
        reader never sees a half-copied folder at `key` on a local store (on S3 the move is
        per object: publish the catalog row only after `sha256_tree` verifies). An existing
        folder at `key` is replaced.
        """
        final = self.path(key)
        name = f"{uuid.uuid4().hex}-{posixpath.basename(final)}"
        if self.is_local:
            tmp = posixpath.join(posixpath.dirname(final), f".tmp-{name}")
        else:  # beside the other temporary uploads, which `sweep_incoming` cleans
            tmp = posixpath.join(self.root, TEMP_PREFIX, name)
        local = Path(local_dir)
        files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
        total = 0
        try:
            for rel in files:
                target = posixpath.join(tmp, rel)
                if self.is_local:
                    self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
                self._call("upload", f"{key}/{rel}", lambda f=local / rel, t=target: self.fs.put_file(str(f), t))
                total += (local / rel).stat().st_size
            if self.exists_folder(key):
                self._call("replace", key, lambda: self.fs.rm(final, recursive=True))
            if self.is_local:
                self._call("publish", key, lambda: self.fs.mv(tmp, final, recursive=True))
            else:  # S3 has no folders: a server-side copy per object, then the temporaries go
                for rel in files:
                    self._call("publish", f"{key}/{rel}", lambda r=rel: self.fs.copy(
                        posixpath.join(tmp, r), posixpath.join(final, r)))
                self._call("clean up", key, lambda: self.fs.rm(tmp, recursive=True))
        except (OSError, StorageError) as exc:
            if not _unanswered(exc):
                with suppress(Exception):
                    self.fs.rm(tmp, recursive=True)
            if isinstance(exc, StorageError):
                raise
            raise StorageError(
                f"could not write folder {key!r} to the store {self.describe()}: {exc}"
            ) from exc
        return total

    def exists_folder(self, key: str) -> bool:
        return bool(self.list_keys(key))

    def list_keys(self, prefix: str) -> list[str]:
        """Every object key under the folder `prefix` (recursively), sorted; [] when absent."""
        root = self.path(prefix)
        try:
            found = self._call("list", prefix, lambda: self.fs.find(root, **self._bounded))
        except NotFound:
            return []
        base = self.root.rstrip("/") + "/"
        return sorted(str(p)[len(base):] if str(p).startswith(base) else str(p) for p in found)

    def sha256_tree(self, key: str) -> tuple[str, int]:
        """(manifest SHA-256, total bytes) of the folder `key`, re-read from the store.

        The manifest is one line ``<relative path>\t<sha256>\n`` per file in path order,
        the same as `tree_sha256` computes for a local folder.
        """
        keys = self.list_keys(key)
        if not keys:
            raise NotFound(f"no folder {key!r} in the store")
        lines, total = [], 0
        for k in keys:
            lines.append(f"{k[len(key) + 1:]}\t{self.sha256(k)}\n")
            total += self.info(k).size
        return hashlib.sha256("".join(lines).encode()).hexdigest(), total

    def open(self, key: str, mode: str = "rb") -> IO[bytes]:
        path = self.path(key)
        return self._call("open", key, lambda: self.fs.open(path, mode))  # type: ignore[no-any-return]

    def iter_range(self, key: str, start: int, end: int, chunk: int = CHUNK) -> Iterator[bytes]:
        """Yield bytes [start, end] (inclusive) of `key` in chunks, never the whole object at once.

        Each chunk is a ranged read, retried on its own; a store that stays down past the
        retries ends the iteration with `StorageError` (the HTTP body is then cut short).
        """
        path = self.path(key)
        offset = start
        while offset <= end:
            length = min(chunk, end - offset + 1)
            block: bytes = self._call(
                "read", key, lambda o=offset, n=length: self.fs.cat_file(path, start=o, end=o + n, **self._bounded)
            )
            if not block:
                break
            offset += len(block)
            yield block

    def delete(self, key: str) -> None:
        path = self.path(key)
        with suppress(NotFound):
            self._call("delete", key, lambda: self.fs.rm(path, recursive=True))

    def remove_empty_folder(self, key: str) -> None:
        """On a local store, remove the folder `key` if it is empty (S3 has no folders)."""
        if not self.is_local:
            return
        with suppress(OSError):
            Path(self.path(key)).rmdir()

    def sha256(self, key: str) -> str:
        """Hex SHA-256 of the stored object, re-read from the store."""
        return self._digest(self.path(key), key)

    def _digest(self, path: str, key: str) -> str:
        if not self.is_local:  # ranged reads, each bounded (an open file's reads are not)
            digest = hashlib.sha256()
            size = int(self._call("read the size of", key, lambda: self.fs.info(path, **self._bounded))["size"])
            offset = 0
            while offset < size:
                block: bytes = self._call("read", key, lambda o=offset: self.fs.cat_file(
                    path, start=o, end=min(o + CHUNK, size), **self._bounded))
                if not block:
                    break
                digest.update(block)
                offset += len(block)
            return digest.hexdigest()

        def read() -> str:
            digest = hashlib.sha256()
            with self.fs.open(path, "rb") as fh:
                while block := fh.read(CHUNK):
                    digest.update(block)
            return digest.hexdigest()

        return self._call("read", key, read)

    def sweep_incoming(self, older_than: float = 3600.0) -> list[str]:
        """Delete temporary uploads a killed writer left in ``.incoming/`` (S3 only).

        Only those older than `older_than` seconds, so uploads in progress are spared.
        Returns the keys deleted.
        """
        if self.is_local:
            return []
        base = posixpath.join(self.root, TEMP_PREFIX)
        found = self._call("list", TEMP_PREFIX, lambda: self.fs.find(base, detail=True, **self._bounded))
        now = time.time()
        swept = []
        for path, info in found.items():
            modified = info.get("LastModified")
            age = now - modified.timestamp() if modified is not None else older_than
            if age >= older_than:
                with suppress(FileNotFoundError):
                    self.fs.rm(path)
                swept.append(path[len(self.root.rstrip("/")) + 1 :])
        return swept


def _unanswered(exc: BaseException) -> bool:
    """True when `exc` says the store did not answer in time (no point in cleaning up there)."""
    timeouts = _timeouts()
    return isinstance(exc, timeouts) or isinstance(exc.__cause__, timeouts)


def s3_filesystem(endpoint_url: str | None, region: str | None, timeout: float) -> Any:
    """An s3fs filesystem whose every request is bounded (`datacenter.s3.bounded_s3_filesystem`)."""
    from datacenter.s3 import bounded_s3_filesystem

    return bounded_s3_filesystem(endpoint_url, region, timeout)


def multihash_sha256(hex_digest: str) -> str:
    """The `file:checksum` multihash of a SHA2-256 digest: code 0x12, length 0x20."""
    return "1220" + hex_digest


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def tree_sha256(folder: str | Path) -> tuple[str, int]:
    """(manifest SHA-256, total bytes) of a local folder; see `Store.sha256_tree`."""
    root = Path(folder)
    lines, total = [], 0
    for file in sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.relative_to(root).as_posix()):
        lines.append(f"{file.relative_to(root).as_posix()}\t{file_sha256(file)}\n")
        total += file.stat().st_size
    return hashlib.sha256("".join(lines).encode()).hexdigest(), total
