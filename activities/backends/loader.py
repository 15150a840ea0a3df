"""Import JSON, JSON Lines or CSV files into any backend.

The CLI calls :func:`load_file` (``treeflow data load FILE --collection X
[--backend embedded|weaviate]``) with a backend from ``factory.open_backend``;
:func:`load_demo` loads a shipped dataset. Property types are inferred from the
data (CSV cells are parsed: integers, numbers, booleans and ISO dates), the
collection is created when missing, and records go in batches. Re-importing the
same file updates instead of duplicating: ids derive from ``id_field`` (or the
content) through ``reference_id``.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from activities.backends.base import (
    Backend,
    CollectionSchema,
    IndexingBackend,
    NewRecord,
    PropertySchema,
    PropertyType,
    PropertyValue,
    VectorIndexChoice,
)
from activities.backends.errors import InvalidRequest, UnknownCollection, UnknownTenant
from activities.backends.validation import RESERVED_PROPERTIES, canonical_collection_name
from activities.data import SUPPORT_TICKETS, DemoDataset

FileFormat = Literal["json", "jsonl", "csv"]

IndexChoice = Literal["auto", "all", "none"]
"""Indexes a load builds: ``auto`` the id and full-text indexes, plus the vector index on
large tables (``embedded.VECTOR_INDEX_MIN_ROWS``); ``all`` the vector index whatever the
size; ``none`` nothing beyond what writes maintain."""

_DATE_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|z|[+-]\d{2}:?\d{2})?)?$"
)
_LEADING_ZERO_RE = re.compile(r"^[+-]?0\d")
_INT_RE = re.compile(r"^[+-]?\d{1,18}$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class LoadReport:
    """What a load did."""

    collection: str
    created: bool
    records: int
    batches: int
    seconds: float
    schema: CollectionSchema
    indexed: tuple[str, ...] = ()
    """Columns indexed after the load (embedded store; empty when not asked or Weaviate)."""
    index_seconds: float = 0.0


# --------------------------------------------------------------------------- reading


def detect_format(path: Path) -> FileFormat:
    """The format from the file suffix (.json, .jsonl/.ndjson, .csv)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise InvalidRequest(f"Cannot tell the format of {path.name!r}: use .json, .jsonl or .csv")


def parse_cell(text: str) -> Any:
    """A CSV cell as a Python value: '' -> None, booleans, integers, numbers, else text.

    Dates stay text here; :func:`infer_properties` types a column of ISO dates as date.
    """
    value = text.strip()
    if value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _LEADING_ZERO_RE.match(value):
        return value  # codes such as zip '01234' or '007' stay text
    if _INT_RE.match(value):
        return int(value)
    if _FLOAT_RE.match(value):
        return float(value)
    return value


def read_rows(path: str | Path, file_format: FileFormat | None = None) -> list[dict[str, Any]]:
    """Rows of a JSON array, JSON Lines or CSV file as dictionaries."""
    path = Path(path)
    fmt = file_format or detect_format(path)
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return [{k: parse_cell(v or "") for k, v in row.items()} for row in csv.DictReader(fh)]
    text = path.read_text(encoding="utf-8")
    if fmt == "json":
        data = json.loads(text)
        if isinstance(data, dict):
            data = next((v for v in data.values() if isinstance(v, list)), [data])
        rows = data
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    if not all(isinstance(r, dict) for r in rows):
        raise InvalidRequest(f"{path.name}: every record must be a JSON object")
    return list(rows)


# --------------------------------------------------------------------------- inference


