"""Titles and notes fit the figure's width, legends keep clear of the axes (rnnviz.figures.fit): what a
figure says it approximates stays on it, whole, in a narrow column too."""
from __future__ import annotations

import numpy as np
import pytest

from rnnviz import figures as F
from rnnviz.figures import fit
from rnnviz.figures.style import FONT_SIZE, SUBTITLE_SIZE, TITLE_SIZE, log_ticks, styled
from rnnviz.figures.sweep import sweep_heatmap
from figure_inputs import every_figure, make_probe, recs

LONG = ["truncated BPTT every 5 steps (dotted lines): nothing flows back across a cut, and L is the mean loss "
        "of the 5-step piece that holds t, as training computes it", "history thinned: older epochs shown only "
        "every 2nd", "showing units 0–9 of 100"]


def _lines(text: str) -> list[str]:
    return text.split(fit.BREAK)


def _room(layout) -> float:
    """px the title's and subtitle's lines take from the top of the figure (fit's line spacing)."""
    t = layout.title
    n_title = len(_lines(t.text)) if t.text is not None else 1
    n_sub = len(_lines(t.subtitle.text)) if t.subtitle.text is not None else 0
    return fit.TOP_PAD + fit.LINE * (n_title * TITLE_SIZE + n_sub * SUBTITLE_SIZE)


@pytest.mark.parametrize("width", [300, 380, 585])
def test_a_long_subtitle_in_a_narrow_figure_is_wrapped_and_the_top_margin_holds_its_lines(width):
    wide = styled([{"type": "scatter", "x": [0, 1], "y": [0, 1]}], {}, "A title", LONG)
    narrow = F.refit(wide, width)
    lines = _lines(narrow.layout.title.subtitle.text)
    assert len(lines) > len(_lines(wide.layout.title.subtitle.text)) >= 2
    most = fit.chars_per_line(width, SUBTITLE_SIZE)
    assert all(len(line) <= most for line in lines), (most, lines)
    assert most * fit.CHAR_EM * SUBTITLE_SIZE <= width * (1 - fit.TITLE_X)       # the estimate stays inside
    assert fit.notes_of(narrow.layout.title.subtitle.text) == LONG                # every note, every word
    t = narrow.layout.title
    assert (t.yref, t.y, t.yanchor) == ("container", 1, "top")                   # lines grow down, into the margin
    assert narrow.layout.margin.t >= _room(narrow.layout) + 10
    # the plot keeps its height: the figure grows by what the margin grew
    grew = narrow.layout.margin.t - wide.layout.margin.t
    assert grew > 0 and narrow.layout.height == fit.PLOTLY_HEIGHT + grew
    # the figure's own width is the one wrapped for when it has one
    own = styled([], {"width": width}, "A title", LONG)
    assert own.layout.title.subtitle.text == narrow.layout.title.subtitle.text


def test_a_wide_screen_takes_fewer_lines_and_a_builders_extra_margin_stays():
    fig = F.gate_heatmaps(make_probe(), None, "lstm")           # extra top margin for its first subplot title
    extra = fig.layout.margin.t - fit.top_margin(1, TITLE_SIZE, len(_lines(fig.layout.title.subtitle.text)),
                                                 SUBTITLE_SIZE)
    assert extra > 0
    for width in (300, 1200):
        again = F.refit(fig, width)
        n_sub = len(_lines(again.layout.title.subtitle.text))
        assert again.layout.margin.t == fit.top_margin(1, TITLE_SIZE, n_sub, SUBTITLE_SIZE) + extra
    # refit undoes its wrapping (a time axis thinned for 300 px keeps the labels it kept)
    back = F.refit(F.refit(fig, 300), fit.PAGE_WIDTH).to_dict()["layout"]
    wide = F.refit(fig, fit.PAGE_WIDTH).to_dict()["layout"]
    without_x = lambda lay: {k: v for k, v in lay.items() if not k.startswith("xaxis")}  # noqa: E731
    assert without_x(back) == {**without_x(fig.to_dict()["layout"]), "height": back["height"]} == without_x(wide)
    assert back["height"] == fig.layout.height


def test_a_long_title_wraps_and_stays_inside_the_figure():
    fig = F.refit(styled([], {}, "Relative difference of the loss: numpy vs torch", ["a note"]), 300)
    lines = _lines(fig.layout.title.text)
    assert len(lines) >= 2 and " ".join(lines) == "Relative difference of the loss: numpy vs torch"
    # plotly centres a title of n lines on its first line's place: pad moves it down by half the rest
    assert fig.layout.title.pad.t == fit.TOP_PAD + round((len(lines) - 1) * fit.LINE * TITLE_SIZE / 2)
    assert fig.layout.margin.t >= _room(fig.layout) + 10


APPROXIMATE = {   # figure -> words of the note that says what it approximates
    "trajectory_figure": "PCA projection", "hidden_heatmap": "showing units", "loss_figure": "thinned",
    "grad_heatmap": "probe recorded at", "grad_norm_clip_figure": "thinned", "spectral_radius_figure": "thinned",
    "loss_difference_figure": "thinned", "prediction_table_figure": "showing",
}


