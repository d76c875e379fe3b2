"""Structured formats: each keeps its headings, list items and table rows, in document order."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from qa.domain import Document
from qa.errors import InvalidInputError
from qa.ingest import load_bytes, load_path, pdf
from qa.ingest.pdf_layout import Box, Line
from qa.ingest.structured import Piece, assemble

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def roles(doc: Document) -> list[tuple[str, str]]:
    """(role, text) of each region."""
    return [(r.role, doc.text[r.start : r.end]) for r in doc.regions]


def test_assemble_separates_blocks_and_keeps_lists_and_tables_together() -> None:
    text, regions, pages = assemble(
        [
            Piece("heading", "ﺗﻘﺮﻳﺮ", 1),
            Piece("table_row", "a: 1", group=1),
            Piece("table_row", "a: 2", group=1),
            Piece("table_row", "a: 3", group=2),  # another table right after
            Piece("list_item", "one", group=3),
        ]
    )
    assert text == "تقرير\n\na: 1\na: 2\n\na: 3\n\none"  # presentation forms folded
    assert [text[r.start : r.end] for r in regions] == ["تقرير", "a: 1", "a: 2", "a: 3", "one"]
    assert pages == ()


def test_assemble_places_page_starts_after_folding() -> None:
    text, _, pages = assemble(
        [
            Piece("paragraph", "ﻻ ﺷﻲء here", page_marks=((0, 1), (6, 2))),  # page 2 at "here"
            Piece("paragraph", "page four", page_marks=((0, 4),)),  # page 3 has no text
        ]
    )
    assert text == "لا شيء here\n\npage four"
    assert text[pages[1] :].startswith("here")
    assert pages[2] == pages[3] == text.index("page four")


HTML = """<html><head><title>T</title><script>x()</script></head><body>
<div>Loose text in a div <span>and a span</span></div>
<h2>Section <em>two</em></h2>
<ul><li>first item</li><li>second <b>item</b><ul><li>nested item</li></ul></li></ul>
<table><caption>Output</caption>
<thead><tr><th>Source</th><th>MW</th></tr></thead>
<tbody><tr><td>Nuclear</td><td>2490</td></tr><tr><td colspan="2">Total</td></tr></tbody>
</table>
<p>Line one<br>line two</p><pre>code  kept</pre>
</body></html>"""


def test_html_blocks_lists_and_tables_in_document_order() -> None:
    [doc] = load_bytes(HTML.encode(), "page.html")
    assert doc.title == "T"
    assert roles(doc) == [
        ("paragraph", "Loose text in a div and a span"),
        ("heading", "Section two"),
        ("list_item", "first item"),
        ("list_item", "second item"),
        ("list_item", "nested item"),
        ("paragraph", "Output"),
        ("table_row", "Source: Nuclear, MW: 2490"),
        ("table_row", "Source: Total, MW: Total"),
        ("paragraph", "Line one line two"),
        ("paragraph", "code kept"),
    ]
    assert doc.regions[1].level == 2
    assert "first item\nsecond item\n\nnested item" in doc.text  # a nested list is its own


MARKDOWN = """# Report

Intro with `code` and *emphasis*.

## Figures

| Source | MW |
|---|---:|
| Nuclear | 2490 |
| Wind | 1335 |

1. first
2. second
   - nested

```
fenced block
```

