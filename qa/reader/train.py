"""Train the span reader on CPU: LoRA + head, time-budgeted, seeded, resumable.

The learning-rate schedule follows the fraction of the time budget used (warm-up, then linear
decay to the end of the budget), because on a shared 2-core machine the step time varies 3-5x
with load: a step-count schedule would either end early or be cut before it decays.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from qa.embed.export import export_sha256
from qa.reader.data import read_jsonl
from qa.reader.evaluate import evaluate_reader
from qa.reader.features import (
    Encoded,
    Specials,
    TokenizerLike,
    Window,
    WindowSpec,
    answer_positions,
    build_windows,
    encode,
)
from qa.reader.infer import TrainedReader, batch_arrays, load_tokenizer
from qa.reader.lora import merge_lora
from qa.reader.manifest import LoraConfig, ReaderManifest
from qa.reader.model import (
    SpanModel,
    TorchSpanLogits,
    build_span_model,
    load_weights_into,
    save_weights,
    shipped_state,
)

# Questions drawn per epoch from each (source, question language) group; None = all of them.
DEFAULT_MIX: dict[str, int | None] = {
    "tydiqa-goldp-ar-dev:ar": None,
    "xquad:ar": None,
    "xquad:en": None,
    "xquad:other": 900,
    "tydiqa-goldp-en-train:en": 800,
    "tydiqa-goldp-en-dev:en": None,
}


@dataclass(frozen=True)
class TrainOptions:
    """Everything a run depends on (recorded in the manifest)."""

    data_dir: Path
    model_dir: Path
    run_dir: Path
    weights_dir: Path
    seed: int = 0
    budget_minutes: float = 75.0
    batch_size: int = 16
    lr: float = 1.5e-3
    norm_lr: float = 2e-4
    warmup: float = 0.04
    max_len: int = 192
    overlap: int = 64
    neg_same: float = 0.25  # chance to add a window of the same text without the answer
    neg_other: float = 0.1  # chance to add a window of another question's text
    # Chance to add the window of another paragraph of the same article that shares the most
    # tokens with the question: the passages a retriever ranks beside the answer's.
    neg_sibling: float = 0.0
    checkpoint_every: int = 10
    epochs: int = 3
    eval_limit: int | None = 200
    # One thread: on a shared, oversubscribed 2-core machine a 2-thread OpenMP team waits at
    # every op for a descheduled thread (measured: 1x66-token forward 0.22 s vs 1.4-3.6 s).
    threads: int = 1
    workers: int = 1
    mix: dict[str, int | None] = field(default_factory=lambda: dict(DEFAULT_MIX))
    lora: LoraConfig = field(default_factory=LoraConfig)
    # Weights to continue from (a fresh optimizer and schedule); None: new adapters.
    init_weights: Path | None = None

    @property
    def spec(self) -> WindowSpec:
        """Window layout for training and inference alike."""
        return WindowSpec(self.max_len, self.overlap)


@dataclass(frozen=True)
class Example:
    """One training window with its answer positions ((0, 0): no answer here)."""

    window: Window
    start: int
    end: int


def mix_key(row: dict[str, Any]) -> str:
    """The mix group of a row: source and question language (XQuAD's minor languages pooled)."""
    lang = row["question_lang"]
    if row["source"] == "xquad" and lang not in ("ar", "en"):
        lang = "other"
    return f"{row['source']}:{lang}"


def sample_rows(
    rows: list[dict[str, Any]], mix: dict[str, int | None], rng: random.Random
) -> list[dict[str, Any]]:
    """The epoch's questions: per group all or a seeded sample, then shuffled together."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(mix_key(row), []).append(row)
    chosen: list[dict[str, Any]] = []
    for key, count in mix.items():
        group = groups.get(key, [])
        chosen += group if count is None or count >= len(group) else rng.sample(group, count)
    rng.shuffle(chosen)
    return chosen


class Featurizer:
    """Tokenises with a cache (XQuAD shares each context between 12 questions)."""

    def __init__(self, tokenizer: TokenizerLike, spec: WindowSpec) -> None:
        self.tokenizer, self.spec = tokenizer, spec
        self.cache: dict[str, Encoded] = {}
        self.specials = Specials()

    def encoded(self, text: str) -> Encoded:
        """The text's tokens, from the cache when seen before."""
        if text not in self.cache:
            self.cache[text] = encode(self.tokenizer, text)
        found: Encoded = self.cache[text]
        return found

    def examples(
        self,
        row: dict[str, Any],
        other: dict[str, Any],
        options: TrainOptions,
        rng: random.Random,
        siblings: Sequence[str] = (),
    ) -> list[Example]:
        """A window holding the answer, plus sometimes no-answer windows (same or other text,
        or the window of a sibling paragraph nearest the question)."""
        question = self.encoded(row["question"]).ids
        windows = build_windows(question, self.encoded(row["context"]), 0, self.spec, self.specials)
        answer = row["answers"][0]
        a, b = answer["start"], answer["start"] + len(answer["text"])
        labelled = [(w, *answer_positions(w, a, b)) for w in windows]
        positives = [Example(w, s, e) for w, s, e in labelled if s > 0]
        negatives = [Example(w, 0, 0) for w, s, _ in labelled if s == 0]
        out = [rng.choice(positives)] if positives else []
        if negatives and rng.random() < options.neg_same:
            out.append(rng.choice(negatives))
        if other["context"] != row["context"] and rng.random() < options.neg_other:
            foreign = build_windows(question, self.encoded(other["context"]), 0, self.spec)
            out.append(Example(rng.choice(foreign), 0, 0))
        if siblings and rng.random() < options.neg_sibling:
            text = rng.choice(siblings)
            near = build_windows(question, self.encoded(text), 0, self.spec, self.specials)
            asked = set(question)
            out.append(Example(max(near, key=lambda w: _shared(asked, w)), 0, 0))
        return out


def _shared(question: set[int], window: Window) -> int:
    """How many of the question's token ids the window's text holds."""
    return len(question & set(window.input_ids[window.context_start :]))


def sibling_table(rows: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
    """The distinct contexts of each (source, article), in first-seen order."""
    table: dict[tuple[str, str], dict[str, None]] = {}
    for row in rows:
        if row.get("article"):
            table.setdefault((row["source"], row["article"]), {})[row["context"]] = None
    return {key: list(contexts) for key, contexts in table.items()}


def siblings_of(row: dict[str, Any], table: dict[tuple[str, str], list[str]]) -> list[str]:
    """Other paragraphs of the row's article that do not hold any of its answers' texts."""
    answers = [a["text"] for a in row["answers"] if a["text"]]
    return [
        text
        for text in table.get((row["source"], row.get("article") or ""), [])
        if text != row["context"] and not any(answer in text for answer in answers)
    ]


def epoch_batches(
    rows: list[dict[str, Any]], featurizer: Featurizer, options: TrainOptions, epoch: int
) -> list[list[Example]]:
    """The epoch's batches, a pure function of (seed, epoch): similar lengths batched together."""
    rng = random.Random(options.seed * 1000 + epoch)
    chosen = sample_rows(rows, options.mix, rng)
    table = sibling_table(rows) if options.neg_sibling > 0 else {}
    examples: list[Example] = []
    for row in chosen:
        siblings = siblings_of(row, table)
        examples += featurizer.examples(row, rng.choice(chosen), options, rng, siblings)
    size = options.batch_size
    batches = []
    chunk = size * 16
    for first in range(0, len(examples), chunk):
        part = sorted(examples[first : first + chunk], key=lambda x: len(x.window.input_ids))
        batches += [part[i : i + size] for i in range(0, len(part), size)]
    rng.shuffle(batches)
    return batches


def lr_factor(fraction: float, warmup: float) -> float:
    """Warm-up then linear decay over the fraction of the time budget used."""
    if fraction < warmup:
        return max(0.05, fraction / warmup)
    return max(0.0, (1.0 - fraction) / (1.0 - warmup))


def loss_of(model: SpanModel, batch: list[Example]) -> torch.Tensor:
    """Mean cross-entropy of start and end positions (no-answer = position 0)."""
    arrays = batch_arrays([x.window for x in batch], Specials().pad)
    start, end = model(*(torch.from_numpy(a) for a in arrays))
    starts = torch.tensor([x.start for x in batch])
    ends = torch.tensor([x.end for x in batch])
    ce = torch.nn.functional.cross_entropy
    return (ce(start, starts) + ce(end, ends)) / 2


@dataclass
class State:
    """Where a run is: for checkpoints and --resume."""

    epoch: int = 0
    cursor: int = 0
    step: int = 0
    elapsed: float = 0.0
    losses: list[float] = field(default_factory=list)


def _optimizer(model: SpanModel, options: TrainOptions) -> torch.optim.Optimizer:
    adapters = [p for n, p in model.named_parameters() if p.requires_grad and _is_main(n)]
    norms = [p for n, p in model.named_parameters() if p.requires_grad and not _is_main(n)]
    return torch.optim.AdamW(
        [
            {"params": adapters, "lr": options.lr, "base_lr": options.lr},
            {"params": norms, "lr": options.norm_lr, "base_lr": options.norm_lr, "weight_decay": 0},
        ],
        weight_decay=0.01,
    )


def _is_main(name: str) -> bool:
    return name.startswith("head.") or name.endswith((".lora_a", ".lora_b"))


def manifest_for(options: TrainOptions, state: State, extra: dict[str, Any]) -> ReaderManifest:
    """The manifest of weights written now."""
    info = {
        "training": {
            "seed": options.seed,
            "steps": state.step,
            "epochs_done": round(state.epoch + state.cursor / max(1, extra.get("batches", 1)), 3),
            "seconds": round(state.elapsed),
            "batch_size": options.batch_size,
            "lr": options.lr,
            "norm_lr": options.norm_lr,
            "neg_same": options.neg_same,
            "neg_other": options.neg_other,
            "neg_sibling": options.neg_sibling,
            "mix": options.mix,
            "last_losses": [round(x, 4) for x in state.losses[-10:]],
            **_continued(options.init_weights),
        },
        **{k: v for k, v in extra.items() if k != "batches"},
    }
    return ReaderManifest(export_sha256(options.model_dir), options.lora, options.spec, info)


def _continued(init_weights: Path | None) -> dict[str, Any]:
    """The training record of the weights a run continued from, if it did."""
    if init_weights is None:
        return {}
    from qa.reader.manifest import MANIFEST_FILE

    earlier = json.loads((init_weights / MANIFEST_FILE).read_text(encoding="utf-8"))
    return {"continued_from": earlier.get("training", {})}


def save_checkpoint(model: SpanModel, opt: torch.optim.Optimizer, state: State, path: Path) -> None:
    """Trainable tensors, optimizer and position, written atomically."""
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"model": shipped_state(model), "optim": opt.state_dict(), "state": asdict(state)}, tmp
    )
    tmp.replace(path)