def property_name(column: str) -> str:
    """A valid property name for a column: 'Created At' -> 'Created_At', 'id' -> 'source_id'."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", column.strip()).strip("_")
    if not name or not name[0].isalpha():
        name = f"p_{name}"
    if name.lower() in RESERVED_PROPERTIES:
        name = f"source_{name}"
    return name


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_ARRAY_OF: dict[PropertyType, PropertyType] = {
    PropertyType.INT: PropertyType.INT_ARRAY,
    PropertyType.NUMBER: PropertyType.NUMBER_ARRAY,
}


def _scalar_type(present: list[Any]) -> PropertyType | None:
    """The type shared by every non-list value, or None when they have none in common."""
    if all(isinstance(v, bool) for v in present):
        return PropertyType.BOOLEAN
    if all(_is_int(v) for v in present):
        return PropertyType.INT
    if all(_is_number(v) for v in present):
        return PropertyType.NUMBER
    if all(isinstance(v, str) for v in present):
        return PropertyType.DATE if all(_DATE_RE.match(v) for v in present) else PropertyType.TEXT
    return None


def _type_of(values: list[Any]) -> PropertyType:
    present = [v for v in values if v is not None]
    if not present:
        return PropertyType.TEXT
    scalar = _scalar_type(present)
    if scalar is not None:
        return scalar
    if all(isinstance(v, list) for v in present):
        inner = _type_of([i for v in present for i in v if i is not None])
        return _ARRAY_OF.get(inner, PropertyType.TEXT_ARRAY)
    return PropertyType.TEXT  # mixed values are stored as text


def infer_properties(rows: Sequence[dict[str, Any]]) -> list[PropertySchema]:
    """Property names and types from the rows, in first-seen column order."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return [
        PropertySchema(name=property_name(c), type=_type_of([r.get(c) for r in rows]))
        for c in columns
    ]


def guess_vectorize(
    rows: Sequence[dict[str, Any]], properties: Sequence[PropertySchema]
) -> list[str]:
    """Free-text properties worth embedding: text whose values average four words or more.

    Short labels (status, product...) stay out so they remain exact-match fields.
    Falls back to every text property when none qualifies.
    """
    texts = [p for p in properties if p.type is PropertyType.TEXT]
    chosen = []
    for prop in texts:
        values = [str(r[prop.name]) for r in rows if r.get(prop.name) is not None]
        if values and sum(len(v.split()) for v in values) / len(values) >= 4:
            chosen.append(prop.name)
    return chosen or [p.name for p in texts]


def _value(ptype: PropertyType, value: Any) -> PropertyValue:
    if value is None:
        return None
    if ptype is PropertyType.TEXT and not isinstance(value, str):
        return json.dumps(value) if isinstance(value, dict | list) else str(value)
    if ptype is PropertyType.TEXT_ARRAY and isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v) for v in value if v is not None]
    result: PropertyValue = value
    return result


def to_records(
    rows: Iterable[dict[str, Any]],
    properties: Sequence[PropertySchema],
    *,
    id_field: str | None = None,
) -> list[NewRecord]:
    """Records keyed by ``id_field`` (or by content); columns renamed to property names."""
    types = {p.name: p.type for p in properties}
    records = []
    for row in rows:
        key = row.get(id_field) if id_field else None
        props: dict[str, PropertyValue] = {}
        for column, value in row.items():
            if column == id_field and column.lower() in RESERVED_PROPERTIES:
                continue  # a reserved id column is the key, not a property
            name = property_name(column)
            props[name] = _value(types.get(name, PropertyType.TEXT), value)
        records.append(NewRecord(key=None if key is None else str(key), properties=props))
    return records


# --------------------------------------------------------------------------- loading


