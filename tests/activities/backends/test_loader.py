"""Loading JSON, JSON Lines and CSV files: type inference, keys, batches, re-imports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from activities.backends import InvalidRequest, PropertyType, SearchRequest, where
from activities.backends.embedded import EmbeddedBackend
from activities.backends.loader import (
    infer_properties,
    load_file,
    parse_cell,
    property_name,
    read_rows,
)
from activities.backends.validation import reference_id

CSV_TEXT = """id,Product Name,price,in_stock,released,notes,zip
1,Widget,9.99,true,2024-03-01,"A small widget that fits in any pocket, really",01234
2,Gadget,15,false,2024-04-15T10:30:00Z,"A large gadget with many buttons and lights",98765
3,Doohickey,,TRUE,2024-05-20,,00042
"""


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("", None),
        ("  ", None),
        ("true", True),
        ("FALSE", False),
        ("42", 42),
        ("-7", -7),
        ("3.5", 3.5),
        ("1e3", 1000.0),
        ("007", "007"),
        ("2024-01-02", "2024-01-02"),
        ("hello", "hello"),
    ],
)
def test_parse_cell(cell: str, expected: object) -> None:
    assert parse_cell(cell) == expected
    assert type(parse_cell(cell)) is type(expected)


def test_csv_types_are_inferred(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(CSV_TEXT)
    types = {p.name: p.type for p in infer_properties(read_rows(path))}
    assert types == {
        "source_id": PropertyType.INT,
        "Product_Name": PropertyType.TEXT,
        "price": PropertyType.NUMBER,
        "in_stock": PropertyType.BOOLEAN,
        "released": PropertyType.DATE,
        "notes": PropertyType.TEXT,
        "zip": PropertyType.TEXT,
    }


def test_json_values_infer_arrays_and_mixed_columns() -> None:
    rows: list[dict[str, Any]] = [
        {"tags": ["a", "b"], "scores": [1, 2], "ratio": [0.5, 1], "mixed": 1, "empty": None},
        {"tags": [], "scores": [3], "ratio": [2], "mixed": "x", "empty": None},
    ]
    types = {p.name: p.type for p in infer_properties(rows)}
    assert types == {
        "tags": PropertyType.TEXT_ARRAY,
        "scores": PropertyType.INT_ARRAY,
        "ratio": PropertyType.NUMBER_ARRAY,
        "mixed": PropertyType.TEXT,
        "empty": PropertyType.TEXT,
    }


@pytest.mark.parametrize(
    ("column", "name"),
    [("Created At", "Created_At"), ("id", "source_id"), ("2nd", "p_2nd"), ("ok_name", "ok_name")],
)
def test_property_names_are_made_valid(column: str, name: str) -> None:
    assert property_name(column) == name


async def test_load_csv_creates_collection_and_keys_by_id(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(CSV_TEXT)
    store = EmbeddedBackend(tmp_path / "store")
    batches: list[tuple[int, int]] = []
    report = await load_file(
        store, path, "products", batch_size=2, on_batch=lambda d, t: batches.append((d, t))
    )
    assert report.created
    assert report.collection == "Products"
    assert (report.records, report.batches) == (3, 2)
    assert batches == [(2, 3), (3, 3)]
    assert report.schema.count == 3
    assert report.schema.vectorized == ["notes"]  # labels stay exact-match fields
    assert "source_id" not in report.schema.property_names
    [widget] = await store.get("products", [reference_id("1", {})])
    assert widget.properties["price"] == 9.99
    assert widget.properties["in_stock"] is True
    assert widget.properties["zip"] == "01234"
    again = await load_file(store, path, "products")
    assert not again.created
    assert again.schema.count == 3
    await store.close()


async def test_load_json_array_and_jsonl_into_existing_collection(tmp_path: Path) -> None:
    rows = [{"sku": f"S{i}", "title": f"Item number {i}", "qty": i} for i in range(5)]
    (tmp_path / "a.json").write_text(json.dumps(rows[:3]))
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows[2:]) + "\n")
    store = EmbeddedBackend(tmp_path / "store")
    first = await load_file(store, tmp_path / "a.json", "Stock", id_field="sku")
    second = await load_file(store, tmp_path / "b.jsonl", "Stock", id_field="sku")
    assert first.created
    assert not second.created
    assert second.schema.count == 5
    hits = await store.search("Stock", SearchRequest(mode="filter", filters=where("qty", "gte", 3)))
    assert sorted(str(h.properties["sku"]) for h in hits.hits) == ["S3", "S4"]
    replaced = await load_file(store, tmp_path / "a.json", "Stock", id_field="sku", replace=True)
    assert replaced.created
    assert replaced.schema.count == 3
    await store.close()


async def test_load_rejects_bad_input(tmp_path: Path) -> None:
    store = EmbeddedBackend(tmp_path / "store")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InvalidRequest, match="format"):
        await load_file(store, tmp_path / "x.txt", "X")
    (tmp_path / "empty.json").write_text("[]")
    with pytest.raises(InvalidRequest, match="no records"):
        await load_file(store, tmp_path / "empty.json", "X")
    (tmp_path / "partial.jsonl").write_text('{"k": 1}\n{"v": 2}\n')
    with pytest.raises(InvalidRequest, match="missing"):
        await load_file(store, tmp_path / "partial.jsonl", "X", id_field="k")
    await store.close()


async def test_load_into_tenants_of_one_collection(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"sku": "A1", "title": "Alpha"}\n')
    (tmp_path / "b.jsonl").write_text(
        '{"sku": "B1", "title": "Beta"}\n{"sku": "B2", "title": "Bee"}\n'
    )
    store = EmbeddedBackend(tmp_path / "store")
    first = await load_file(store, tmp_path / "a.jsonl", "Shop", id_field="sku", tenant="acme")
    second = await load_file(store, tmp_path / "b.jsonl", "Shop", id_field="sku", tenant="globex")
    assert first.created
    assert first.schema.multi_tenant
    assert (first.schema.count, second.schema.count) == (1, 2)
    await store.close()
