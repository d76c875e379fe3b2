"""Bulk batches run side by side on CPU cores, in order, with torch's thread count restored."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from qa.embed.parallel import embed_rows, map_batches


@pytest.fixture
def two_cores() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_batches_run_side_by_side_and_come_back_in_order(two_cores: None) -> None:
    seen: list[tuple[int, int, bool]] = []
    started = threading.Barrier(2, timeout=10)  # passes only if two batches run at once

    def run(batch: list[int]) -> list[int]:
        if batch[0] < 2:
            started.wait()
        seen.append(
            (threading.get_ident(), torch.get_num_threads(), torch.is_inference_mode_enabled())
        )
        return [x * 10 for x in batch]

    batches = [[i, i + 100] for i in range(6)]
    assert map_batches(torch, "cpu", run, batches) == [[x * 10 for x in b] for b in batches]
    assert len({ident for ident, _, _ in seen}) == 2
    assert {(threads, inference) for _, threads, inference in seen} == {(1, True)}
    assert torch.get_num_threads() == 2


def test_fewer_batches_than_cores_share_the_cores(two_cores: None) -> None:
    threads = map_batches(torch, "cpu", lambda _: torch.get_num_threads(), [0])
    assert threads == [2]


def test_a_failing_batch_raises_and_the_rest_are_dropped(two_cores: None) -> None:
    started: list[int] = []

    def run(batch: int) -> int:
        started.append(batch)
        if batch == 0:
            raise ValueError("bad batch")
        threading.Event().wait(0.2)  # the others are slow: most are still queued
        return batch

    with pytest.raises(ValueError, match="bad batch"):
        map_batches(torch, "cpu", run, list(range(50)))
    assert len(started) < 10
    assert torch.get_num_threads() == 2


def test_a_gpu_runs_batches_in_turn_on_the_calling_thread(two_cores: None) -> None:
    caller = threading.get_ident()
    idents = map_batches(torch, "cuda:0", lambda _: threading.get_ident(), [1, 2, 3])
    assert idents == [caller] * 3


def test_rows_land_where_their_group_says(two_cores: None) -> None:
    groups = [[4, 0], [2], [1, 3]]
    out = embed_rows(torch, "cpu", lambda g: np.array([[float(i), -i] for i in g]), groups, (5, 2))
    assert out.dtype == np.float32
    assert out.tolist() == [[float(i), -float(i)] for i in range(5)]