def load_checkpoint(model: SpanModel, opt: torch.optim.Optimizer, path: Path) -> State:
    """Restore what save_checkpoint wrote."""
    data = torch.load(path, weights_only=False)
    model.load_state_dict(data["model"], strict=False)
    opt.load_state_dict(data["optim"])
    return State(**data["state"])


def _batches_from(
    rows: list[dict[str, Any]], featurizer: Featurizer, options: TrainOptions, state: State
) -> Iterator[tuple[int, int, int, list[Example]]]:
    """(epoch, index, epoch size, batch) from the state's position on."""
    for epoch in range(state.epoch, options.epochs):
        batches = epoch_batches(rows, featurizer, options, epoch)
        first = state.cursor if epoch == state.epoch else 0
        for index in range(first, len(batches)):
            yield epoch, index, len(batches), batches[index]


class _Sync:
    """Data-parallel workers: one process per core, gradients averaged with gloo.

    Processes, not threads: on this shared machine a 2-thread OpenMP team stalls at every op
    on a descheduled thread, while 2 one-thread processes only meet once per step.
    """

    def __init__(self, rank: int, world: int, port: int) -> None:
        self.rank, self.world = rank, world
        if world > 1:
            import torch.distributed as dist

            dist.init_process_group(
                "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
            )

    def average(self, params: list[torch.nn.Parameter]) -> None:
        """Mean of each gradient over workers (one flat all-reduce)."""
        if self.world == 1:
            return
        import torch.distributed as dist

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def agree(self, value: float) -> float:
        """Worker 0's value everywhere (elapsed time decides LR and stopping for all)."""
        if self.world == 1:
            return value
        import torch.distributed as dist

        tensor = torch.tensor([value], dtype=torch.float64)
        dist.broadcast(tensor, 0)
        return float(tensor[0])

    def close(self) -> None:
        """Leave the process group."""
        if self.world > 1:
            import torch.distributed as dist

            dist.destroy_process_group()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train(options: TrainOptions, resume: bool = False) -> dict[str, Any]:
    """Run (or resume) training in `workers` processes, then write weights and metrics."""
    options.run_dir.mkdir(parents=True, exist_ok=True)
    if options.workers > 1:
        import torch.multiprocessing as mp

        port = _free_port()
        mp.spawn(  # type: ignore[attr-defined, no-untyped-call]
            _run, args=(options, resume, port), nprocs=options.workers, join=True
        )
    else:
        _run(0, options, resume, 0)
    torch.set_num_threads(options.threads)
    model = build_span_model(options.model_dir, options.lora)
    opt = _optimizer(model, options)
    state = load_checkpoint(model, opt, options.run_dir / "checkpoint.pt")
    n_batches = len(
        epoch_batches(
            read_jsonl(options.data_dir / "train.jsonl"),
            Featurizer(load_tokenizer(options.model_dir), options.spec),
            options,
            min(state.epoch, options.epochs - 1),
        )
    )
    return finish(model, load_tokenizer(options.model_dir), options, state, n_batches)