async def load_records(
    backend: Backend,
    collection: str,
    records: Sequence[NewRecord],
    *,
    properties: Sequence[PropertySchema],
    vectorize: Sequence[str] | None = None,
    batch_size: int = 500,
    tenant: str | None = None,
    replace: bool = False,
    multi_tenant: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    indexes: IndexChoice = "auto",
) -> LoadReport:
    """Create the collection when missing (or when ``replace``), upsert in batches, then
    build the store's indexes (``indexes``: see ``IndexChoice``)."""
    started = time.perf_counter()
    name = canonical_collection_name(collection)
    if replace:
        await backend.delete_collection(name)
    created = False
    try:
        await backend.describe(name, tenant=tenant)
    except UnknownCollection:
        await backend.create_collection(
            name, properties, vectorize=vectorize, multi_tenant=multi_tenant or tenant is not None
        )
        created = True
    except UnknownTenant:
        pass  # a new tenant of an existing collection: the first upsert creates it
    batches = 0
    writing: contextlib.AbstractAsyncContextManager[None] = contextlib.nullcontext()
    if indexes != "none" and isinstance(backend, IndexingBackend):
        writing = backend.deferred_indexes()  # the indexes are built once, at the end
    async with writing:
        for start in range(0, len(records), batch_size):
            await backend.upsert(name, records[start : start + batch_size], tenant=tenant)
            batches += 1
            if on_batch is not None:
                on_batch(min(start + batch_size, len(records)), len(records))
    index_started = time.perf_counter()
    indexed = await build_indexes(backend, name, tenant=tenant, indexes=indexes)
    index_seconds = time.perf_counter() - index_started
    schema = await backend.describe(name, tenant=tenant)
    return LoadReport(
        collection=name,
        created=created,
        records=len(records),
        batches=batches,
        seconds=time.perf_counter() - started,
        schema=schema,
        indexed=tuple(indexed),
        index_seconds=index_seconds if indexed else 0.0,
    )


async def build_indexes(
    backend: Backend, collection: str, *, tenant: str | None = None, indexes: IndexChoice = "auto"
) -> list[str]:
    """Build the store's indexes for a loaded collection; the indexed columns (none when
    ``indexes`` is ``none`` or the store indexes on write, as Weaviate does)."""
    if indexes == "none" or not isinstance(backend, IndexingBackend):
        return []
    vector: VectorIndexChoice = "always" if indexes == "all" else "auto"
    return await backend.build_indexes(collection, tenant=tenant, vector=vector)


async def load_file(
    backend: Backend,
    path: str | Path,
    collection: str,
    *,
    file_format: FileFormat | None = None,
    id_field: str | None = None,
    vectorize: Sequence[str] | None = None,
    batch_size: int = 500,
    tenant: str | None = None,
    replace: bool = False,
    on_batch: Callable[[int, int], None] | None = None,
    indexes: IndexChoice = "auto",
) -> LoadReport:
    """Load a JSON/JSONL/CSV file into ``collection`` (the ``treeflow data load`` command).

    ``id_field`` names the column holding each record's key; when omitted a column
    called ``id`` is used if present, else ids derive from content. ``vectorize``
    defaults to :func:`guess_vectorize`. ``on_batch(done, total)`` reports progress.
    """
    rows = read_rows(path, file_format)
    if not rows:
        raise InvalidRequest(f"{Path(path).name} holds no records")
    if id_field is None and any("id" in r for r in rows):
        id_field = "id"
    if id_field is not None and not all(r.get(id_field) is not None for r in rows):
        raise InvalidRequest(f"id_field {id_field!r} is missing from some records")
    keyed_out = id_field is not None and id_field.lower() in RESERVED_PROPERTIES
    properties = [
        p for p in infer_properties(rows) if not (keyed_out and p.name == f"source_{id_field}")
    ]
    records = to_records(rows, properties, id_field=id_field)
    return await load_records(
        backend,
        collection,
        records,
        properties=properties,
        vectorize=vectorize if vectorize is not None else guess_vectorize(rows, properties),
        batch_size=batch_size,
        tenant=tenant,
        replace=replace,
        on_batch=on_batch,
        indexes=indexes,
    )


async def load_demo(
    backend: Backend,
    dataset: DemoDataset | None = None,
    *,
    collection: str | None = None,
    replace: bool = False,
) -> LoadReport:
    """Load a shipped demo dataset (default: the support tickets) with its declared schema."""
    dataset = dataset or SUPPORT_TICKETS
    rows = read_rows(dataset.path())
    records = to_records(rows, dataset.properties, id_field=dataset.id_field)
    return await load_records(
        backend,
        collection or dataset.collection,
        records,
        properties=dataset.properties,
        vectorize=dataset.vectorize,
        replace=replace,
    )
