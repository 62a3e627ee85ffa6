"""rnnviz's speed and memory benchmarks: `python -m bench` (see bench/__main__.py).

Everything that is compared runs as interleaved pairs in one process with torch.set_num_threads(1),
because the machine this runs on is usually shared: the median of the per-pair ratios is robust to
load that drifts during the run, where a ratio of two separate medians is not.
"""
import os

# One thread for every BLAS too, set before numpy (or torch, which loads it) is imported: rnnviz sets
# the same in rnnviz/__init__.py, but only takes effect when numpy is not loaded yet, and the bench
# imports torch first. Multi-threaded OpenBLAS made the numpy probe of the 512x2 model cost +20%.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
