"""Lesson 8: an RNN and an LSTM written from scratch in NumPy (another engineer builds this page)."""
import streamlit as st

from lab import ensure_app

ensure_app()
st.title("8. From scratch (NumPy)")
st.info("Coming soon: the same cells written out in NumPy — forward pass, backpropagation through time "
        "by hand, a gradient check against PyTorch, and a run trained with them side by side with the "
        "PyTorch engine.", icon=":material/construction:")
st.markdown("Until then, the equations these cells implement are shown on every lesson page under "
            "**The equations, in plain words**.")
