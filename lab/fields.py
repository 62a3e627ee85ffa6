"""Widgets built from the fields of the config dataclasses (ModelConfig, TrainConfig, a task's Options).

SPECS says how a field is edited (kind, range, label, help) and when it matters (`when`: a test on the
values so far, e.g. momentum only for sgd/rmsprop, peephole only for an LSTM). `form()` walks a
dataclass' fields in order and draws one widget per field; a field nobody described gets a plain
widget from its default's type, so a new option of the core shows up without touching the pages.

Values live in st.session_state under "<prefix>.<field>" with persist_state="session" (they survive
page switches) and in the page's URL while they differ from the default (bind="query-params": a link
opens the same settings). Code sets them through session state: opening a checkpoint, a preset, the
"Defaults" button.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from rnnviz.config import CELLS, INITS, OPTIMIZERS, clipped
from rnnviz.tasks import TASKS
from rnnviz.tasks.text import CORPORA, MAX_CUSTOM, NAME_LISTS

LR_GRID = [m * 10.0 ** e for e in range(-5, 1) for m in (1, 2, 3, 5)] + [1.0]
ERRORS = "lab.field_errors"
NOTES = "lab.field_notes"      # refused uploads that leave a text to train on: said, not blocking
LIVE_LABELS = {"pace": "speed limit", "auto_stop": "stop when converged"}   # lab.settings' live knobs


@dataclass(frozen=True)
class Spec:
    kind: str                       # int | float | log | choice | bool | seed | text | steps | hidden
    label: str
    lo: float = 0
    hi: float = 0
    step: float | None = None
    options: tuple = ()
    help: str = ""
    when: Callable[[dict], bool] | None = None
    fmt: Callable[[Any], str] | None = None   # how a select_slider shows its options
    hi_of: Callable[[dict], float] | None = None  # the upper end from the values so far (replaces hi)
    resets: bool = False            # the task's model and training defaults follow it (form's `changed`)


def _cells(*names):
    """Relevant when (one of) the lesson's cells is among names; `cells` is set by side-by-side lessons."""
    return lambda v: bool(set(v.get("cells") or {v.get("cell")}) & set(names))


