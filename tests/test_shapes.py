"""The tensor-shape explorer (rnnviz.shapes): the shapes are what torch.nn's module takes and gives,
the words become the lecture's one-hot tensor, and sizes beyond the caps are refused before anything
is built."""
import numpy as np
import pytest
import torch

from rnnviz import shapes
from rnnviz.figures import word_tensor_figure


def test_the_lectures_batch_is_the_3_5_4_one_hot_tensor():
    r = shapes.run(shapes.ShapeQuery(cell="lstm", batch=3, seq_len=5, hidden_size=2))
    assert r.words == ["hello", "eolll", "lleel"]
    h, e, l, o = np.eye(4)
    assert np.array_equal(r.x, np.array([[h, e, l, l, o], [e, o, l, l, l], [l, l, e, e, l]]))   # seed 001's slide
    assert (r.input, r.output, r.h_n, r.c_n) == ((3, 5, 4), (3, 5, 2), (1, 3, 2), (1, 3, 2))
    assert "nn.LSTM(input_size=4, hidden_size=2, batch_first=True)" in r.code


OPTIONS = [(False, True, 1, 0, 0), (True, True, 2, 0, 0), (True, False, 3, 0, 6), (False, False, 2, 0, 0)]


@pytest.mark.parametrize("cell,bidirectional,batch_first,layers,proj,emb",
                         [(c, *o) for c in ("rnn", "lstm", "gru") for o in OPTIONS]
                         + [("lstm", True, True, 2, 1, 5), ("lstm", False, False, 1, 2, 0)])
def test_shapes_are_the_modules(cell, bidirectional, batch_first, layers, proj, emb):
    q = shapes.ShapeQuery(cell=cell, batch=4, seq_len=7, encoding="embedding" if emb else "one_hot",
                          embedding_dim=emb or 3, hidden_size=3, num_layers=layers, bidirectional=bidirectional,
                          batch_first=batch_first, proj_size=proj)
    r = shapes.run(q)
    kw = {"proj_size": proj} if proj else {}
    ref = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        q.input_size, 3, layers, batch_first=batch_first, bidirectional=bidirectional, **kw)
    out, st = ref(torch.from_numpy(r.x))
    h_n = st[0] if cell == "lstm" else st
    assert (r.output, r.h_n) == (out.shape, h_n.shape)
    assert r.c_n == (st[1].shape if cell == "lstm" else None)
    assert r.params == {n: p.shape for n, p in ref.named_parameters()}
    D, P = (2 if bidirectional else 1), (proj or 3)
    NL = (4, 7) if batch_first else (7, 4)
    assert r.input == (*NL, q.input_size) and r.output == (*NL, D * P) and r.h_n == (D * layers, 4, P)
    assert ("weight_ih_l0_reverse" in r.params) == bidirectional and ("weight_hr_l0" in r.params) == bool(proj)


def test_running_leaves_the_global_rng_alone():
    before = torch.random.get_rng_state()
    shapes.run(shapes.ShapeQuery(hidden_size=8, num_layers=2))
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("bad,msg", [
    (dict(batch=10**6), "batch"), (dict(seq_len=0), "seq_len"), (dict(hidden_size=10**5), "hidden_size"),
    (dict(num_layers=99), "num_layers"), (dict(embedding_dim=4096), "embedding_dim"), (dict(cell="tcn"), "cell"),
    (dict(cell="gru", proj_size=1), "proj_size"), (dict(hidden_size=2, proj_size=2), "proj_size"),
    (dict(batch=2.5), "batch"), (dict(batch=True), "batch"), (dict(encoding="bytes"), "encoding")])
def test_hostile_sizes_are_refused_before_anything_is_built(bad, msg):
    with pytest.raises(ValueError, match=msg):
        shapes.ShapeQuery(**bad)


def test_word_tensor_figure_draws_the_tensor():
    words, ids = shapes.word_ids(5, 6)
    assert words[3] == "helloh" and ids.shape == (5, 6)
    fig = word_tensor_figure(words, shapes.one_hot(ids), "one-hot", list(shapes.VOCAB), max_words=3)
    assert len(fig.data) == 3 and np.array_equal(np.asarray(fig.data[1].z), shapes.one_hot(ids)[1])
    assert list(fig.data[0].x) == ["h", "e", "l", "o"] and fig.data[0].y[1] == "e (1)"
    # the columns' axis names what they are (not a phrase the tick labels would have to finish)
    assert fig.layout.xaxis.title.text == fig.layout.xaxis3.title.text == "letter (its one-hot column)"
    assert word_tensor_figure(words, shapes.embedded(ids, 3), "emb").layout.xaxis.title.text == "feature"
    assert "showing 3 of 5 words" in fig.layout.title.subtitle.text and "(5, 6, 4)" in fig.layout.title.subtitle.text
    emb = shapes.embedded(ids, 3)
    assert emb.shape == (5, 6, 3) and np.array_equal(emb[0, 1], emb[1, 0])    # 'e' is one row of the embedding