def test_every_figure_keeps_its_notes_whole_at_every_width():
    built = every_figure()
    for name, words in APPROXIMATE.items():       # each builder that approximates says so on its figure
        assert any(words in " ".join(fit.notes_of(f.layout.title.subtitle.text or "")) for f in built[name]), name
    for name, figs in built.items():
        for fig in figs:
            sub = fig.layout.title.subtitle.text
            for width in (300, 585, 1200):
                again = F.refit(fig, width)
                if sub is None:
                    assert again.layout.title.subtitle.text is None
                    continue
                said = " ".join(fit.notes_of(again.layout.title.subtitle.text))
                assert said == " ".join(fit.notes_of(sub)), (name, width)
                if name in APPROXIMATE and APPROXIMATE[name] in " ".join(fit.notes_of(sub)):
                    assert APPROXIMATE[name] in said
                assert again.layout.margin.t >= _room(again.layout) + 10, (name, width)


def test_horizontal_legends_sit_below_the_axes_in_the_figure_not_at_a_paper_offset():
    for name, figs in every_figure().items():
        for fig in figs:
            leg = fig.layout.legend
            if leg.orientation == "h":
                assert (leg.yref, leg.y, leg.yanchor) == ("container", 0, "bottom"), name


def test_a_log_axis_of_under_two_decades_gets_1_2_5_ticks_as_plain_numbers():
    t = log_ticks([0.31, 2.2, None, 0.0, np.nan])
    assert t["tickmode"] == "array" and {0.5, 1.0, 2.0} <= set(t["tickvals"])
    assert dict(zip(t["tickvals"], t["ticktext"]))[0.5] == "0.5"
    assert log_ticks([1e-9, 1e-3]) == {} and log_ticks([]) == {}
    clip = F.grad_norm_clip_figure(recs(6), clip=2.0)       # norms 1..5 and the threshold 2
    assert {1.0, 2.0, 5.0} <= set(clip.layout.yaxis.tickvals) and "0.5" in clip.layout.yaxis.ticktext
    # its axis titles fit beside the plot: the longest line is shorter than the plot is high (less the
    # x axis and the legend under it, ~110 px)
    plot = fit.PLOTLY_HEIGHT - clip.layout.margin.t - 110
    for axis in (clip.layout.yaxis, clip.layout.yaxis2):
        assert max(len(s) for s in _lines(axis.title.text)) * fit.CHAR_EM * (FONT_SIZE + 2) < plot, axis.title.text


@pytest.mark.parametrize("width", [300, 585, 790, 1200])
def test_a_time_axis_keeps_as_many_labels_as_fit_side_by_side_and_says_which(width):
    """Plotly turns tick labels that do not fit on end; a narrow column gets every k-th step's token,
    still the token at that step, and the axis title says which are labelled."""
    tokens = [f"w{t % 7}" if t % 5 else "EOS" for t in range(60)]
    probe = make_probe(T=60)
    for fig in (F.hidden_heatmap(probe, tokens), F.grad_norm_figure({"lstm": probe}, tokens)):
        shown = F.refit(fig, width).layout.xaxis
        label = (max(map(len, shown.ticktext)) + 1) * fit.MONO_EM * shown.tickfont.size
        heat = any(t.type == "heatmap" for t in fig.data)
        assert len(shown.tickvals) * label <= width - 100 - (fit.COLORBAR if heat else 0)
        every = shown.tickvals[1] - shown.tickvals[0]
        assert list(shown.tickvals) == list(range(0, 60, every))
        assert list(shown.ticktext) == [tokens[t] for t in shown.tickvals]
        assert shown.title.text == fit.TIME_TITLE + (f", every {fit.ordinal(every)} labelled" if every > 1 else "")
    assert F.refit(F.grad_norm_figure({"lstm": make_probe(T=12)}, tokens[:12]), 790).layout.xaxis.tickvals == \
        tuple(range(12))                                                                # a short one keeps all


def _colorbars(d, found=None) -> list[dict]:
    """Every colour bar of a figure dict (a trace's, its marker's, a colour axis')."""
    found = [] if found is None else found
    for k, v in (d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()):
        if k == "colorbar":
            found.append(v)
        elif k != "template":
            _colorbars(v, found)
    return found


def test_every_colour_bar_has_its_title_beside_it_clear_of_its_top_tick():
    """A colour bar's title on top (plotly's default) is wider than the bar: the gates' "sigmoid gates"
    lay over the label of their top tick, 1 (and the shapes' "value", the sweep's "val_acc")."""
    rows = [{"status": "finished", "cell": c, "lag": lag, "val_acc": a} for c, lag, a in
            [("rnn", 5, 1.0), ("lstm", 5, 0.5), ("rnn", 40, 0.25), ("lstm", 40, 1.0)]]
    figs = every_figure() | {"sweep_heatmap": [sweep_heatmap(rows)]}
    titled = {name: [b for f in fs for b in _colorbars(f.to_dict()) if b.get("title", {}).get("text")]
              for name, fs in figs.items()}
    assert {"grad_heatmap", "hidden_heatmap", "gate_heatmaps", "trajectory_figure", "char_probs_figure",
            "word_tensor_figure", "sweep_heatmap"} <= {name for name, bars in titled.items() if bars}
    for name, bars in titled.items():
        assert all(b["title"].get("side") == "right" for b in bars), name
