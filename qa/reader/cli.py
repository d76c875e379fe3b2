"""`qa reader data|train|eval`: the reader's data, training and metrics (torch imported late)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

reader_app = typer.Typer(help="The trained span reader: data, training, held-out metrics.")

DataDir = Annotated[Path, typer.Option(help="Converted JSONL data (train/heldout/summary).")]
ModelDir = Annotated[
    Path | None, typer.Option(help="Exported e5 folder (default: `qa model export` output).")
]


def _model_dir(model_dir: Path | None) -> Path:
    if model_dir is not None:
        return model_dir
    from qa.config import Settings
    from qa.embed.export import bundled_model_path

    return bundled_model_path(Settings().model_cache_dir)


@reader_app.command("data")
def data_command(
    out: DataDir = Path("data/reader"),
    mirror: Annotated[
        Path | None,
        typer.Option(help="Folder of git mirrors (owner+name/repo); default: pinned raw URLs."),
    ] = None,
    root: Annotated[Path, typer.Option(help="Project root holding eval/.")] = Path("."),
    seed: int = 0,
) -> None:
    """Fetch the pinned QA sets and write train.jsonl, heldout.jsonl and summary.json."""
    from qa.reader.data import prepare

    summary = prepare(mirror, root, out, seed)
    typer.echo(json.dumps(summary, indent=1))


@reader_app.command("train")
def train_command(
    data: DataDir = Path("data/reader"),
    run_dir: Annotated[Path, typer.Option(help="Checkpoints and early weights.")] = Path(
        "runs/reader"
    ),
    weights_dir: Annotated[Path | None, typer.Option(help="Where the shipped weights go.")] = None,
    model_dir: ModelDir = None,
    budget_minutes: Annotated[float, typer.Option(help="Training time (LR decays over it).")] = 75,
    seed: int = 0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from run_dir.")] = False,
    eval_limit: Annotated[int, typer.Option(help="Held-out questions per group (0: all).")] = 200,
    threads: Annotated[int, typer.Option(help="Threads per worker process.")] = 1,
    workers: Annotated[int, typer.Option(help="Data-parallel processes (one per core).")] = 1,
    init_from: Annotated[
        Path | None,
        typer.Option(help="Weights folder to continue from (new optimizer and schedule)."),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the epoch's mix.")] = 3,
    lr: Annotated[float, typer.Option(min=0, help="Peak learning rate of the adapters.")] = 1.5e-3,
    mix: Annotated[
        str | None,
        typer.Option(help='Questions per group and epoch as JSON, e.g. {"xquad:ar": null}.'),
    ] = None,
    neg_sibling: Annotated[
        float,
        typer.Option(
            min=0,
            max=1,
            help="Chance per question of a no-answer window from another paragraph of its article.",
        ),
    ] = 0.0,
) -> None:
    """Train LoRA adapters + span head, write the weights and the held-out metrics."""
    from qa.errors import InvalidInputError
    from qa.reader.manifest import WEIGHTS_DIR
    from qa.reader.train import DEFAULT_MIX, TrainOptions, train

    groups = dict(DEFAULT_MIX)
    if mix is not None:
        try:
            groups = json.loads(mix)
        except ValueError as error:
            raise InvalidInputError(f"--mix is not JSON: {error}") from error
        if not isinstance(groups, dict) or not all(
            v is None or (type(v) is int and v >= 0)
            for v in groups.values()  # not a bool
        ):
            raise InvalidInputError("--mix maps group names to a count or null")
    for name in ("train.jsonl", "heldout.jsonl"):
        if not (data / name).is_file():
            raise InvalidInputError(f"{data / name} is missing: run `qa reader data` first")

    options = TrainOptions(
        data_dir=data,
        model_dir=_model_dir(model_dir),
        run_dir=run_dir,
        weights_dir=weights_dir or WEIGHTS_DIR,
        seed=seed,
        budget_minutes=budget_minutes,
        eval_limit=eval_limit or None,
        threads=threads,
        workers=workers,
        init_weights=init_from,
        epochs=epochs,
        lr=lr,
        mix=groups,
        neg_sibling=neg_sibling,
    )
    typer.echo(json.dumps(train(options, resume=resume), indent=1))


@reader_app.command("eval")
def eval_command(
    data: DataDir = Path("data/reader"),
    model_dir: ModelDir = None,
    weights_dir: Annotated[Path | None, typer.Option(help="Weights folder to measure.")] = None,
    limit: Annotated[int, typer.Option(help="Questions per group (0: all).")] = 0,
    threads: int = 1,
) -> None:
    """EM/F1 of the reader alone on the held-out split (gold passage given)."""
    from qa.reader.data import read_jsonl
    from qa.reader.evaluate import evaluate_reader
    from qa.reader.infer import load_trained_reader
    from qa.reader.manifest import WEIGHTS_DIR

    reader = load_trained_reader(_model_dir(model_dir), threads, weights_dir or WEIGHTS_DIR)
    rows = read_jsonl(data / "heldout.jsonl")
    typer.echo(json.dumps(evaluate_reader(reader, rows, limit or None), indent=1))
