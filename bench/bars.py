"""Issue 15's bars, judged from one `bench/run.py` result: a table of bar, measurement, verdict.

    python bench/run.py --only txtai-e5,memory --rounds 3      (or: make bench-bars)

Memory bars are in decimal units as the issue writes them (1 GB = 1000 MB = 10^9 bytes); the
server's numbers are read in MiB from /proc and converted. A bar whose section did not run
reads "not run". The quality bar (`qa eval` MRR and answer accuracy within 0.005) needs the
numbers from before a change: the retrieval numbers here are for reading beside txtai's.
"""

from __future__ import annotations

from typing import Any

MB_PER_MIB = 1.048576
Row = tuple[str, str, str]


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _mb(mib: float) -> str:
    return f"{mib * MB_PER_MIB:.0f} MB"


def indexing_bar(e5: dict[str, Any] | None) -> Row:
    """qa's indexing passages/s at least 1.5 × every txtai configuration's (e5, one run)."""
    bar = "indexing ≥ 1.5 × txtai passages/s (multilingual-e5-small)"
    if e5 is None:
        return bar, "not run", "not run"
    systems, ratios = e5["systems"], e5["ratios"]
    parts = [f"qa {systems['qa']['index_passages_per_s']:.1f}/s"] + [
        f"txtai {label} {systems[f'txtai {label}']['index_passages_per_s']:.1f}/s "
        f"({r['indexing_qa_over_txtai']:.2f}×)"
        for label, r in ratios.items()
    ]
    worst = min(r["indexing_qa_over_txtai"] for r in ratios.values())
    return bar, "; ".join(parts), _verdict(worst >= 1.5)


def ask_bars(e5: dict[str, Any] | None) -> list[Row]:
    """qa's ask p50 at or below txtai's search p50, per question set (against each config)."""
    bar = "ask p50 ≤ txtai search p50 (multilingual-e5-small)"
    if e5 is None:
        return [(bar, "not run", "not run")]
    from bench.versus_txtai import SET_LABELS

    systems, rows = e5["systems"], []
    for key, ours in systems["qa"]["sets"].items():
        theirs = {
            name.removeprefix("txtai "): s["sets"][key]["search"]["p50_ms"]
            for name, s in systems.items()
            if name != "qa"
        }
        ask = ours["ask"]["p50_ms"]
        measured = f"qa ask {ask:.1f} ms; " + "; ".join(
            f"txtai {label} {ms:.1f} ms" for label, ms in theirs.items()
        )
        beaten = [label for label, ms in theirs.items() if ask <= ms]
        verdict = "met" if len(beaten) == len(theirs) else "NOT met"
        if beaten and len(beaten) < len(theirs):
            verdict += f" (met vs {', '.join(beaten)})"
        rows.append((f"{bar}, {SET_LABELS.get(key, key)}", measured, verdict))
    return rows


def memory_bars(memory: dict[str, Any] | None) -> list[Row]:
    """RSS at rest (≤ 1 GB reader on, ≤ 400 MB off), peak indexing ≤ 2 GB, 8 clients ≥ 1."""
    if memory is None:
        names = ["RSS at rest after indexing", "peak RSS while indexing", "8 clients ≥ 1 client"]
        return [(name, "not run", "not run") for name in names]
    rows: list[Row] = []
    for reader, rest_limit in (("on", 1000), ("off", 400)):
        run = memory.get(reader, {})
        tag = f"QA_READER={reader}"
        if "error" in run or not run:
            why = run.get("error", "not run")
            rows += [(f"{tag}: server", why, "not run")]
            continue
        rest, peak = run["rss_at_rest_mib"], run["rss_peak_indexing_mib"]
        rows += [
            (
                f"{tag}: RSS at rest after indexing ≤ {rest_limit} MB",
                f"{_mb(rest)} (ready {_mb(run['rss_ready_mib'])}, right after indexing "
                f"{_mb(run['rss_after_indexing_mib'])})",
                _verdict(rest * MB_PER_MIB <= rest_limit),
            ),
            (
                f"{tag}: peak RSS while indexing ≤ 2000 MB",
                f"{_mb(peak)} ({run['index_passages_per_s']:.1f} passages/s through the API)",
                _verdict(peak * MB_PER_MIB <= 2000),
            ),
            (
                f"{tag}: 8 clients' throughput ≥ 1 client's",
                f"{run['eight_clients']['throughput_rps']:.2f} / "
                f"{run['one_client']['throughput_rps']:.2f} req/s "
                f"= {run['throughput_ratio_8_to_1']:.2f}×",
                _verdict(run["throughput_ratio_8_to_1"] >= 1),
            ),
        ]
    return rows


def quality_row(e5: dict[str, Any] | None) -> Row:
    """Retrieval MRR@10 of qa's ask and of txtai's best configuration, for reading beside eval."""
    name = "retrieval MRR@10 (qa ask vs txtai), e5; the bar itself is `qa eval` ± 0.005"
    if e5 is None:
        return name, "not run", "not run"
    from bench.versus_txtai import SET_LABELS

    systems, parts = e5["systems"], []
    for key, ours in systems["qa"]["sets"].items():
        theirs = ", ".join(
            f"{n.removeprefix('txtai ')} {s['sets'][key]['search_quality']['mrr_at_10']:.3f}"
            for n, s in systems.items()
            if n != "qa"
        )
        parts.append(
            f"{SET_LABELS.get(key, key)}: qa {ours['ask_quality']['mrr_at_10']:.3f}, txtai {theirs}"
        )
    return name, "; ".join(parts), "compare with qa eval before the change"


def bars(result: dict[str, Any]) -> list[Row]:
    """Every bar of the issue that this result can judge."""
    e5, memory = result.get("txtai_e5"), result.get("memory")
    return [indexing_bar(e5), *ask_bars(e5), *memory_bars(memory), quality_row(e5)]


def bars_table(result: dict[str, Any]) -> str:
    """The bars as a Markdown table."""
    lines = ["| bar | measured | verdict |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in bars(result)]
    return "\n".join(lines)