SPECS: dict[str, Spec] = {
    # ---- model ----
    "cell": Spec("choice", "cell", options=CELLS,
                 help="RNN: one tanh layer. LSTM: cell state + 4 gates. GRU: 3 gates."),
    "nonlinearity": Spec("choice", "nonlinearity (RNN)", options=("tanh", "relu"), when=_cells("rnn")),
    "hidden_size": Spec("int", "hidden size H (units in h_t)", 1, 256),
    "num_layers": Spec("int", "layers (stacked)", 1, 4),
    "embedding_dim": Spec("int", "embedding size (0 = one-hot input)", 0, 64, when=lambda v: v.get("tokens")),
    "dropout": Spec("float", "dropout between layers", 0.0, 0.8, 0.05, when=lambda v: v.get("num_layers", 1) > 1),
    "peephole": Spec("bool", "peephole connections (LSTM)", when=_cells("lstm"),
                     help="The gates also look at the cell state c."),
    "head": Spec("bool", "linear output head",
                 help="Off: h_t itself is the output, so H must equal the vocabulary size."),
    "bidirectional": Spec("bool", "bidirectional (a second layer reads backwards)",
                          help="Each layer also runs from the last step to the first; the layer above and the head "
                               "see [h_fwd; h_rev], 2H numbers per step (torch.nn's bidirectional=True)."),
    "proj_size": Spec("int", "projection size P (LSTM, 0 = none)", 0, 255, when=_cells("lstm"),
                      hi_of=lambda v: max(1, int(v.get("hidden_size", 2)) - 1),  # a slider needs lo < hi
                      help="h_t = W_hr (o ⊙ tanh c_t) has P < H numbers: the state the next step and the head "
                           "see (torch.nn's proj_size); c_t keeps H."),
    # ---- training ----
    "optimizer": Spec("choice", "optimizer", options=OPTIMIZERS),
    "lr": Spec("log", "learning rate", help="Can be changed while training runs."),
    "momentum": Spec("float", "momentum", 0.0, 0.99, 0.01, when=lambda v: v.get("optimizer") in ("sgd", "rmsprop")),
    "weight_decay": Spec("log0", "weight decay", options=(0.0, 1e-5, 1e-4, 1e-3, 1e-2)),
    "epochs": Spec("int", "epochs", 1, 2000, when=lambda v: not v.get("steps_mode")),
    "steps": Spec("int", "optimizer steps", 100, 20000, 100, when=lambda v: v.get("steps_mode")),
    "clip": Spec("float", "clip gradient norm at (0 = off)", 0.0, 10.0, 0.25,
                 help="Rescale the gradient when its global norm exceeds this value."),
    "init": Spec("choice", "recurrent weight init", options=INITS,
                 help="orthogonal: each gate's W_hh block orthogonal, spectral radius 1."),
    "forget_bias": Spec("float", "forget-gate bias (LSTM)", 0.0, 8.0, 0.25, when=_cells("lstm"),
                        help="Added at init: f starts near sigmoid(bias), so the cell remembers by default."),
    "seed": Spec("seed", "seed (weights, shuffling)"),
    "dtype": Spec("choice", "precision", options=("float32", "float64")),
    "engine": Spec("hidden", "engine"),
    "carry_state": Spec("bool", "carry h between batches (truncated BPTT)", when=lambda v: v.get("sequential")),
    "tbptt": Spec("int", "truncated BPTT: cut every k steps (0 = at the window's edge)", 0, 100,
                  when=lambda v: v.get("sequential"),
                  help="Each window is cut into pieces of k steps; each piece is one optimizer step, h flows on "
                       "detached, so the gradient reaches back at most k steps (the sine lecture's loop)."),
    # ---- task options (Options classes may override by "ClassName.field") ----
    "seq_len": Spec("int", "sequence length (steps per window)", 2, 200),
    "batch_size": Spec("int", "batch size", 1, 256),
    "ShipOptions.batch_size": Spec("int", "windows per batch (0 = all)", 0, 64),
    "SineOptions.batch_size": Spec("int", "batch size (rows of consecutive windows)", 1, 10),
    "lag": Spec("int", "lag (steps to bridge)", 0, 200, help="How far back the answer lies."),
    "CopyOptions.lag": Spec("int", "lag (steps to bridge)", 0, 200,
                            help="How far back the answer lies. At the default 40 the LSTM and the GRU learn to copy "
                                 "in 60 epochs; longer lags need more epochs, and some seeds stay at chance."),
    "AddingOptions.lag": Spec("int", "lag = sequence length", 2, 400),
    "noise": Spec("float", "noise on the inputs (std)", 0.0, 1.0, 0.05),
    "freq": Spec("float", "frequency", 0.25, 4.0, 0.25),
    "n_windows": Spec("int", "windows per epoch", 1, 200),
    "max_n": Spec("int", "largest n", 1, 20),
    "num_sequences": Spec("int", "number of sequences", 10, 2000, 10),
    "AnbnOptions.seed": Spec("seed", "data seed"),
    "CopyOptions.seed": Spec("seed", "data seed"),
    "AddingOptions.seed": Spec("seed", "data seed"),
    "SineOptions.seed": Spec("seed", "validation noise seed"),
    "length": Spec("int", "symbols to copy (K)", 1, 20),
    "n_symbols": Spec("int", "different symbols", 2, 10),
    "batches_per_epoch": Spec("int", "batches per epoch", 1, 100),
    "val_size": Spec("int", "validation sequences", 16, 1024, 16),
    "corpus": Spec("choice", "corpus", options=(*CORPORA, "custom"), resets=True,
                   help="A new corpus brings its own model and training defaults."),
    "TextOptions.seed": Spec("seed", "data seed (the order of the names)", when=lambda v: v.get("corpus") in NAME_LISTS,
                             help="The names are shuffled with it before the last part is held out for validation."),
    "DinosOptions.seed": Spec("seed", "data seed (the order of the names)",
                              help="The names are shuffled with it before the last part is held out for validation."),
    "text": Spec("text", "your text", when=lambda v: v.get("corpus") == "custom"),
    "max_chars": Spec("steps", "characters used", options=(1_000, 5_000, 20_000, 50_000, 100_000, 200_000,
                                                            500_000, 1_000_000)),
    "val_frac": Spec("float", "validation fraction (end of the text)", 0.05, 0.5, 0.05,
                     help="Held out: the end of the text (of a list of names: after shuffling it)."),
}


