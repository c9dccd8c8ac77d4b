"""Request models: stac-fastapi's, with our bbox/datetime checks and token paging.

The GET models keep stac-fastapi's field names and OpenAPI text but swap its `bbox`
converter and `datetime` validator for `api.params` (messages that name the parameter,
body ``{code, description}``). The POST model takes `bbox` and `datetime` loosely and the
client validates them with the same functions, so GET and POST answer alike.
No `from __future__ import annotations` here: FastAPI reads these annotations at runtime.
Token paging is stac-fastapi's `TokenPaginationExtension` (what stac-fastapi-pgstac uses):
it adds `token` to the GET query and the POST body.
"""

from typing import Annotated, Any, cast

import attr
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field, model_validator
from stac_fastapi.api.models import ItemCollectionUri, create_request_model
from stac_fastapi.extensions import (
    FieldsExtension,
    FilterExtension,
    FreeTextExtension,
    QueryExtension,
    SortExtension,
)
from stac_fastapi.extensions.collection_search.request import BaseCollectionSearchGetRequest
from stac_fastapi.extensions.filter.request import FilterExtensionPostRequest, FilterLang
from stac_fastapi.extensions.free_text.request import FreeTextAdvancedExtensionGetRequest
from stac_fastapi.extensions.pagination import TokenPaginationExtension
from stac_fastapi.types.extension import ApiExtension
from stac_fastapi.types.search import (
    APIRequest,
    BaseSearchGetRequest,
    BaseSearchPostRequest,
    DateTimeQueryType,
)

from api.params import BBox, parse_bbox, parse_datetime
from api.queryables import QueryablesClient

PAGINATION = TokenPaginationExtension()
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
_FILTER_CLASSES = [
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
        # what stac-api-validator 0.6.8 looks for (same capabilities, older names)
        "https://api.stacspec.org/v1.0.0-rc.1/item-search#filter",
        # the same filter on GET /collections/{id}/items (OGC API - Features - Part 3)
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        f"{_CQL2}basic-spatial-operators",
        f"{_CQL2}temporal-operators",
        f"{_CQL2}array-operators",
        *(f"{_CQL2}{name}" for name in (
            "cql2-text", "cql2-json", "basic-cql2", "advanced-comparison-operators",
            "basic-spatial-functions", "basic-spatial-functions-plus", "spatial-functions",
            "temporal-functions", "array-functions", "property-property", "arithmetic",
            "case-insensitive-comparison",
        )),
]


class FilterPost(FilterExtensionPostRequest):
    """POST's `filter` may be CQL2 text as well as CQL2 JSON (`filter-lang` cql2-text or
    cql2-json), as on GET; without `filter-lang` a string is text and an object JSON."""

    filter_expr: dict[str, Any] | str | None = Field(  # type: ignore[assignment]
        None, alias="filter", description="A CQL2 filter: a JSON object, or CQL2 text (filter-lang cql2-text)."
    )
    filter_lang: FilterLang | None = Field(  # type: ignore[assignment]
        None, alias="filter-lang",
        description="cql2-json or cql2-text (default: text for a string, JSON for an object).",
    )


@attr.s
class SearchFilterExtension(FilterExtension):
    """The Filter extension with `FilterPost` as its POST model. The class name is one
    stac-fastapi's landing page recognises (it adds the queryables link by class name)."""

    POST = FilterPost


def filter_extension() -> FilterExtension:
    """A fresh Filter extension (its router registers /queryables on one app only)."""
    return SearchFilterExtension(client=QueryablesClient(), conformance_classes=list(_FILTER_CLASSES))


FILTER = filter_extension()  # for the request models
# Each extension also serves GET /collections/{id}/items (OGC API - Features), so each
# declares its `ogcapi-features#...` class next to the `item-search#...` one.
SORT = SortExtension(conformance_classes=[
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
])
FIELDS = FieldsExtension(conformance_classes=[
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
])
QUERY = QueryExtension(conformance_classes=[
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#query",
])


class _FreeTextPost(BaseModel):
    q: str | list[str] | None = Field(
        None,
        description=(
            'free text: words, "quoted phrases", +required, -excluded, AND, OR (or a comma) '
            "and parentheses; a list ORs its entries"
        ),
    )


@attr.s
class FreeText(FreeTextExtension):
    """The advanced free-text form (catalog.query.free_text), which includes the basic one: GET
    ``q`` is one string (commas inside parentheses stay there), POST ``q`` a string or a list."""

    GET: type[APIRequest] = FreeTextAdvancedExtensionGetRequest
    POST: type[BaseModel] = _FreeTextPost


