"""The sentence-embedding model (the `meaning` extra): it loads offline from the installed package, the
float32 engine gives sentence-transformers' own vectors and the bfloat16 one nearly the same, and a
headline's vector never depends on what was encoded before it or with it."""

from __future__ import annotations

import pytest

from service.stories import meaning

from ..conftest import IN_CI

HEADLINES = [
    "South Korea Releases Plan to Ease Forced-Labor Spat With Japan",
    "Japan and South Korea renew ties at rare Tokyo summit",
    "North Korea launches ICBM before South Korea-Japan summit",
    "韓国大法院、徴用工訴訟で日本企業に賠償命令",
    "대법원 강제징용 배상 판결 확정",
    "",
]


@pytest.fixture(scope="module")
def model():
    loaded = meaning.load()
    if loaded is None:
        if IN_CI:
            pytest.fail("CI installs the meaning extra (README's test command); the model did not load")
        pytest.skip("the meaning extra is not installed (pip install -e '.[meaning]')")
    return loaded


@pytest.fixture(scope="module")
def engines(model):
    return {p: meaning.MiniLM(meaning.model_path(), p) for p in ("float32", "bfloat16")}


def test_vectors_are_sentence_transformers_vectors(engines, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the reference must load from the package, not a hub
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    np = pytest.importorskip("numpy")
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(meaning.model_path()), device="cpu")
    for text in HEADLINES:
        mine = engines["float32"].encode(text)
        theirs = reference.encode(text, normalize_embeddings=True)
        assert mine.shape == (384,) and mine.dtype == np.float32
        assert float(np.abs(mine - theirs).max()) < 1e-5, text
        # bfloat16 products (float32 sums) keep the direction: what matching and grouping compare.
        fast = engines["bfloat16"].encode(text)
        assert fast.dtype == np.float32 and float(fast @ theirs) > 0.999, text


def test_batches_are_powers_of_two_and_give_each_text_what_it_gets_alone_up_to_rounding(engines, monkeypatch):
    """Texts of one length — headlines of 9 word pieces, entry texts of 56 — run in batches of a
    power-of-two number of texts (oneDNN keeps kernels and buffers per input shape:
    bench/meaning_memory.py) of at most BATCH_TOKENS word pieces, every row once and in order, and each
    what the text gets alone up to rounding. This test once asserted bit for bit in bfloat16 on six short
    headlines that happen to agree exactly; batches of two texts of 17-36 word pieces already differ (about
    1e-3 per component), which is why developments never batch."""
    long = "Seoul and Tokyo hold talks on wartime labour compensation as the summit nears " * 4
    for precision, engine in engines.items():
        for texts in ([f"Seoul and Tokyo hold talks number {n}" for n in range(37)],
                      [f"{long} number {n}" for n in range(37)]):
            (length,) = {len(engine.tokenizer.encode(t).ids) for t in texts}
            sizes = []
            run = engine._run
            monkeypatch.setattr(engine, "_run", lambda ids: sizes.append(len(ids)) or run(ids))
            batch = engine.encode_many(texts)
            monkeypatch.undo()
            assert sum(sizes) == 37 and all(n & (n - 1) == 0 and n * length <= meaning.BATCH_TOKENS for n in sizes)
            assert sizes[0] == meaning.batch_rows(length) == 1 << ((meaning.BATCH_TOKENS // length).bit_length() - 1)
            alone = [engine.encode(t) for t in texts]
            tolerance = 3e-3 if precision == "bfloat16" else 1e-6
            assert all(abs(row - one).max() < tolerance and float(row @ one) > 0.9999
                       for row, one in zip(batch, alone)), (precision, length, sizes)


def test_precision_setting(monkeypatch):
    pytest.importorskip("torch")
    assert meaning.choose_precision("float32") == "float32"
    assert meaning.choose_precision("bfloat16") == "bfloat16"
    assert meaning.choose_precision("auto") == ("bfloat16" if meaning.native_bfloat16() else "float32")


def test_same_headline_same_vector_whatever_came_before(model):
    first = model.encode(HEADLINES[1])
    for text in HEADLINES:
        model.encode(text)
    assert (model.encode(HEADLINES[1]) == first).all()
    # Reports of one event are closer to each other than to another event of the same topic.
    plan, summit, missile = (model.encode(t) for t in HEADLINES[:3])
    assert float(summit @ missile) > 0.3 and float(plan @ summit) < float(summit @ missile) + 0.3


def test_turned_off_by_setting(model, monkeypatch):
    meaning._enabled.cache_clear()
    monkeypatch.setenv("FOLLOWUP_MEANING", "false")
    try:
        assert meaning.meaning_vector() is None
        monkeypatch.setenv("FOLLOWUP_MEANING", "true")
        meaning._enabled.cache_clear()
        assert meaning.meaning_vector() is meaning.vector
    finally:
        meaning._enabled.cache_clear()


def test_a_hostile_headline_costs_no_more_than_a_long_one(model):
    assert (model.encode("Tokyo " * 2_000_000) == model.encode("Tokyo " * 400)).all()
    # a lone surrogate (a JSON string may carry one; the tokenizer refuses it) is read as "?"
    assert (model.encode_many(["徴用工\ud800", "ok"])[0] == model.encode("徴用工?")).all()


def test_a_broken_model_falls_back_to_words_and_says_so(tmp_path, monkeypatch, caplog):
    (tmp_path / "model.safetensors").write_bytes(b"not a model")
    monkeypatch.setattr(meaning, "model_path", lambda: tmp_path)
    monkeypatch.setattr(meaning, "_MODEL", None)
    monkeypatch.setattr(meaning, "_LOADED", False)
    with caplog.at_level("WARNING", logger="followup.meaning"):
        assert meaning.load() is None
    assert any("grouped by their words alone" in r.getMessage() for r in caplog.records)
