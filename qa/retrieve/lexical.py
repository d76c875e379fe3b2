"""BM25 over Arabic-normalised, light-stemmed tokens: postings in arrays, weighed per query.

Scores are Lucene's BM25 (k1 1.5, b 0.75: what bm25s computes by default), but nothing is
precomputed per passage. The postings keep raw term frequencies and each query weighs them with
the current document frequencies, passage count and mean length, so adding or removing
passages never forces a rebuild, and a snapshot's postings answer as soon as they are mapped.

The base is column-wise (term-major postings over rows in row-id order); passages added since
wait in a small overlay that is merged into new arrays once it grows, and on every snapshot.
Removed base rows are tombstoned.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]
K1, B = 1.5, 0.75
PREFIX = "lexical."
MERGE_MIN = 2048  # overlay passages before a merge (or 1/16 of the base, if more)
_SEP = "\n"  # between terms in a snapshot (terms are runs of word characters)


class DocumentFrequency(Mapping[str, int]):
    """How many passages contain each term (a read-only view of the index's counts)."""

    def __init__(self, vocab: dict[str, int], counts: list[int]) -> None:
        self._vocab = vocab
        self._counts = counts

    def __getitem__(self, term: str) -> int:
        return self._counts[self._vocab[term]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._vocab)

    def __len__(self) -> int:
        return len(self._vocab)


class LexicalIndex:
    """BM25 scores of passages by row id; cheap to change, nothing rebuilt on a query."""

    def __init__(self, columns: Mapping[str, Array] | None = None) -> None:
        if columns is None:
            terms: list[str] = []
            self._set_base(
                np.zeros(0, np.int64),
                np.zeros(0, np.int32),
                np.zeros(1, np.int64),
                np.zeros(0, np.int32),
                np.zeros(0, np.int32),
            )
        else:
            self._set_base(
                *(columns[PREFIX + k] for k in ("rids", "lengths", "term_bounds", "rows", "tf"))
            )
            joined = str(columns[PREFIX + "terms"].data, "utf-8", "surrogatepass")
            terms = joined.split(_SEP) if len(self._bounds) > 1 else []
            if len(terms) != len(self._bounds) - 1:
                raise ValueError("lexical terms do not match their postings")
        self._terms = terms
        self._vocab = dict(zip(terms, range(len(terms)), strict=True))
        self._df: list[int] = np.diff(self._bounds).tolist()  # a base has no tombstones
        self._count = len(self._rids)
        self._total_length = int(self._lengths.sum(dtype=np.int64))
        # overlay: rid -> (term ids, frequencies, length); term id -> {rid: frequency}
        self._fresh: dict[int, tuple[list[int], list[int], int]] = {}
        self._fresh_postings: dict[int, dict[int, int]] = {}

    def _set_base(self, rids: Array, lengths: Array, bounds: Array, rows: Array, tf: Array) -> None:
        n = len(rids)
        if len(lengths) != n or len(rows) != len(tf) or int(bounds[-1]) != len(rows):
            raise ValueError("lexical columns do not fit together")
        if n > 1 and not bool(np.all(rids[1:] > rids[:-1])):
            raise ValueError("lexical row ids are not in ascending order")
        if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= n):
            raise ValueError("lexical postings point outside the rows")
        self._rids, self._lengths, self._bounds, self._rows, self._tf = (
            rids,
            lengths,
            bounds,
            rows,
            tf,
        )
        self._alive = np.ones(n, dtype=bool)
        self._dead = 0

    def __len__(self) -> int:
        return self._count

    @property
    def document_frequency(self) -> Mapping[str, int]:
        """How many passages contain each term."""
        return DocumentFrequency(self._vocab, self._df)

    def rids(self) -> set[int]:
        """Row ids of the passages held."""
        base = self._rids[self._alive].tolist() if self._dead else self._rids.tolist()
        return {*base, *self._fresh}

    # ----------------------------------------------------------------- changes
    def _term_id(self, term: str) -> int:
        found = self._vocab.get(term)
        if found is not None:
            return found
        if _SEP in term:
            raise ValueError(f"a term may not contain a line break: {term!r}")
        self._vocab[term] = len(self._terms)
        self._terms.append(term)
        self._df.append(0)
        return len(self._terms) - 1

    def _base_row(self, rid: int) -> int:
        row = int(np.searchsorted(self._rids, rid))
        return row if row < len(self._rids) and int(self._rids[row]) == rid else -1

    def add(self, rid: int, tokens: Sequence[str]) -> None:
        """Index a passage's tokens under its row id."""
        row = self._base_row(rid)
        if rid in self._fresh or (row >= 0 and self._alive[row]):
            raise KeyError(f"row {rid} is already indexed")
        counts = Counter(tokens)
        ids = [self._term_id(t) for t in counts]
        for term, tf in zip(ids, counts.values(), strict=True):
            self._df[term] += 1
            self._fresh_postings.setdefault(term, {})[rid] = tf
        self._fresh[rid] = (ids, list(counts.values()), len(tokens))
        self._count += 1
        self._total_length += len(tokens)
        if len(self._fresh) > max(MERGE_MIN, (len(self._rids) - self._dead) // 16):
            self.merge()

    def remove(self, rids: Iterable[int]) -> None:
        """Forget passages (unknown row ids are ignored)."""
        rows: list[int] = []
        for rid in rids:
            fresh = self._fresh.pop(rid, None)
            if fresh is not None:
                ids, _, length = fresh
                for term in ids:
                    self._df[term] -= 1
                    postings = self._fresh_postings[term]
                    del postings[rid]
                    if not postings:
                        del self._fresh_postings[term]
            else:
                row = self._base_row(rid)
                if row < 0 or not self._alive[row]:
                    continue
                self._alive[row] = False
                self._dead += 1
                rows.append(row)
                length = int(self._lengths[row])
            self._count -= 1
            self._total_length -= length
        if rows:  # which terms the removed rows held: one pass over the postings
            hit = np.zeros(len(self._rids), dtype=bool)
            hit[rows] = True
            entries = np.flatnonzero(hit[self._rows])
            terms = np.searchsorted(self._bounds, entries, side="right") - 1
            for term, n in zip(*np.unique(terms, return_counts=True), strict=True):
                self._df[int(term)] -= int(n)

    def merge(self) -> None:
        """Fold the overlay and the tombstones into new base arrays."""
        base = self.merged()
        if base is not None:
            self.adopt(base)

    def adopt(self, base: tuple[Array, Array, Array, Array, Array]) -> None:
        """Make `merged()`'s arrays the base: nothing may have been added or removed since."""
        self._set_base(*base)
        self._fresh.clear()
        self._fresh_postings.clear()

    def merged(self) -> tuple[Array, Array, Array, Array, Array] | None:
        """The base arrays with the overlay and tombstones folded in (None: nothing to fold).

        Only reads this index, so searches can go on meanwhile; `adopt` swaps the result in.
        """
        if not self._fresh and not self._dead:
            return None
        keep = np.flatnonzero(self._alive)
        fresh = sorted(self._fresh.items())
        rids = np.concatenate([self._rids[keep], np.array([r for r, _ in fresh], np.int64)])
        order = np.argsort(rids, kind="stable")
        new_row = np.empty(len(rids), np.int64)
        new_row[order] = np.arange(len(rids))
        lengths = np.concatenate(
            [self._lengths[keep], np.array([f[2] for _, f in fresh], np.int32)]
        )
        vocab_size = len(self._terms)

        # base postings of live rows, still grouped by term, with rows renumbered
        remap = np.full(len(self._rids), -1, np.int64)
        remap[keep] = new_row[: len(keep)]
        live = self._alive[self._rows]
        old_terms = np.repeat(np.arange(len(self._bounds) - 1), np.diff(self._bounds))[live]
        old_rows = remap[self._rows[live]]
        old_tf = self._tf[live]

        # overlay postings, grouped by term
        add_terms = np.array([t for _, f in fresh for t in f[0]], np.int64)
        add_tf = np.array([c for _, f in fresh for c in f[1]], np.int64)
        add_rows = np.repeat(new_row[len(keep) :], [len(f[0]) for _, f in fresh])
        by_term = np.argsort(add_terms, kind="stable")
        add_terms, add_tf, add_rows = add_terms[by_term], add_tf[by_term], add_rows[by_term]

        # each term's postings: its old ones, then its new ones
        old_counts = np.bincount(old_terms, minlength=vocab_size)
        add_counts = np.bincount(add_terms, minlength=vocab_size)
        bounds = np.zeros(vocab_size + 1, np.int64)
        np.cumsum(old_counts + add_counts, out=bounds[1:])
        old_first = np.cumsum(old_counts) - old_counts
        add_first = np.cumsum(add_counts) - add_counts
        at_old = bounds[old_terms] + np.arange(len(old_terms)) - old_first[old_terms]
        at_add = (
            bounds[add_terms]
            + old_counts[add_terms]
            + np.arange(len(add_terms))
            - add_first[add_terms]
        )
        rows = np.empty(int(bounds[-1]), np.int32)
        tf = np.empty(int(bounds[-1]), np.int32)
        rows[at_old], rows[at_add] = old_rows, add_rows
        tf[at_old], tf[at_add] = old_tf, add_tf
        return rids[order], lengths[order].astype(np.int32), bounds, rows, tf

    # ----------------------------------------------------------------- scoring
    def scores(self, query_tokens: Sequence[str]) -> dict[int, float]:
        """BM25 score of every passage that matches at least one query term, by row id."""
        if not self._count or not self._total_length:
            return {}
        known = (self._vocab.get(t) for t in query_tokens)
        terms = Counter(t for t in known if t is not None and self._df[t] > 0)
        if not terms:
            return {}
        n, mean_length = self._count, self._total_length / self._count
        base = np.zeros(len(self._rids)) if len(self._rids) else None
        found: dict[int, float] = {}
        for term, repeats in terms.items():
            df = self._df[term]
            weight = repeats * math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            if base is not None and term < len(self._bounds) - 1:
                first, last = int(self._bounds[term]), int(self._bounds[term + 1])
                rows = self._rows[first:last]
                tf = self._tf[first:last].astype(np.float64)
                norm = K1 * (1.0 - B + B * self._lengths[rows] / mean_length)
                base[rows] += weight * tf / (tf + norm)
            for rid, count in self._fresh_postings.get(term, {}).items():
                scale = K1 * (1.0 - B + B * self._fresh[rid][2] / mean_length)
                found[rid] = found.get(rid, 0.0) + weight * count / (count + scale)
        if base is not None:
            if self._dead:
                base[~self._alive] = 0.0
            hits = np.flatnonzero(base > 0)
            found.update(zip(self._rids[hits].tolist(), base[hits].tolist(), strict=True))
        return found

    # ----------------------------------------------------------------- columns
    def columns(self) -> dict[str, Array]:
        """The postings as named arrays for a snapshot (merges the overlay first)."""
        self.merge()
        return {
            PREFIX + "rids": self._rids,
            PREFIX + "lengths": self._lengths,
            PREFIX + "term_bounds": self._bounds,
            PREFIX + "rows": self._rows,
            PREFIX + "tf": self._tf,
            PREFIX + "terms": np.frombuffer(
                _SEP.join(self._terms).encode("utf-8", "surrogatepass"), np.uint8
            ),
        }


def idf_table(document_frequency: dict[str, int], passages: int) -> dict[str, float]:
    """Smoothed inverse document frequencies (BM25's) for the given terms."""
    return {
        term: math.log(1.0 + (passages - df + 0.5) / (df + 0.5))
        for term, df in document_frequency.items()
    }
