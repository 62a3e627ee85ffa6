"""rnnviz: train small recurrent networks and record what happens inside them.

The core never imports streamlit: it runs from tests, notebooks and the CLI (`python -m rnnviz`).
"""
__version__ = "0.1.0"
