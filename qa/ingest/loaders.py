"""Read .txt, .md, .html, .pdf, .docx and .jsonl into Documents, one registry of readers.

Plain text keeps its exact characters. Structured formats are rendered to plain text (no
markup; table rows as "header: value" lines) with their structure kept as the Document's
regions, and Arabic presentation forms folded to letters (qa.ingest.structured.assemble).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from qa.domain import Document
from qa.errors import InvalidInputError, PayloadTooLargeError, UnsupportedFormatError
from qa.ingest.structured import Piece, structured_document

Reader = Callable[[bytes, str], list[Document]]

_ID_UNSAFE = re.compile(r"[^\w.\-]+", re.UNICODE)


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:4096]:
        raise InvalidInputError(f"{name}: looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{name}: not valid UTF-8 text ({exc.reason})") from exc
    return text.replace("\r\n", "\n").replace("\r", "\n")


def doc_id_for(name: str) -> str:
    """A stable, readable document id from a file name or relative path (suffix dropped)."""
    stem = str(Path(name).with_suffix("")).replace("\\", "/").strip("/")
    cleaned = _ID_UNSAFE.sub("_", stem).strip("_")
    return cleaned or "document"


def _single(text: str, name: str, title: str = "") -> list[Document]:
    if not text.strip():
        raise InvalidInputError(f"{name}: the document is empty")
    return [Document(id=doc_id_for(name), text=text, title=title, metadata={"source": name})]


def read_text(data: bytes, name: str) -> list[Document]:
    """Plain text: the text as it is (offsets refer to the file)."""
    return _single(_decode(data, name), name)


def _structured(pieces: Sequence[Piece], name: str, title: str) -> list[Document]:
    document = structured_document(pieces, doc_id_for(name), name, title)
    if document is None:
        raise InvalidInputError(f"{name}: the document is empty")
    return [document]


def read_markdown(data: bytes, name: str) -> list[Document]:
    """Markdown: its text without marks; headings, list items and table rows kept as such."""
    from qa.ingest.markdown import markdown_pieces

    return _structured(markdown_pieces(_decode(data, name)).items, name, "")


def read_html(data: bytes, name: str) -> list[Document]:
    """HTML: visible text in document order, with headings, lists and tables; <title> titles."""
    from bs4 import BeautifulSoup

    from qa.ingest.html import html_pieces

    soup = BeautifulSoup(_decode(data, name), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    return _structured(html_pieces(soup).items, name, title)


def read_pdf(data: bytes, name: str) -> list[Document]:
    """PDF: paragraphs in reading order, headings by type size, each passage's page kept."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    from qa.ingest import pdf

    try:
        reader = PdfReader(io.BytesIO(data))
        metadata: Any = reader.metadata or {}
        title = str(metadata.get("/Title") or "")
        page_count = len(reader.pages)
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidInputError(f"{name}: not a readable PDF ({exc})") from exc
    pages, heights, images = pdf.pdf_boxes(data, name)
    if page_count and not any(pages):
        return _scanned_pdf(data, name, title, images)
    found = pdf.paragraphs(pdf.remove_furniture(pages, heights, title))
    return _structured(pdf.pieces_from_paragraphs(found), name, title)


def _scanned_pdf(data: bytes, name: str, title: str, images: bool) -> list[Document]:
    """A PDF without a text layer: its pictures read by Tesseract if installed, else refused."""
    from qa.ingest import ocr

    binary = ocr.tesseract()
    if binary is not None and images:
        pieces = ocr.ocr_pieces(data, binary)
        document = structured_document(pieces, doc_id_for(name), name, title)
        if document is not None:
            return [replace(document, metadata={**document.metadata, "ocr": "tesseract"})]
    raise InvalidInputError(
        f"{name}: the PDF has no text layer"
        + (" (its pages are images: a scan?)" if images else "")
        + "; install Tesseract (Debian: tesseract-ocr tesseract-ocr-ara) to read it, or OCR "
        "it first (for example `ocrmypdf -l ara+eng in.pdf out.pdf`) and index the result"
    )


