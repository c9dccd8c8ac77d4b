"""The STAC API over the catalog contract, and asset downloads from the store (`create_app`)."""

import logging as _logging


class _ConfiguredByCreateApp(_logging.Filter):
    """Drop stac-fastapi's "Using default values for stac_fastapi_title ..." warning.

    It comes from the `ApiSettings()` that `stac_fastapi.types.core` builds at import, which
    our app never uses: `create_app` passes its own settings with our title, description,
    landing id and version. Any other record of that logger goes through."""

    def filter(self, record: _logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Using default values for")


_logging.getLogger("stac_fastapi.types.config").addFilter(_ConfiguredByCreateApp())