def spec_for(cls: type, name: str, default: Any) -> Spec:
    spec = SPECS.get(f"{cls.__name__}.{name}") or SPECS.get(name)
    if spec is not None:
        return spec
    kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(default), "hidden")
    lo, hi = (0, max(10, 4 * abs(default))) if kind in ("int", "float") else (0, 0)
    return Spec(kind, name.replace("_", " "), lo, hi)


def label_of(key: str) -> str:
    """How the sidebar names the setting of a widget key "<lesson>.<task>.<group>.<field>" (its Spec's
    label), else the key as written."""
    parts = key.split(".")
    if len(parts) != 4:
        return key
    if parts[2] == "live":
        return LIVE_LABELS.get(parts[3], key)
    options = TASKS[parts[1]].Options.__name__ if parts[2] == "task" and parts[1] in TASKS else ""
    spec = SPECS.get(f"{options}.{parts[3]}") or SPECS.get(parts[3])
    return spec.label if spec else key


def _stored(key: str, default: Any, ok: Callable[[Any], bool] = lambda v: True) -> Any:
    """What the widget will show: the value session state holds (a click, an opened checkpoint, a
    preset) or else the default; a stored value the widget cannot show is dropped."""
    if key in st.session_state and not ok(st.session_state[key]):
        del st.session_state[key]
    return st.session_state.get(key, default)