def _run(rank: int, options: TrainOptions, resume: bool, port: int) -> None:
    """One worker's loop: its share of every batch; worker 0 checkpoints."""
    torch.set_num_threads(options.threads)
    sync = _Sync(rank, options.workers, port)
    torch.manual_seed(options.seed)  # the same initial adapters in every worker
    random.seed(options.seed)
    featurizer = Featurizer(load_tokenizer(options.model_dir), options.spec)
    model = build_span_model(options.model_dir, options.lora)
    opt = _optimizer(model, options)
    ckpt = options.run_dir / "checkpoint.pt"
    state = load_checkpoint(model, opt, ckpt) if resume and ckpt.exists() else State()
    if options.init_weights is not None and state.step == 0:
        load_weights_into(model, options.init_weights)
    torch.manual_seed(options.seed * 100 + rank + state.step)  # dropout differs per worker
    rows = read_jsonl(options.data_dir / "train.jsonl")
    budget = options.budget_minutes * 60
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.train()
    bar = tqdm(desc="train", unit="step", initial=state.step, disable=rank != 0)
    n_batches = 1
    started = time.monotonic() - state.elapsed
    for epoch, index, n_batches, batch in _batches_from(rows, featurizer, options, state):
        state.elapsed = sync.agree(time.monotonic() - started)
        if state.elapsed >= budget:
            break
        factor = lr_factor(state.elapsed / budget, options.warmup)
        for group in opt.param_groups:
            group["lr"] = group["base_lr"] * factor
        loss = loss_of(model, batch[rank :: options.workers])
        loss.backward()  # type: ignore[no-untyped-call]
        sync.average(trainable)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        state.step, state.epoch, state.cursor = state.step + 1, epoch, index + 1
        state.losses.append(float(loss.detach()))
        bar.update()
        bar.set_postfix(epoch=epoch, loss=f"{_recent(state.losses):.3f}", lr=f"{factor:.2f}")
        if rank == 0 and state.step % options.checkpoint_every == 0:
            _checkpoint(model, opt, state, options, n_batches)
    bar.close()
    if rank == 0:
        _checkpoint(model, opt, state, options, n_batches)
    sync.close()


