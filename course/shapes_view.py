"""The Tensor shapes lesson: pick the sizes and options of an nn.RNN / nn.LSTM / nn.GRU, and see the
shapes it takes and gives, measured by running it (rnnviz.shapes), and the lecture's words as the
one-hot and the embedded tensor they become (rnnviz.figures.word_tensor_figure)."""
from __future__ import annotations

import streamlit as st

from rnnviz import figures as F
from rnnviz import shapes
from rnnviz.config import CELLS

from lab.views import chart

K = "shapes."


def query() -> shapes.ShapeQuery | str:
    """The module the widgets describe, or why they describe none."""
    c = shapes.CAPS
    left, mid, right = st.columns(3)
    with left:
        cell = st.radio("module", CELLS, index=1, horizontal=True, key=K + "cell",
                        format_func=lambda n: f"nn.{shapes.ShapeQuery(cell=n).module_name}")
        batch = st.slider("batch size N", 1, c["batch"], 3, key=K + "batch")
        seq_len = st.slider("sequence length L", 1, c["seq_len"], 5, key=K + "seq_len")
    with mid:
        encoding = st.radio("input", shapes.ENCODINGS, horizontal=True, key=K + "encoding",
                            format_func={"one_hot": "one-hot (4 letters)", "embedding": "embedding"}.get)
        emb = st.slider("embedding size = input_size", 1, c["embedding_dim"], 3, key=K + "emb",
                        disabled=encoding == "one_hot", help="One-hot input has input_size 4: h, e, l, o.")
        hidden = st.slider("hidden_size", 1, c["hidden_size"], 2, key=K + "hidden")
    with right:
        layers = st.slider("num_layers", 1, c["num_layers"], 1, key=K + "layers")
        bidirectional = st.toggle("bidirectional (D = 2)", key=K + "bidirectional")
        batch_first = st.toggle("batch_first", value=True, key=K + "batch_first")
        proj = 0
        if cell == "lstm":
            hi = max(1, hidden - 1)                  # a slider needs lo < hi; proj_size < hidden_size
            if st.session_state.get(K + "proj", 0) > hi:
                st.session_state[K + "proj"] = hi    # hidden_size went down: keep the widget in range
            proj = st.slider("proj_size (0 = none)", 0, hi, 0, key=K + "proj",
                             help="nn.LSTM only: h_t = W_hr (o ⊙ tanh c_t) has proj_size numbers")
    try:
        return shapes.ShapeQuery(cell=cell, batch=batch, seq_len=seq_len, encoding=encoding, embedding_dim=emb,
                                 hidden_size=hidden, num_layers=layers, bidirectional=bidirectional,
                                 batch_first=batch_first, proj_size=proj)
    except ValueError as e:
        return str(e)


def show() -> None:
    q = query()
    if isinstance(q, str):
        st.error(f"No such module: {q}", icon=":material/error:")
        return
    r = shapes.run(q)
    sym = shapes.symbols(q)
    st.code(r.code, language="python")
    rows = [("input x", sym["input"], r.input), ("output", sym["output"], r.output), ("h_n", sym["h_n"], r.h_n)]
    if r.c_n is not None:
        rows.append(("c_n", sym["c_n"], r.c_n))
    st.table({"tensor": [a for a, _, _ in rows], "torch.nn's documentation": [b for _, b, _ in rows],
              "measured shape": [str(tuple(s)) for _, _, s in rows]})
    st.caption(f"Measured by running nn.{q.module_name} on the words below; {sym['where']}.")
    with st.expander("the module's parameters (torch.nn's names)"):
        st.table({"parameter": list(r.params), "shape": [str(tuple(s)) for s in r.params.values()]})
    st.subheader("The words as a tensor")
    # one under the other: side by side, each word's panel is too narrow for its letters and numbers
    chart(F.word_tensor_figure(r.words, shapes.one_hot(r.ids), "One-hot: a 1 in the letter's column",
                               list(shapes.VOCAB)), K + "onehot")
    dim = q.embedding_dim
    chart(F.word_tensor_figure(r.words, shapes.embedded(r.ids, dim), f"Embedding: a learnt row of {dim} numbers"),
          K + "embedding")
    st.caption("One-hot spends one number per letter of the vocabulary, all 0 but a single 1; an nn.Embedding "
               "looks up a row of its weight matrix (here drawn from N(0, 1), as at initialisation) — as many "
               "numbers as you choose, and training moves them so that similar tokens get similar rows.")
