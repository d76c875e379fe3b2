"""Read .txt, .md, .html, .pdf, .docx and .jsonl into Documents, one registry of readers."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qa.domain import Document
from qa.errors import InvalidInputError, PayloadTooLargeError, UnsupportedFormatError

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
    """Plain text and Markdown: the text as it is (offsets refer to the file)."""
    return _single(_decode(data, name), name)


def read_html(data: bytes, name: str) -> list[Document]:
    """HTML: visible text, block elements separated by blank lines; <title> is the title."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(data, name), "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    if soup.title:
        soup.title.decompose()
    blocks = [
        " ".join(el.get_text(" ", strip=True).split())
        for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "td"])
        if not el.find(["p", "li", "td"])
    ]
    text = "\n\n".join(b for b in blocks if b) or soup.get_text("\n", strip=True)
    return _single(text, name, title)


def read_pdf(data: bytes, name: str) -> list[Document]:
    """PDF: the text layer of each page, pages separated by blank lines."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidInputError(f"{name}: not a readable PDF ({exc})") from exc
    metadata: Any = reader.metadata or {}
    title = str(metadata.get("/Title") or "")
    return _single("\n\n".join(p.strip() for p in pages if p.strip()), name, title)


def read_docx(data: bytes, name: str) -> list[Document]:
    """Word .docx: its paragraphs, separated by blank lines."""

    import docx

    _check_archive(data, name)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on malformed parts: all the caller's
        raise InvalidInputError(f"{name}: not a readable .docx file ({exc})") from exc
    paragraphs = [p.text.strip() for p in document.paragraphs if p.text.strip()]
    title = document.core_properties.title or ""
    return _single("\n\n".join(paragraphs), name, title)


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
    ".md": read_text,
    ".markdown": read_text,
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
