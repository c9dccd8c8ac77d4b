"""The object store: a local folder by default, ``s3://bucket/prefix`` through s3fs.

Everything the data center writes lives under one root and is addressed by a *key*:
a relative POSIX path such as ``lunar-dem/ldem-s87/ldem-s87.tif``. Keys never leave the
root: ``..``, absolute paths, backslashes and URL schemes are refused with `InvalidKey`.
Writes are atomic: bytes go to a temporary key, then move into place.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import fsspec

from datacenter.errors import InvalidKey, NotFound, StorageError
from datacenter.settings import Settings

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
CHUNK = 4 * 1024 * 1024


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


class Store:
    """An fsspec filesystem rooted at one folder or bucket prefix."""

    def __init__(self, url: str, *, s3_endpoint_url: str | None = None, s3_region: str | None = None):
        self.url = url.rstrip("/")
        if url.startswith("s3://"):
            client_kwargs: dict[str, str] = {}
            if s3_endpoint_url:
                client_kwargs["endpoint_url"] = s3_endpoint_url
            if s3_region:
                client_kwargs["region_name"] = s3_region
            self.fs = fsspec.filesystem("s3", client_kwargs=client_kwargs, use_listings_cache=False)
            self.root = self.url[len("s3://") :]
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
        )

    @property
    def is_local(self) -> bool:
        protocol = self.fs.protocol
        return "file" in (protocol if isinstance(protocol, tuple) else (protocol,))

    def path(self, key: str) -> str:
        """The filesystem path of `key` (inside the root; never exposed to API users)."""
        return posixpath.join(self.root, check_key(key))

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self.path(key)))

    def info(self, key: str) -> ObjectInfo:
        try:
            info = self.fs.info(self.path(key))
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r} in the store") from exc
        if info.get("type") == "directory":
            raise NotFound(f"{key!r} is a folder in the store, not an object")
        return ObjectInfo(key=key, size=int(info["size"]))

    def put_file(self, local_path: str | Path, key: str) -> ObjectInfo:
        """Copy a local file to `key` atomically: upload to a temporary key, then move."""
        return self._atomic_write(key, lambda tmp: self.fs.put_file(str(local_path), tmp))

    def put_bytes(self, data: bytes, key: str) -> ObjectInfo:
        """Write `data` to `key` atomically."""
        return self._atomic_write(key, lambda tmp: self.fs.pipe_file(tmp, data))

    def _atomic_write(self, key: str, write: Callable[[str], object]) -> ObjectInfo:
        final = self.path(key)
        folder, name = posixpath.split(final)
        tmp = posixpath.join(folder, f".tmp-{uuid.uuid4().hex}-{name}")
        try:
            self.fs.makedirs(folder, exist_ok=True)
            write(tmp)
            self.fs.mv(tmp, final)
        except OSError as exc:
            with suppress(OSError):
                self.fs.rm(tmp)
            raise StorageError(f"could not write {key!r} to the store {self.url}: {exc}") from exc
        return self.info(key)

    def put_dir(self, local_dir: str | Path, key: str) -> int:
        """Copy a local folder (a Zarr store) to the prefix `key`; returns the bytes copied.

        The files go under a temporary sibling prefix first, then move into place, so a
        reader never sees a half-copied folder at `key` on a local store (on S3 the move is
        per object: publish the catalog row only after `sha256_tree` verifies). An existing
        folder at `key` is replaced.
        """
        final = self.path(key)
        tmp = posixpath.join(posixpath.dirname(final), f".tmp-{uuid.uuid4().hex}-{posixpath.basename(final)}")
        local = Path(local_dir)
        total = 0
        try:
            for file in sorted(p for p in local.rglob("*") if p.is_file()):
                rel = file.relative_to(local).as_posix()
                target = posixpath.join(tmp, rel)
                self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
                self.fs.put_file(str(file), target)
                total += file.stat().st_size
            with suppress(FileNotFoundError):
                self.fs.rm(final, recursive=True)
            self.fs.mv(tmp, final, recursive=True)
        except OSError as exc:
            with suppress(OSError):
                self.fs.rm(tmp, recursive=True)
            raise StorageError(f"could not write folder {key!r} to the store {self.url}: {exc}") from exc
        return total

    def list_keys(self, prefix: str) -> list[str]:
        """Every object key under the folder `prefix` (recursively), sorted; [] when absent."""
        root = self.path(prefix)
        try:
            found = self.fs.find(root)
        except FileNotFoundError:
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
        try:
            return self.fs.open(self.path(key), mode)
        except FileNotFoundError as exc:
            raise NotFound(f"no object {key!r} in the store") from exc

    def iter_range(self, key: str, start: int, end: int, chunk: int = CHUNK) -> Iterator[bytes]:
        """Yield bytes [start, end] (inclusive) of `key` in chunks, never the whole object at once."""
        with self.open(key) as fh:
            fh.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                block = fh.read(min(chunk, remaining))
                if not block:
                    break
                remaining -= len(block)
                yield block

    def delete(self, key: str) -> None:
        with suppress(FileNotFoundError):
            self.fs.rm(self.path(key), recursive=True)

    def sha256(self, key: str) -> str:
        """Hex SHA-256 of the stored object, re-read from the store."""
        digest = hashlib.sha256()
        with self.open(key) as fh:
            while block := fh.read(CHUNK):
                digest.update(block)
        return digest.hexdigest()


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