<table><tr><th>Year</th><th>MW</th></tr><tr><td>2020</td><td>9</td></tr></table>
"""


def test_markdown_headings_tables_lists_and_html_blocks() -> None:
    [doc] = load_bytes(MARKDOWN.encode(), "r.md")
    assert roles(doc) == [
        ("heading", "Report"),
        ("paragraph", "Intro with code and emphasis."),
        ("heading", "Figures"),
        ("table_row", "Source: Nuclear, MW: 2490"),
        ("table_row", "Source: Wind, MW: 1335"),
        ("list_item", "first"),
        ("list_item", "second"),
        ("list_item", "nested"),
        ("paragraph", "fenced block"),
        ("table_row", "Year: 2020, MW: 9"),
    ]
    assert [r.level for r in doc.regions[:3]] == [1, 0, 2]


def test_docx_headings_lists_and_tables_in_document_order() -> None:
    import docx

    document = docx.Document()
    document.add_heading("تقرير", level=1)
    document.add_paragraph("مقدمة.")
    table = document.add_table(rows=2, cols=2)
    for (r, c), text in {
        (0, 0): "المصدر",
        (0, 1): "الإنتاج",
        (1, 0): "الفحم",
        (1, 1): "5332",
    }.items():
        table.cell(r, c).text = text
    document.add_heading("Next", level=2)
    document.add_paragraph("one", style="List Bullet")
    document.add_paragraph("two", style="List Number")
    buffer = io.BytesIO()
    document.save(buffer)
    [doc] = load_bytes(buffer.getvalue(), "r.docx")
    assert roles(doc) == [
        ("heading", "تقرير"),
        ("paragraph", "مقدمة."),
        ("table_row", "المصدر: الفحم، الإنتاج: 5332"),  # header row found by its words
        ("heading", "Next"),
        ("list_item", "one"),
        ("list_item", "two"),
    ]
    assert doc.text.endswith("one\ntwo")


@pytest.mark.parametrize("name", ["seed.md", "seed.html", "seed.docx", "seed.pdf"])
def test_every_format_of_the_seed_stores_the_same_paragraphs(name: str) -> None:
    """The article's eight lines come back as eight blocks, whatever the file format."""
    lines = [
        line
        for line in (FIXTURES / "seed.txt").read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]
    [doc] = load_path(FIXTURES / name)
    assert doc.text == "\n\n".join(lines)
    assert [r.role for r in doc.regions] == ["heading"] + ["paragraph"] * 3 + ["heading"] + [
        "paragraph"
    ] * 3


def test_the_report_reads_the_same_from_every_format() -> None:
    texts = {load_path(FIXTURES / f"report.{s}")[0].text for s in ("md", "html", "docx", "pdf")}
    assert len(texts) == 1
    [text] = texts
    assert "المصدر: الطاقة النووية، الإنتاج بالميغاواط: 2490" in text.split("\n")


def test_pdf_list_items_are_found_by_their_drawn_bullets() -> None:
    """Chromium draws a list's discs as shapes, not text: the items are still list items."""
    [doc] = load_path(FIXTURES / "report.pdf")
    items = [text for role, text in roles(doc) if role == "list_item"]
    assert items == [
        "زيادة الاستثمار في الطاقة الشمسية",
        "تحديث شبكات نقل الكهرباء",
        "توقيع اتفاقيات جديدة مع روسيا لتوريد الغاز",
    ]
    assert [(r.role, r.level) for r in doc.regions[:3]] == [
        ("heading", 1),
        ("paragraph", 0),
        ("heading", 2),
    ]


def test_pdf_pages_headers_and_footers() -> None:
    """The A5 print has Chromium's date, title, address and "n/2" on each page: all dropped."""
    [doc] = load_path(FIXTURES / "seed.pdf")
    assert len(doc.pages) == 2
    assert doc.text[doc.pages[1] :].startswith("رئيسي في أفغانستان")  # mid-paragraph
    for furniture in ("file:", "1/2", "2/2", "AM", "PM"):
        assert furniture not in doc.text
    assert not any("\ufb50" <= c <= "\ufdff" or "\ufe70" <= c <= "\ufeff" for c in doc.text)


@pytest.mark.parametrize(
    ("name", "first_words"),
    [
        ("columns-en.pdf", ["Two columns", "Paragraph 1", "Paragraph 2", "Paragraph 3"]),
        ("columns-ar.pdf", ["بوتين يبحث", "بحث الرئيس", "وذكر الكرملين", "وأضاف البيان"]),
    ],
)
def test_pdf_columns_are_read_in_order(name: str, first_words: list[str]) -> None:
    """Two-column prints: the left column first in English, the right one first in Arabic,
    and a paragraph cut by the column break is one paragraph again."""
    [doc] = load_path(FIXTURES / name)
    blocks = doc.text.split("\n\n")
    assert [b[: len(w)] for b, w in zip(blocks, first_words, strict=False)] == first_words
    if name == "columns-ar.pdf":
        seed = (FIXTURES / "seed.txt").read_text(encoding="utf-8")
        assert all(block in seed for block in blocks)


