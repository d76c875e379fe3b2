"""OCR of a PDF without a text layer (a scan), with the Tesseract command where it is installed.

A scanned PDF holds one picture per page; each picture goes through `tesseract` (Arabic and
English where their data is installed: Debian's tesseract-ocr-ara and tesseract-ocr-eng), and
its blank-line-separated blocks become paragraphs of that page.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess

from qa.ingest.structured import Piece
from qa.text.lines import join_lines

LANGUAGES = ("ara", "eng")
PAGE_TIMEOUT_S = 120
_BLANK_LINE = re.compile(r"\n\s*\n")
_DIRECTION_MARKS = str.maketrans("", "", "\u200e\u200f\u061c")  # Tesseract adds LRM/RLM


def tesseract() -> str | None:
    """The path of the tesseract command, or None when it is not installed."""
    return shutil.which("tesseract")


def languages(binary: str) -> str:
    """The wanted languages Tesseract has data for, as its -l argument ("ara+eng")."""
    listed = subprocess.run(
        [binary, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
    )
    installed = set(listed.stdout.split())
    return "+".join(lang for lang in LANGUAGES if lang in installed) or "eng"


def ocr_pieces(data: bytes, binary: str) -> list[Piece]:
    """The paragraphs Tesseract reads in each page's pictures, with their page numbers."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    langs = languages(binary)
    pieces: list[Piece] = []
    for number, page in enumerate(reader.pages, start=1):
        for image in page.images:
            text = read_image(binary, image.data, langs)
            for block in _BLANK_LINE.split(text):
                joined, _ = join_lines(block.split("\n"))
                if joined:
                    pieces.append(Piece("paragraph", joined, page_marks=((0, number),)))
    return pieces


def read_image(binary: str, image: bytes, langs: str) -> str:
    """The text of one picture (Tesseract reads it from stdin); empty when it reads none."""
    done = subprocess.run(
        [binary, "stdin", "stdout", "-l", langs],
        input=image,
        capture_output=True,
        timeout=PAGE_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        return ""
    return done.stdout.decode("utf-8", errors="replace").translate(_DIRECTION_MARKS)
