"""/v1/ask throughput with 8 clients vs 1, for several QA_QUERY_CONCURRENCY values, alternating.

    python bench/concurrency.py --index DIR [--slots 1,64] [--rounds 2] [--reader auto]

Serves a built index (`qa index`, or bench/run.py's) once per round and setting, asks the same
ARCD questions with 1 client, then with 8, and prints each run's throughput and the ratio.
Rounds alternate the settings, so a busy machine slows each about alike. 64 slots is the
behaviour before the bound (every request computed at once).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus import load_corpus  # noqa: E402
from bench.service import _ask_all, _clients, _free_port, _wait_ready  # noqa: E402


def one_run(index: Path, slots: int, reader: str, questions: list[str]) -> dict[str, float]:
    """Start a server with `slots`, warm it, time 1 then 8 clients; stop it."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(QA_INDEX_DIR=str(index), QA_READER=reader, QA_LOG_LEVEL="warning")
    env.update(QA_QUERY_CONCURRENCY=str(slots), PYTHONPATH=str(ROOT))
    if "QA_MODEL_CACHE_DIR" in os.environ:
        env["QA_MODEL_CACHE_DIR"] = os.environ["QA_MODEL_CACHE_DIR"]
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(url, process, time.perf_counter())
            _ask_all(url, questions[:10])  # warm
            one = _clients(url, questions, 1)
            eight = _clients(url, questions, 8)
        finally:
            process.terminate()
            process.wait(60)
    return {
        "slots": slots,
        "one_rps": round(one["throughput_rps"], 2),
        "eight_rps": round(eight["throughput_rps"], 2),
        "ratio_8_to_1": round(eight["throughput_rps"] / one["throughput_rps"], 3),
        "eight_p99_ms": round(eight["p99_ms"], 1),
    }


def main() -> None:
    """Parse arguments, alternate the settings over the rounds, print one JSON line a run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--slots", default="1,64", help="QA_QUERY_CONCURRENCY values")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reader", default="auto", choices=["auto", "on", "off"])
    parser.add_argument("--questions", type=int, default=80)
    args = parser.parse_args()
    questions = [q.question for q in load_corpus(questions=args.questions).questions]
    for round_ in range(args.rounds):
        for slots in [int(s) for s in args.slots.split(",")]:
            result = one_run(args.index, slots, args.reader, questions)
            print(json.dumps({"round": round_, "reader": args.reader, **result}), flush=True)


if __name__ == "__main__":
    main()