def read_docx(data: bytes, name: str) -> list[Document]:
    """Word .docx: paragraphs and tables in document order; headings and lists by style."""

    import docx

    from qa.ingest.word import docx_pieces

    _check_archive(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
        pieces = docx_pieces(document)
    except Exception as exc:  # python-docx raises many kinds on malformed parts: all the caller's
        raise InvalidInputError(f"{name}: not a readable .docx file ({exc})") from exc
    title = document.core_properties.title or ""
    return _structured(pieces.items, name, title)


MAX_ARCHIVE_BYTES = 256 * 1024 * 1024  # uncompressed size of all members of a .docx
MAX_ARCHIVE_MEMBERS = 10_000


def _check_archive(data: bytes, name: str) -> None:
    """Refuse zip bombs by the sizes in the headers (zipfile enforces them while reading)."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise InvalidInputError(f"{name}: not a readable .docx file ({exc})") from exc
    total = sum(m.file_size for m in members)
    if len(members) > MAX_ARCHIVE_MEMBERS or total > MAX_ARCHIVE_BYTES:
        raise PayloadTooLargeError(
            f"{name}: the archive unpacks to {total} bytes in {len(members)} members "
            f"(limits {MAX_ARCHIVE_BYTES} bytes, {MAX_ARCHIVE_MEMBERS} members)"
        )


def read_jsonl(data: bytes, name: str) -> list[Document]:
    """JSON Lines, one {"id", "title", "text", "metadata"} object per line."""
    docs: list[Document] = []
    for number, line in enumerate(_decode(data, name).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{name}:{number}: not valid JSON ({exc.msg})") from exc
        docs.append(document_from_mapping(item, f"{name}:{number}", f"{doc_id_for(name)}-{number}"))
    if not docs:
        raise InvalidInputError(f"{name}: no documents in the file")
    return docs


def document_from_mapping(item: Any, where: str, default_id: str) -> Document:
    """Validate one {"id", "title", "text", "metadata"} mapping into a Document."""
    if not isinstance(item, dict):
        raise InvalidInputError(f"{where}: expected a JSON object")
    text, title = item.get("text"), item.get("title") or ""
    metadata = item.get("metadata") or {}
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError(f"{where}: 'text' must be a non-empty string")
    if not isinstance(title, str) or not isinstance(metadata, dict):
        raise InvalidInputError(f"{where}: 'title' must be a string and 'metadata' an object")
    doc_id = item.get("id")
    if doc_id is not None and (not isinstance(doc_id, str | int) or not str(doc_id).strip()):
        raise InvalidInputError(f"{where}: 'id' must be a non-empty string")
    return Document(
        id=str(doc_id).strip() if doc_id is not None else default_id,
        text=text,
        title=title,
        metadata=metadata,
    )


READERS: dict[str, Reader] = {
    ".txt": read_text,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".jsonl": read_jsonl,
}
SUPPORTED_SUFFIXES = tuple(READERS)


def load_bytes(data: bytes, name: str) -> list[Document]:
    """Documents from a file's bytes; the name's suffix picks the reader."""
    reader = READERS.get(Path(name).suffix.lower())
    if reader is None:
        raise UnsupportedFormatError(
            f"{name}: unsupported format (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
    return reader(data, name)


def iter_files(path: Path) -> Iterator[Path]:
    """The supported files at a path: the file itself, or a folder's files in sorted order."""
    if path.is_file():
        yield path
        return
    if not path.is_dir():
        raise InvalidInputError(f"{path}: no such file or folder")
    for child in sorted(path.rglob("*")):
        hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
        if child.is_file() and not hidden and child.suffix.lower() in READERS:
            yield child


def load_path(path: Path, root: Path | None = None) -> list[Document]:
    """Documents from one file; ids come from the path relative to root (or the file name)."""
    name = str(path.relative_to(root)) if root and path != root else path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc.strerror})") from exc
    return load_bytes(data, name)