_FREE_TEXT_SCOPES = ("item-search", "ogcapi-features", "collection-search")
FREE_TEXT = FreeText(conformance_classes=[
    f"https://api.stacspec.org/v1.0.0-rc.1/{scope}#{form}"
    for scope in _FREE_TEXT_SCOPES for form in ("free-text", "advanced-free-text")
])
SEARCH_EXTENSIONS = [FILTER, SORT, FIELDS, QUERY, FREE_TEXT, PAGINATION]


class Conformance(ApiExtension):
    """Declares conformance classes served by routes registered elsewhere."""

    def __init__(self, classes: list[str]) -> None:
        self.conformance_classes = classes

    def register(self, app: FastAPI) -> None:
        return None


COLLECTION_SEARCH = Conformance([
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/simple-query",
])


def _bbox_query(
    val: Annotated[
        str | None,
        Query(
            description=(
                "Only items intersecting this box: west,south,east,north in degrees on the "
                "body. west > east crosses the antimeridian. Mutually exclusive with intersects."
            ),
            openapi_examples={
                "user-provided": {"value": None},
                "south-polar-cap": {"value": "-180,-90,180,-80"},
                "across-antimeridian": {"value": "170,-10,-170,10"},
            },
        ),
    ] = None,
) -> BBox | None:
    return parse_bbox(val)


def _check_datetime(instance: object, attribute: object, value: str | None) -> None:
    parse_datetime(value)


@attr.s
class _SearchGet(BaseSearchGetRequest):
    bbox: BBox | None = attr.ib(default=None, converter=_bbox_query)  # type: ignore[misc]
    datetime: DateTimeQueryType = attr.ib(default=None, validator=_check_datetime)


@attr.s
class _ItemsGet(ItemCollectionUri):
    bbox: BBox | None = attr.ib(default=None, converter=_bbox_query)  # type: ignore[misc]
    datetime: DateTimeQueryType = attr.ib(default=None, validator=_check_datetime)


def app_extensions() -> list[ApiExtension]:
    """The search extensions and conformance declarations one app registers."""
    return [filter_extension(), SORT, FIELDS, QUERY, FREE_TEXT, PAGINATION, COLLECTION_SEARCH]


@attr.s
class _CollectionsGet(BaseCollectionSearchGetRequest):
    bbox: BBox | None = attr.ib(default=None, converter=_bbox_query)  # type: ignore[misc]
    datetime: DateTimeQueryType = attr.ib(default=None, validator=_check_datetime)


class _SearchPost(BaseSearchPostRequest):
    # Loose here, checked by api.params in the client (one message for GET and POST).
    collections: list[str] | str | None = Field(  # type: ignore[assignment]
        None, description="collection ids (a list, or one comma-separated string)"
    )
    bbox: list[float] | None = Field(  # type: ignore[assignment]
        None, description="west, south, east, north; west > east crosses the antimeridian"
    )
    datetime: str | None = Field(None, description="RFC 3339 instant or interval")  # type: ignore[assignment]

    # Runs before stac-pydantic's own "before" validators, which assume a dict (a JSON
    # array body made them raise AttributeError: a 500).
    @model_validator(mode="before")
    @classmethod
    def _body_is_an_object(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            raise ValueError(
                f"the search body must be a JSON object such as {{\"bbox\": [...]}}, "
                f"not a JSON {type(values).__name__}"
            )
        return values


SearchGetRequest = cast(
    type[APIRequest],
    create_request_model(
        "SearchGetRequest", base_model=_SearchGet, extensions=SEARCH_EXTENSIONS, request_type="GET"
    ),
)
ItemsGetRequest = cast(
    type[APIRequest],
    create_request_model(
        "ItemCollectionUri", base_model=_ItemsGet, extensions=SEARCH_EXTENSIONS, request_type="GET"
    ),
)
SearchPostRequest = cast(
    type[BaseModel],
    create_request_model(
        "SearchPostRequest", base_model=_SearchPost, extensions=SEARCH_EXTENSIONS, request_type="POST"
    ),
)
CollectionsGetRequest = cast(
    type[APIRequest],
    create_request_model(
        "CollectionsGetRequest", base_model=_CollectionsGet, extensions=[FREE_TEXT, PAGINATION],
        request_type="GET",
    ),
)