def _recent(losses: list[float]) -> float:
    tail = losses[-20:]
    return sum(tail) / max(1, len(tail))


def _checkpoint(
    model: SpanModel, opt: torch.optim.Optimizer, state: State, options: TrainOptions, n: int
) -> None:
    """The resumable checkpoint and a loadable weights folder (early weights for testing)."""
    save_checkpoint(model, opt, state, options.run_dir / "checkpoint.pt")
    latest = options.run_dir / "weights-latest"
    save_weights(model, manifest_for(options, state, {"batches": n}), latest)
    print(
        f"checkpoint: step {state.step}, {state.elapsed:.0f} s, loss {_recent(state.losses):.3f}",
        flush=True,
    )


def finish(
    model: SpanModel,
    tokenizer: TokenizerLike,
    options: TrainOptions,
    state: State,
    n_batches: int,
) -> dict[str, Any]:
    """Write the weights, evaluate the merged model on the held-out split, write metrics."""
    summary_path = options.data_dir / "summary.json"
    data_summary = json.loads(summary_path.read_text(encoding="utf-8"))
    extra: dict[str, Any] = {"batches": n_batches, "data": data_summary}
    save_weights(model, manifest_for(options, state, extra), options.weights_dir)
    merge_lora(model)
    model.eval()
    reader = TrainedReader(TorchSpanLogits(model), tokenizer, options.spec)
    held = read_jsonl(options.data_dir / "heldout.jsonl")
    started = time.monotonic()
    metrics = {
        "heldout": evaluate_reader(reader, held, options.eval_limit),
        "eval_seconds": round(time.monotonic() - started),
        "train_seconds": round(state.elapsed),
        "steps": state.step,
        "normalisation": "SQuAD (punctuation, English articles, whitespace) + Arabic "
        "(qa.text.normalize: diacritics, tatweel, alef/ya/ta-marbuta forms); ال kept",
        "eval_limit": options.eval_limit,
    }
    (options.weights_dir / "metrics.json").write_text(
        json.dumps(metrics, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return metrics
