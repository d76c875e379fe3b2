import io
import json
from pathlib import Path

import pytest

from qa.errors import InvalidInputError, UnsupportedFormatError
from qa.ingest import iter_files, load_bytes, load_path
from qa.ingest.loaders import doc_id_for


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with a text layer (Helvetica), written by hand for the test."""
    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({t}) '" for t in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for off in offsets:
        out.write(f"{off:010d} 00000 n \n".encode())
    out.write(
        f"trailer << /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF".encode()
    )
    return out.getvalue()


def test_text_keeps_text_exactly() -> None:
    raw = "عنوان\n\nفقرة أولى.\r\nسطر ﻋﻤﺮان"
    [doc] = load_bytes(raw.encode("utf-8"), "notes/a.txt")
    assert doc.text == "عنوان\n\nفقرة أولى.\nسطر ﻋﻤﺮان"
    assert doc.id == "notes_a"
    assert doc.regions == () and doc.pages == ()


def test_markdown_is_rendered_with_its_structure() -> None:
    [md] = load_bytes(b"# Title\n\nBody **bold** [link](http://x) text.", "readme.md")
    assert md.text == "Title\n\nBody bold link text."
    assert [(r.role, r.level) for r in md.regions] == [("heading", 1), ("paragraph", 0)]


def test_html_extracts_visible_blocks() -> None:
    html = (
        "<html><head><title>Page</title><style>p{}</style></head><body>"
        "<h1>Heading</h1><p>First <b>bold</b> para.</p><script>x()</script>"
        "<p>Second.</p></body></html>"
    )
    [doc] = load_bytes(html.encode(), "page.html")
    assert doc.title == "Page"
    assert doc.text == "Heading\n\nFirst bold para.\n\nSecond."
    assert [r.role for r in doc.regions] == ["heading", "paragraph", "paragraph"]


def test_pdf_text_layer() -> None:
    [doc] = load_bytes(minimal_pdf(["Hello PDF world.", "Second line."]), "file.pdf")
    assert "Hello PDF world." in doc.text
    assert "Second line." in doc.text


def test_docx_paragraphs() -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("فقرة من ملف وورد.")
    document.add_paragraph("Second paragraph.")
    buffer = io.BytesIO()
    document.save(buffer)
    [doc] = load_bytes(buffer.getvalue(), "x.docx")
    assert doc.text == "فقرة من ملف وورد.\n\nSecond paragraph."


def test_jsonl_documents() -> None:
    lines = [
        {"id": "a", "title": "A", "text": "alpha", "metadata": {"lang": "en"}},
        {"text": "no id here"},
    ]
    data = "\n".join(json.dumps(x) for x in lines).encode()
    docs = load_bytes(data, "set.jsonl")
    assert [d.id for d in docs] == ["a", "set-2"]
    assert docs[0].metadata == {"lang": "en"}


@pytest.mark.parametrize(
    ("data", "name", "error", "match"),
    [
        (b"\xff\xfe\xfa bad", "bad.txt", InvalidInputError, "UTF-8"),
        (b"\x00\x01\x02binary", "fake.txt", InvalidInputError, "binary"),
        (b"   \n  ", "empty.txt", InvalidInputError, "empty"),
        (b"data", "image.png", UnsupportedFormatError, "unsupported"),
        (b"%PDF-1.4 broken", "broken.pdf", InvalidInputError, "PDF"),
        (b"not a zip", "broken.docx", InvalidInputError, "docx"),
        (b'{"text": "ok"}\n{oops', "bad.jsonl", InvalidInputError, "bad.jsonl:2"),
        (b'{"text": ""}', "blank.jsonl", InvalidInputError, "non-empty"),
    ],
)
def test_bad_files_are_refused_clearly(data: bytes, name: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        load_bytes(data, name)


def test_folders_are_walked_in_order_skipping_hidden_and_unknown(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("a")
    (tmp_path / ".hidden.txt").write_text("h")
    (tmp_path / "image.png").write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)] == [
        "b.txt",
        "sub/a.md",
    ]
    [doc] = load_path(tmp_path / "sub" / "a.md", tmp_path)
    assert doc.id == "sub_a"


def test_missing_path() -> None:
    with pytest.raises(InvalidInputError, match="no such file"):
        list(iter_files(Path("/nonexistent/path")))


@pytest.mark.parametrize(
    ("name", "expected"), [("a b.txt", "a_b"), ("dir/x.y.md", "dir_x.y"), ("???.txt", "document")]
)
def test_doc_id_for(name: str, expected: str) -> None:
    assert doc_id_for(name) == expected