def test_a_pdf_without_text_layer_asks_for_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Tesseract, a scan is refused with what to do, never indexed as nothing."""
    from qa.ingest import ocr

    monkeypatch.setattr(ocr, "tesseract", lambda: None)
    with pytest.raises(InvalidInputError, match=r"no text layer \(its pages are images.*OCR"):
        load_path(FIXTURES / "scan.pdf")


def test_a_pdf_of_blank_pictures_is_refused_even_with_ocr() -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(buffer, "PDF")
    with pytest.raises(InvalidInputError, match=r"no text layer.*OCR"):
        load_bytes(buffer.getvalue(), "blank.pdf")


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed")
def test_a_scan_is_read_by_tesseract_where_installed() -> None:
    """scan.pdf is a screenshot of an English and an Arabic line, saved as a picture PDF."""
    [doc] = load_path(FIXTURES / "scan.pdf")
    assert doc.metadata["ocr"] == "tesseract"
    assert doc.pages == (0,)
    assert "Pakistan produced 2490 megawatts of nuclear power." in doc.text
    assert "أنتجت باكستان 2490 ميغاواط من الطاقة النووية" in doc.text


def box(page: int, x0: float, y0: float, x1: float, y1: float, text: str, size: float = 10) -> Box:
    """A one-line box for layout tests."""
    return Box(page, x0, y0, x1, y1, (Line(text, x0, x1, size, y0, y1),))


@pytest.mark.parametrize(
    ("rtl", "expected"),
    [
        (False, ["title", "left-1", "left-2", "right-1", "right-2", "wide", "l-3", "r-3"]),
        (True, ["title", "right-1", "right-2", "left-1", "left-2", "wide", "r-3", "l-3"]),
    ],
)
def test_reading_order_reads_columns_band_by_band(rtl: bool, expected: list[str]) -> None:
    boxes = [
        box(1, 300, 600, 500, 650, "right-1"),
        box(1, 50, 700, 500, 750, "title"),
        box(1, 50, 600, 250, 650, "left-1"),
        box(1, 50, 500, 250, 550, "left-2"),
        box(1, 300, 520, 500, 560, "right-2"),
        box(1, 50, 400, 500, 450, "wide"),  # across both columns: a new band starts below
        box(1, 300, 300, 500, 350, "r-3"),
        box(1, 50, 300, 250, 350, "l-3"),
    ]
    assert [b.text for b in pdf.reading_order(boxes, rtl)] == expected


def test_narrow_boxes_one_above_another_are_not_columns() -> None:
    boxes = [box(1, 300, 600, 500, 650, "right, first"), box(1, 50, 500, 250, 550, "left, next")]
    assert [b.text for b in pdf.reading_order(boxes, rtl=False)] == ["right, first", "left, next"]


def test_running_headers_are_dropped_on_every_page() -> None:
    pages = [
        [
            box(n, 50, 770, 300, 780, f"Annual report — page {n}", 8),
            box(n, 50, 400, 500, 700, f"Body of page {n}."),
            box(n, 280, 20, 300, 30, "Confidential", 8),
        ]
        for n in (1, 2, 3)
    ]
    kept = pdf.remove_furniture(pages, [792.0] * 3, title="")
    assert [[b.text for b in page] for page in kept] == [[f"Body of page {n}."] for n in (1, 2, 3)]


def test_a_single_page_keeps_a_header_it_cannot_tell_from_text() -> None:
    pages = [[box(1, 50, 770, 300, 780, "Short note"), box(1, 50, 400, 500, 700, "Body.")]]
    kept = pdf.remove_furniture(pages, [792.0], title="")
    assert [b.text for b in kept[0]] == ["Short note", "Body."]


def cell_column(x0: float, x1: float, cells: list[str], top: float = 600) -> Box:
    """A box of one-line cells 20 points apart, as pdfminer gives a table's column."""
    lines = tuple(
        Line(text, x0, x1, 10, top - 20 * i - 10, top - 20 * i) for i, text in enumerate(cells)
    )
    return Box(1, x0, top - 20 * len(cells), x1, top, lines)


def test_side_by_side_columns_of_cells_are_read_as_table_rows() -> None:
    from qa.ingest.pdf_tables import find_tables

    names = cell_column(50, 150, ["Source", "Nuclear", "Wind"])
    values = cell_column(200, 260, ["MW", "2490", "1335"])
    [table] = find_tables([values, names], rtl=False)
    assert table.rows == (("Source", "MW"), ("Nuclear", "2490"), ("Wind", "1335"))
    [found] = find_tables([values, names], rtl=True)  # right to left: the right column first
    assert found.rows[0] == ("MW", "Source")


def test_two_columns_of_prose_are_not_a_table() -> None:
    from qa.ingest.pdf_tables import find_tables

    prose = ["words " * 9, "more words " * 5, "and the end of it " * 2]
    left, right = cell_column(50, 250, prose), cell_column(300, 500, prose)
    assert [b.rows for b in find_tables([left, right], rtl=False)] == [(), ()]
