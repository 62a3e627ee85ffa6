"""Plotly figures of recorded runs: pure functions from EpochRecords, Probes and describe() dicts to a
`go.Figure` (no streamlit here). Every number drawn is a measurement; whatever is projected (PCA),
thinned or left out is said on the figure itself (title / subtitle).

In Streamlit, show them with `st.plotly_chart(themed(fig, st.context.theme.type), theme=None)`: the
shared template, dark on a dark page (theme.py).
The predictions per epoch also come as an HTML table (tables.prediction_table_html, `st.html`): the
same rows as prediction_table_figure, which a browser draws far faster than a plotly text heatmap.
"""
from .fit import PAGE_WIDTH, refit
from .gradients import grad_heatmap, grad_norm_figure, spectral_radius_figure, spectral_radius_text
from .inside import gate_heatmaps, gate_means_figure, hidden_heatmap, trajectory_figure
from .pca import PCABasis, fit_pca_basis, project
from .scratch import gradcheck_figure, loss_difference_figure, max_relative_difference, relative_differences
from .sequences import char_probs_figure, sine_figure
from .shapes import word_tensor_figure
from .steps import step_table_html
from .tables import continuation_html, headline_html, prediction_table, prediction_table_html
from .style import LAYOUT, PALETTE, TEMPLATE, apply_style, color_name, empty_figure, figure_text
from .theme import themed
from .training import (accuracy_figure, grad_norm_clip_figure, loss_figure, prediction_table_figure,
                       topk_figure)

__all__ = [
    "LAYOUT", "PALETTE", "TEMPLATE", "PAGE_WIDTH", "refit", "apply_style", "color_name", "empty_figure", "figure_text", "themed",
    "loss_figure", "accuracy_figure", "prediction_table_figure", "prediction_table",
    "prediction_table_html", "headline_html", "continuation_html", "topk_figure", "grad_norm_clip_figure",
    "PCABasis", "fit_pca_basis", "project", "trajectory_figure", "hidden_heatmap", "gate_heatmaps",
    "gate_means_figure",
    "grad_norm_figure", "grad_heatmap", "spectral_radius_text", "spectral_radius_figure",
    "sine_figure", "char_probs_figure", "word_tensor_figure", "step_table_html",
    "gradcheck_figure", "loss_difference_figure", "relative_differences", "max_relative_difference",
]