def widget(spec: Spec, key: str, default: Any, on_change: Callable[[], None] | None = None) -> Any:
    """Draw one widget (in the current container) and return its value. Its value is kept in the URL
    (bind="query-params": a link to the page opens the same settings) while it differs from the
    default, and for the session (persist_state): switching pages keeps it."""
    kw = dict(key=key, help=spec.help or None, persist_state="session", bind="query-params", on_change=on_change)
    if spec.kind == "choice":
        _stored(key, default, lambda v: v in spec.options)
        index = spec.options.index(default)
        if len(spec.options) <= 3 and sum(len(str(o)) for o in spec.options) <= 16:  # fits the sidebar
            return st.radio(spec.label, spec.options, index=index, horizontal=True, **kw)
        return st.selectbox(spec.label, spec.options, index=index, **kw)
    if spec.kind == "bool":
        _stored(key, bool(default), lambda v: isinstance(v, bool))
        return st.toggle(spec.label, value=bool(default), **kw)
    if spec.kind in ("log", "log0", "steps"):
        value = _stored(key, default)
        grid = LR_GRID if spec.kind == "log" else list(spec.options)
        options = list(grid) if value in grid and default in grid else sorted(set(grid) | {value, default})
        fmt = spec.fmt or (lambda v: f"{v:g}" if v < 1e4 else f"{v:,}")
        return st.select_slider(spec.label, options, value=default, format_func=fmt, **kw)
    if spec.kind in ("int", "float"):
        cast = int if spec.kind == "int" else float
        value = _stored(key, cast(default), lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
        if type(value) is not cast:          # e.g. 5 from a JSON config for a float slider
            st.session_state[key] = value = cast(value)
        lo, hi = cast(min(spec.lo, value, default)), cast(max(spec.hi, value, default))
        step = cast(spec.step or 1) if spec.kind == "int" else float(spec.step or (hi - lo) / 100)
        return st.slider(spec.label, lo, hi, value=cast(default), step=step, **kw)
    if spec.kind == "seed":
        _stored(key, int(default), lambda v: isinstance(v, int) and 0 <= v < 2**31)
        return int(st.number_input(spec.label, min_value=0, max_value=2**31 - 1, value=int(default), step=1, **kw))
    if spec.kind == "text":
        return text_with_upload(spec.label, key, default)
    _stored(key, str(default), lambda v: isinstance(v, str))
    return st.text_input(spec.label, value=str(default), **{**kw, "bind": None})


def form(cls: type, defaults: Any, prefix: str, context: dict, skip=(), drawn: dict | None = None,
         changed: Callable[[], None] | None = None) -> dict:
    """One widget per field of dataclass `cls` that matters now; the others keep their default.
    Returns {field: value} for building `cls(**values)`; `drawn` gets key -> value of the widgets;
    `changed` is called when a field whose spec `resets` changes."""
    values: dict = {}
    for f in dataclasses.fields(cls):
        default = getattr(defaults, f.name)
        spec = spec_for(cls, f.name, default)
        seen = {**context, **values}
        if spec.hi_of is not None:
            spec = dataclasses.replace(spec, hi=spec.hi_of(seen))
        if f.name in skip or spec.kind == "hidden" or (spec.when is not None and not spec.when(seen)):
            values[f.name] = default
        else:
            values[f.name] = widget(spec, f"{prefix}.{f.name}", default, changed if spec.resets else None)
            if drawn is not None:
                drawn[f"{prefix}.{f.name}"] = values[f.name]
    return values


def values(prefix: str, instance: Any) -> dict[str, Any]:
    """The widget key -> value of every field of a dataclass instance."""
    return {f"{prefix}.{f.name}": getattr(instance, f.name) for f in dataclasses.fields(instance)}


# ---- a text area that can also be filled from an uploaded file ------------------------------------
def error_of(keys) -> str:
    """The message of the first of these widgets that refused what it was given (a bad upload, a text
    over the limit): the one reason the settings cannot be trained, until the widget takes a value."""
    errors = st.session_state.get(ERRORS, {})
    return next((errors[k] for k in keys if k in errors), "")


def forget_refusal(key: str) -> None:
    """The widget has a new value (typed, uploaded, put by code): what it refused before is moot."""
    st.session_state.get(ERRORS, {}).pop(key, None)
    st.session_state.get(NOTES, {}).pop(key, None)


def _refuse(key: str, message: str) -> None:
    """A refused upload: with no text in the box it is why the settings cannot be trained (error_of);
    with a text there, that text still trains and the refusal is a note under the uploader."""
    if (st.session_state.get(key) or "").strip():
        st.session_state.setdefault(NOTES, {})[key] = f"{message} The text in the box is kept: it is what trains."
    else:
        st.session_state.setdefault(ERRORS, {})[key] = message


def _read_upload(key: str) -> None:
    forget_refusal(key)
    up = st.session_state.get(key + ".upload")
    if up is None:
        return
    data = up.getvalue()
    if not data.strip():
        return _refuse(key, f"{clipped(up.name)} is empty: upload a text file with some text in it.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _refuse(key, f"{clipped(up.name)} is not UTF-8 text; save it as plain text (UTF-8) and upload it "
                            "again.")
    if len(text) > MAX_CUSTOM:
        return _refuse(key, f"{clipped(up.name)} has {len(text):,} characters; the limit is {MAX_CUSTOM:,}: "
                            "upload a shorter one.")
    st.session_state[key] = text


def text_with_upload(label: str, key: str, default: str) -> str:
    """Not kept in the URL: a pasted text can be a megabyte. At most MAX_CUSTOM characters: the browser
    does not take a longer paste (the box keeps what it had), Streamlit cuts a longer value sent to a
    drawn text area, and a longer text put in session state before it is drawn (an opened checkpoint)
    is refused here, before it is sent to the browser. What the widgets refuse, the settings say
    (error_of)."""
    stored = st.session_state.setdefault(key, default)
    if isinstance(stored, str) and len(stored) > MAX_CUSTOM:
        st.session_state[key] = ""
        st.session_state.setdefault(ERRORS, {})[key] = (f"your text had {len(stored):,} characters; the limit is "
                                                         f"{MAX_CUSTOM:,}: paste or upload a shorter one.")
    text = st.text_area(label, key=key, height=160, max_chars=MAX_CUSTOM, persist_state="session",
                        help=f"At most {MAX_CUSTOM:,} characters: the box does not take a longer paste (it keeps "
                             "what it had); the uploader below says why it refuses a longer file.",
                        on_change=forget_refusal, args=(key,),
                        placeholder=f"Paste a text of a few thousand characters or more (at most {MAX_CUSTOM:,})")
    if not text:    # a paste the box did not take leaves it as it was: the server never sees it
        st.caption(f"The box takes at most {MAX_CUSTOM:,} characters: a longer paste leaves it as it was. "
                   "Upload a longer file and you are told its length.")
    st.file_uploader("…or upload a text file", type=["txt", "md", "csv"], key=key + ".upload",
                     on_change=_read_upload, args=(key,), max_upload_size=4)
    if note := st.session_state.get(NOTES, {}).get(key):
        st.warning(note, icon=":material/info:")
    return text
