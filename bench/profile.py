"""cProfile of the rnnviz side of a part-1 case: where the time per epoch (or step) goes.

    python -m bench.profile seoul [anbn ...]      # prints the table; part 1 calls profile_case() for misses

Functions are reported with their own time (tottime) and their cumulative time, both per epoch or step,
in CPU milliseconds (the profiler's clock is process time); rnnviz's own functions are marked.
"""
from __future__ import annotations

import cProfile
import pstats
import sys
import time


def profile_case(name: str, quick: bool = True, top: int = 14) -> dict:
    import torch
    torch.set_num_threads(1)
    from rnnviz.tasks import make_task

    from . import core

    case = next(c for c in core.cases(quick) if c.name == name)
    task = make_task(case.task, **case.options)
    core.run_rnnviz(case, task, 0.1 if case.unit == "epoch" else 1.0)        # warm-up
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    r = core.run_rnnviz(case, task)
    prof.disable()
    units = r["units"] if case.unit == "epoch" else r["units"] + core.WARMUP
    st = pstats.Stats(prof)
    rows = []
    for (file, line, fn), (cc, nc, tt, ct, _) in st.stats.items():
        where = file.split("/site-packages/")[-1] if "/site-packages/" in file else file.split("/main/")[-1]
        rows.append({"function": f"{where}:{line}({fn})", "calls_per_unit": nc / units,
                     "own_ms_per_unit": 1e3 * tt / units, "cum_ms_per_unit": 1e3 * ct / units,
                     "rnnviz": "rnnviz/" in file and "/site-packages/" not in file})
    total = sum(x["own_ms_per_unit"] for x in rows)
    by_own = sorted(rows, key=lambda x: -x["own_ms_per_unit"])[:top]
    by_cum = sorted((x for x in rows if x["rnnviz"]), key=lambda x: -x["cum_ms_per_unit"])[:top]
    return {"case": name, "unit": case.unit, "units": units, "profiled_ms_per_unit": total,
            "top_own": by_own, "top_rnnviz_cumulative": by_cum}


def ablation(name: str, quick: bool = True, repeats: int = 3) -> dict:
    """The same lockstep pairs with the Trainer's probes off (Recorder(probe_every=10**9): a probe at the
    first and the last record point only): what the probes cost vs what the loop itself costs."""
    from rnnviz.engine import build_model
    from rnnviz.tasks import make_task

    from . import core
    from .util import pairs

    case = next(c for c in core.cases(quick) if c.name == name)
    task = make_task(case.task, **case.options)
    mcfg, tcfg = core.configs(case, task)
    init = build_model(task, mcfg, tcfg).state_dict()
    res = pairs(lambda r: core.lockstep(case, task, init, r % 2 == 1, probe_every=10**9), repeats)
    return {"case": name, "ratio_median_without_probes": res["ratio_median"], "ratios": res["ratios"],
            "plain_ms": res["a_median"] * 1e3, "rnnviz_ms_without_probes": res["b_median"] * 1e3}


def format_profile(p: dict) -> str:
    lines = [f"  {p['case']}: {p['profiled_ms_per_unit']:.2f} CPU ms per {p['unit']} under cProfile"]
    if "ablation" in p:
        a = p["ablation"]
        lines.append(f"    without probes (a probe at the first and last record only): rnnviz/plain "
                     f"{a['ratio_median_without_probes']:.3f}x ({a['rnnviz_ms_without_probes']:.2f} vs {a['plain_ms']:.2f} ms)")
    lines.append(f"    rnnviz functions by cumulative time per {p['unit']}:")
    for x in p["top_rnnviz_cumulative"]:
        lines.append(f"      {x['cum_ms_per_unit']:8.3f} ms  ({x['calls_per_unit']:6.1f} calls)  {x['function']}")
    lines.append("    everything by own time:")
    for x in p["top_own"][:8]:
        lines.append(f"      {x['own_ms_per_unit']:8.3f} ms  ({x['calls_per_unit']:6.1f} calls)  {x['function']}")
    return "\n".join(lines)


if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or ["seoul"]
    for n in names:
        print(format_profile(profile_case(n, quick="--full" not in sys.argv)))
