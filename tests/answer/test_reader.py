"""The span reader's plumbing, with a tiny random-weight model and a tokenizer trained here."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qa.answer.reader import TransformersReader
from qa.backends import open_pipeline
from qa.domain import Passage
from qa.embed import Embedder
from qa.errors import ConfigError
from qa.pipeline import Pipeline, PipelineOptions
from tests.conftest import SEEDS

pytestmark = pytest.mark.slow  # loads or exports a real transformer model

QUESTION = "ماذا أكد عمران خان؟"


@pytest.fixture(scope="module")
def tiny_reader_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BERT QA model with random weights and a WordPiece vocabulary of the seed text.

    No reader weights can be downloaded here, so this model answers at random: it exercises
    loading, windows, offsets and the score cut, never answer quality.
    """
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForQuestionAnswering, PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    corpus = [line for f in sorted(SEEDS.iterdir()) for line in f.read_text().splitlines()]
    tokenizer.train_from_iterator(
        [*corpus, QUESTION], trainers.WordPieceTrainer(vocab_size=600, special_tokens=specials)
    )
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    tokenizer_class: Any = PreTrainedTokenizerFast  # transformers ships it untyped
    fast = tokenizer_class(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    path = tmp_path_factory.mktemp("tiny-reader")
    BertForQuestionAnswering(config).save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture
def reader_pipeline(
    seed_index_dir: Path,
    tmp_path: Path,
    embedder: Embedder,
    tiny_reader_dir: Path,
) -> Iterator[Pipeline]:
    target = tmp_path / "seed-reader"
    shutil.copytree(seed_index_dir, target)
    options = PipelineOptions(index_dir=target, reader_model=str(tiny_reader_dir))
    pipeline = open_pipeline(options, embedder=embedder)
    yield pipeline
    pipeline.close()


def test_tiny_random_reader_built_here_keeps_offsets_not_a_quality_test(
    tiny_reader_dir: Path,
) -> None:
    reader = TransformersReader(str(tiny_reader_dir), max_length=64, stride=16)
    long_text = " ".join(f"كلمة{i % 50} word{i}." for i in range(200))  # needs several windows
    passages = [
        Passage("a", "d", long_text, "", 0, len(long_text)),
        Passage("b", "d", "Kurz.", "", 0, 5),
    ]
    span = reader.read(QUESTION, passages)
    assert span is not None and 0 < span.score <= 1
    text = next(p.text for p in passages if p.id == span.passage_id)
    assert 0 <= span.start < span.end <= len(text)
    assert text[span.start : span.end] == text[span.start : span.end].strip()


def test_pipeline_reader_plumbing_with_tiny_random_model_not_reader_quality(
    reader_pipeline: Pipeline, seed_pipeline: Pipeline
) -> None:
    sentence = seed_pipeline.ask(QUESTION).answer
    assert sentence is not None  # the Arabic seed question is answered without a reader

    reader_pipeline.options = replace(reader_pipeline.options, reader_min_score=0.0)
    result = reader_pipeline.ask(QUESTION)
    narrowed = result.answer
    assert narrowed is not None and narrowed.text
    source = next(h.passage for h in result.hits if h.passage.id == narrowed.passage_id)
    assert source.text[narrowed.start : narrowed.end] == narrowed.text  # offsets contract
    assert narrowed.score == sentence.score  # the calibrated support probability is kept

    reader_pipeline.options = replace(reader_pipeline.options, reader_min_score=1.0)
    assert reader_pipeline.ask(QUESTION).answer == sentence  # low score: the sentence stays


def test_reader_is_not_loaded_unless_configured(seed_pipeline: Pipeline) -> None:
    assert seed_pipeline.reader is None


def test_a_missing_reader_model_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="reader model"):
        TransformersReader(str(tmp_path / "no-such-model"))
