"""The STAC API over the catalog contract, and asset downloads from the store (`create_app`)."""
