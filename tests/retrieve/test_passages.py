"""The column-wise passage table gives back exactly the passages put in, through changes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qa.domain import Clause, Passage
from qa.retrieve.passages import PREFIX, PassageTable


def _passage(n: int, **changes: object) -> Passage:
    fields: dict[str, Any] = {
        "id": f"p{n}",
        "document_id": f"d{n // 2}",
        "text": f"Passage {n} text.",
        "title": f"Title {n}",
        "start": 10 * n,
        "end": 10 * n + 16,
        "metadata": {},
        "clauses": (Clause(0, 8), Clause(9, 16)),
    }
    fields.update(changes)
    return Passage(**fields)


ODD = {
    3: _passage(3, title="", metadata={}, clauses=()),  # empty title, no metadata or clauses
    5: _passage(
        5,
        text="نص عربي 𝄞 with astral 😀 and combining é.",
        title="عنوان 📘",
        metadata={"lang": "ar", "tags": ["𝄞", "x"], "nested": {"n": 1.5, "none": None}},
        clauses=(Clause(0, 7), Clause(8, 9), Clause(10, 42)),
    ),
    8: _passage(8, text="", title="", clauses=()),  # empty text
    13: _passage(13, id="p\u200f13", document_id="doc with spaces / and ü"),
    21: _passage(21, text="lone surrogate \ud800 kept", metadata={"k": "\udfff"}),
}


def _table(passages: dict[int, Passage]) -> PassageTable:
    table = PassageTable()
    for rid, passage in passages.items():
        table.add(rid, passage, len(passage.clauses) + 1)
    return table


def _restored(table: PassageTable) -> PassageTable:
    """Through plain arrays, as a snapshot stores them (copied, so nothing is shared)."""
    return PassageTable({k: np.array(v) for k, v in table.compacted().columns().items()})


def _assert_holds(table: PassageTable, expected: dict[int, Passage]) -> None:
    assert len(table) == len(expected)
    assert table.rids() == set(expected)
    assert sorted(table) == sorted(expected)
    for rid, passage in expected.items():
        assert rid in table
        assert table[rid] == passage
        assert table.clause_count(rid) == len(passage.clauses) + 1
    assert table.clause_total == sum(len(p.clauses) + 1 for p in expected.values())


def test_round_trip_through_columns_keeps_every_field() -> None:
    table = _restored(_table(ODD))
    _assert_holds(table, ODD)
    assert 4 not in table
    with pytest.raises(KeyError):
        table[4]


def test_columns_are_in_row_id_order_whatever_the_insertion_order() -> None:
    passages = {rid: _passage(rid) for rid in (40, 2, 17, 9)}
    columns = _table(passages).compacted().columns()
    assert columns[PREFIX + "rids"].tolist() == [2, 9, 17, 40]


def test_changes_after_restore_then_compaction() -> None:
    base = {rid: _passage(rid) for rid in range(0, 20, 2)} | ODD
    table = _restored(_table(base))
    expected = dict(base)
    for rid in (0, 5, 18):  # removed from the base
        assert table.remove(rid) == len(expected.pop(rid).clauses) + 1
    for rid in (1, 7, 30):  # new rows, some between existing ones
        table.add(rid, _passage(rid, text=f"new {rid}"), len(_passage(rid).clauses) + 1)
        expected[rid] = _passage(rid, text=f"new {rid}")
    table.remove(30)  # a new row removed again
    expected.pop(30)
    _assert_holds(table, expected)
    for gone in (0, 5, 18, 30):
        with pytest.raises(KeyError):
            table[gone]
        with pytest.raises(KeyError):
            table.remove(gone)
    again = _restored(table)
    _assert_holds(again, expected)
    assert again.compacted().columns()[PREFIX + "rids"].tolist() == sorted(expected)


def test_a_removed_row_can_be_held_again() -> None:
    table = _restored(_table({1: _passage(1)}))
    table.remove(1)
    table.add(1, _passage(1, text="replaced"), 3)
    assert table[1].text == "replaced"
    assert _restored(table)[1].text == "replaced"


def test_holding_a_row_twice_is_refused() -> None:
    table = _restored(_table({1: _passage(1)}))
    with pytest.raises(KeyError):
        table.add(1, _passage(1), 3)


def test_filters_see_base_and_new_rows_but_not_removed_ones() -> None:
    passages = {
        1: _passage(1, document_id="a", metadata={"lang": "en"}),
        2: _passage(2, document_id="a", metadata={"lang": "ar"}),
        3: _passage(3, document_id="b", metadata={"lang": "en"}),
    }
    table = _restored(_table(passages))
    table.remove(3)
    table.add(4, _passage(4, document_id="b", metadata={"lang": "en"}), 1)
    assert sorted(table.matching({"lang": "en"})) == [1, 4]
    assert sorted(table.matching({"document_id": "a"})) == [1, 2]
    assert table.matching({"document_id": "a", "lang": "fr"}) == []


def test_an_empty_table_round_trips() -> None:
    table = _restored(PassageTable())
    assert len(table) == 0
    assert table.rids() == set()


def test_columns_that_do_not_fit_together_are_refused() -> None:
    columns = dict(_table(ODD).compacted().columns())
    columns[PREFIX + "strings"] = columns[PREFIX + "strings"][:-1]
    with pytest.raises(ValueError, match="strings"):
        PassageTable(columns)
