"""rnnviz: train small recurrent networks and record what happens inside them.

The core never imports streamlit: it runs from tests, notebooks and the CLI (`python -m rnnviz`).
"""
import os

# The matrices here are small (H <= 512): a multi-threaded BLAS only adds contention, and on a busy
# 2-core machine OpenBLAS threads made a 128x128 eigvals 50x slower. Set before numpy loads; a user's
# own setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
