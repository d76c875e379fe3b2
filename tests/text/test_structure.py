import pytest

from qa.domain import Region, Role
from qa.text.structure import (
    looks_like_header,
    page_range,
    region_blocks,
    row_text,
    table_lines,
)


@pytest.mark.parametrize(
    ("header", "cells", "text"),
    [
        (
            ["المصدر", "الإنتاج بالميغاواط"],
            ["الطاقة النووية", "2490"],
            "المصدر: الطاقة النووية، الإنتاج بالميغاواط: 2490",
        ),
        (["Source", "Output (MW)"], ["Nuclear", "2490"], "Source: Nuclear, Output (MW): 2490"),
        (["Source", "MW"], ["Nuclear", ""], "Source: Nuclear"),  # empty cells are left out
        (["", "MW"], ["Nuclear", "2490"], "Nuclear, MW: 2490"),  # a column without header
        (["Source"], ["Nuclear", "2490"], "Source: Nuclear, 2490"),  # more cells than header
        (["المصدر", "MW"], ["Wind  power", "1 335"], "المصدر: Wind power, MW: 1 335"),
        (["Year", "Year"], ["Year", "2020"], "Year, Year: 2020"),  # a repeated header cell
    ],
)
def test_row_text(header: list[str], cells: list[str], text: str) -> None:
    assert row_text(header, cells) == text


@pytest.mark.parametrize(
    ("rows", "header_rows", "lines"),
    [
        (
            [["Source", "MW"], ["Nuclear", "2490"], ["Wind", "1335"]],
            None,
            ["Source: Nuclear, MW: 2490", "Source: Wind, MW: 1335"],
        ),
        (  # the first row holds a number: not a header, and two columns read key: value
            [["Population", "220"], ["Area", "881913"]],
            None,
            ["Population: 220", "Area: 881913"],
        ),
        (  # a header the file declares is taken even if it looks like data
            [["2020", "2021"], ["5", "6"]],
            1,
            ["2020: 5, 2021: 6"],
        ),
        (  # two header rows are joined per column
            [["Energy", "Energy"], ["Source", "MW"], ["Coal", "5332"]],
            2,
            ["Energy Source: Coal, Energy MW: 5332"],
        ),
        ([["", ""], ["  ", ""]], None, []),
        ([["الفحم", "5332"]], None, ["الفحم: 5332"]),
    ],
)
def test_table_lines(rows: list[list[str]], header_rows: int | None, lines: list[str]) -> None:
    assert table_lines(rows, header_rows) == lines


@pytest.mark.parametrize(
    ("cells", "expected"),
    [(["المصدر", "الإنتاج"], True), (["Nuclear", "2490"], False), (["", ""], False)],
)
def test_looks_like_header(cells: list[str], expected: bool) -> None:
    assert looks_like_header(cells) is expected


def regions_of(parts: list[tuple[Role, str, int]]) -> tuple[str, list[Region]]:
    """A text and its regions from (role, text, level) parts, joined by blank lines."""
    text = ""
    regions: list[Region] = []
    for role, piece, level in parts:
        if text:
            text += (
                "\n" if role in {"list_item", "table_row"} and regions[-1].role == role else "\n\n"
            )
        regions.append(Region(len(text), len(text) + len(piece), role, level))
        text += piece
    return text, regions


def test_headings_title_the_blocks_under_them_and_lists_stay_whole() -> None:
    text, regions = regions_of(
        [
            ("heading", "تقرير الطاقة", 1),
            ("paragraph", "مقدمة قصيرة.", 0),
            ("heading", "Production", 2),
            ("paragraph", "The table shows:", 0),
            ("table_row", "Source: Nuclear, MW: 2490", 0),
            ("table_row", "Source: Wind, MW: 1335", 0),
            ("heading", "التوصيات", 2),
            ("list_item", "زيادة الاستثمار", 0),
            ("list_item", "تحديث الشبكات", 0),
            ("paragraph", "Short closing line", 0),  # short, no full stop: not a heading here
        ]
    )
    blocks = region_blocks(text, regions)
    assert [(text[b.start : b.end], b.heading) for b in blocks] == [
        ("مقدمة قصيرة.", "تقرير الطاقة"),
        (
            "The table shows:\n\nSource: Nuclear, MW: 2490\nSource: Wind, MW: 1335",
            "Production",
        ),
        ("زيادة الاستثمار\nتحديث الشبكات", "التوصيات"),
        ("Short closing line", "التوصيات"),
    ]


def test_a_heading_without_text_under_it_is_kept_as_a_block() -> None:
    text, regions = regions_of(
        [
            ("heading", "Part one", 1),
            ("heading", "Chapter", 2),  # a deeper heading: Part one is its parent
            ("paragraph", "Body.", 0),
            ("heading", "Empty section", 2),
            ("heading", "Last", 2),
        ]
    )
    blocks = region_blocks(text, regions)
    assert [(text[b.start : b.end], b.heading) for b in blocks] == [
        ("Body.", "Chapter"),
        ("Empty section", "Chapter"),
        ("Last", "Chapter"),
    ]


@pytest.mark.parametrize(
    ("pages", "start", "end", "expected"),
    [
        ((0, 100, 250), 0, 50, (1, 1)),
        ((0, 100, 250), 100, 120, (2, 2)),
        ((0, 100, 250), 90, 120, (1, 2)),
        ((0, 100, 250), 90, 100, (1, 1)),  # ends where page 2 starts
        ((0, 100, 250), 260, 300, (3, 3)),
        ((0, 0, 40), 0, 30, (2, 2)),  # page 1 has no text
    ],
)
def test_page_range(
    pages: tuple[int, ...], start: int, end: int, expected: tuple[int, int]
) -> None:
    assert page_range(pages, start, end) == expected
