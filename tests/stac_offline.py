#!/usr/bin/env python3
"""Offline STAC validation for the tests: the public schema URLs answered from the repository.

stac-validator, stac-api-validator and pystac fetch JSON schemas from schemas.stacspec.org,
stac-extensions.github.io, geojson.org, proj.org, api.stacspec.org and json-schema.org. The
tests never touch the network, so `install()` makes `requests` (every Session) and `urllib`
answer those hosts from `tests/stac_schemas/` (laid out as HOST/PATH of the URL; see its
README for where each file was published) and our own `dc:` extension from `docs/extensions/`.
A URL on those hosts with no file here fails loudly (`SchemaNotOffline` names it); any other
host (the API under test on 127.0.0.1) is untouched.

    python tests/stac_offline.py api-validate --root-url http://127.0.0.1:8000/ --conformance core ...
    python tests/stac_offline.py validate item.json http://127.0.0.1:8000/collections/c/items/i ...

From Python (the `stac_offline` fixture of tests/conftest.py returns this module):
    errors = stac_offline.validate_dict(item_dict)  # stac-validator, core + extensions; [] when valid
    stac_offline.use_offline_pystac()               # then pystac's obj.validate() needs no network

The approach follows the project's shared tool of the same name; this copy lives in the
repository so that a fresh clone's tests need nothing beside it.
"""

from __future__ import annotations

import io
import json
import sys
import urllib.request
import urllib.response
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
#: Folders of HOST/PATH files, searched in order.
ROOTS: list[Path] = [REPO / "tests" / "stac_schemas", REPO / "docs" / "extensions"]
#: Hosts answered only from ROOTS, never from the network (every top folder of a root).
HOSTS: set[str] = {d.name for root in ROOTS if root.is_dir() for d in root.iterdir() if d.is_dir()}
_installed = False


class SchemaNotOffline(FileNotFoundError):
    """A URL on an offline host that has no file under ROOTS."""


def is_offline(url: str) -> bool:
    """Whether URL's host is one answered from ROOTS."""
    return urlsplit(url).hostname in HOSTS


def resolve(url: str) -> Path:
    """The local file for URL (query and #fragment ignored), else SchemaNotOffline."""
    parts = urlsplit(url)
    for root in ROOTS:
        candidate = (root / str(parts.hostname) / parts.path.lstrip("/")).resolve()
        if candidate.is_file() and candidate.is_relative_to(root.resolve()):
            return candidate
    raise SchemaNotOffline(
        f"no offline copy of {url}: copy the published file to tests/stac_schemas/"
        f"{parts.hostname}{parts.path} and list it in tests/stac_schemas/README.md"
    )


def install() -> None:
    """Route HOSTS to ROOTS in requests and urllib; idempotent."""
    global _installed
    if _installed:
        return
    import requests
    from requests.adapters import BaseAdapter

    class OfflineAdapter(BaseAdapter):
        """A requests transport that reads the file instead of opening a socket."""

        def send(self, request: Any, **kwargs: Any) -> requests.Response:
            try:
                body = resolve(request.url).read_bytes()
            except SchemaNotOffline as e:  # a RequestException, so callers report it with the URL
                raise requests.exceptions.ConnectionError(str(e), request=request) from e
            response = requests.Response()
            response.url, response.request = request.url, request
            response.status_code, response.reason = 200, "OK"
            response._content, response.encoding = body, "utf-8"
            response.headers["Content-Type"] = "application/json"
            return response

        def close(self) -> None:
            pass

    # On the class, so that Sessions made before install() are covered too.
    adapter, get_adapter = OfflineAdapter(), requests.Session.get_adapter
    requests.Session.get_adapter = (  # type: ignore[method-assign]
        lambda self, url: adapter if is_offline(url) else get_adapter(self, url)
    )

    class OfflineHandler(urllib.request.BaseHandler):
        """The same for urllib (pystac's StacIO, stac-validator's link checks)."""

        handler_order = 100  # ahead of the stock HTTP(S) handlers

        def _open(self, req: urllib.request.Request) -> Any:
            url = req.get_full_url()
            if not is_offline(url):
                return None  # not ours: the stock handlers take it
            headers = Message()
            headers["Content-Type"] = "application/json"
            return urllib.response.addinfourl(io.BytesIO(resolve(url).read_bytes()), headers, url, 200)

        http_open = https_open = _open

    urllib.request.install_opener(urllib.request.build_opener(OfflineHandler))
    _installed = True


def use_offline_pystac() -> Any:
    """Make pystac's validation read every offline-host schema from ROOTS; the validator.

    Also calls install(), so anything else pystac opens on those hosts stays offline."""
    install()
    import pystac.validation
    from pystac.validation.stac_validator import GetSchemaError, JsonSchemaSTACValidator

    class OfflineSTACValidator(JsonSchemaSTACValidator):
        def _get_schema(self, schema_uri: str) -> dict:
            if schema_uri not in self.schema_cache and is_offline(schema_uri):
                try:
                    self.schema_cache[schema_uri] = json.loads(resolve(schema_uri).read_bytes())
                except SchemaNotOffline as e:
                    raise GetSchemaError(schema_uri, e) from e
            return super()._get_schema(schema_uri)

    validator = OfflineSTACValidator()
    pystac.validation.set_validator(validator)
    return validator


def _errors(messages: list[dict]) -> list[str]:
    """stac-validator's failed messages, one JSON line each (all of them if none is marked failed)."""
    bad = [m for m in messages if not m.get("valid_stac", True)] or messages
    return [json.dumps(m)[:2000] for m in bad]


def validate_dict(obj: dict) -> list[str]:
    """stac-validator on an Item/Collection/Catalog dict (core + every declared extension); [] when valid."""
    install()
    from stac_validator.validate import StacValidate

    validator = StacValidate()
    return [] if validator.validate_dict(obj) else _errors(validator.message)


def main(argv: list[str]) -> int:
    cmd, args = (argv[0], argv[1:]) if argv else ("", [])
    use_offline_pystac()  # installs the requests/urllib routing as well
    if cmd == "api-validate":  # stac-api-validator's click CLI, in this process
        from stac_api_validator.__main__ import main as cli

        return int(cli(args=args, prog_name="stac-api-validator") or 0)
    if cmd == "validate" and args:
        from stac_validator.validate import StacValidate

        bad = 0
        for target in args:  # a file or a URL; core + declared extensions
            validator = StacValidate(stac_file=target)
            ok = validator.run()
            print(f"{'VALID' if ok else 'INVALID'} {target}")
            for error in [] if ok else _errors(validator.message):
                print("   ", error)
            bad += not ok
        return 1 if bad else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
