"""python -m bench [--quick] [--only NAMES] [--repeats N] [--out PATH] [--no-browser]

Parts: core (1: the course's plain loops vs rnnviz with full recording), numpy (2: NumPy engine vs
torch), memory (3: peak memory and a long run), app (4: the Streamlit app in Chromium), classroom
(5: N browser sessions at once), sweep (6: a sweep's runs per minute, local and on Ray). --only takes part names and/or case names (hihell, seoul, sine, anbn,
text-128x1, text-512x2), comma-separated. Results: a table on stdout, JSON at --out.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")   # before numpy loads (torch imports it): idle BLAS threads spin on CPU time
import torch  # noqa: E402

PARTS = ("core", "numpy", "memory", "app", "classroom", "sweep")


def _args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    p.add_argument("--quick", action="store_true", help="fewer epochs/steps/pairs, memory of the rnnviz side only, classroom N = 1, 5 hihell only (~4-5 min)")
    p.add_argument("--only", default="", help=f"comma-separated parts {PARTS} and/or case names")
    p.add_argument("--repeats", type=int, default=0, help="pairs per comparison (default 5, --quick 3)")
    p.add_argument("--out", default="bench/results/latest.json")
    p.add_argument("--no-browser", action="store_true", help="skip the app and classroom parts")
    p.add_argument("--sessions", default="", help="classroom session counts, e.g. 1,5,10,20")
    p.add_argument("--no-profile", action="store_true", help="do not cProfile the cases that miss their target")
    return p.parse_args(argv)


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=str))
    os.replace(tmp, path)


def core_table(core: dict, numpy_part: dict | None) -> str:
    """Medians of each side (CPU time per unit; chars/s for the char models) and the median of the
    paired ratios, on CPU time (judged against the target) and on wall time (for reference)."""
    from .util import table
    rows = []

    def row(label, plain, viz, r, target):
        met = "ok" if r["ratio_median"] <= target else "MISS"
        rows.append([label, plain, viz, f"{r['ratio_median']:.3f}x", f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}",
                     f"{r['wall']['ratio_median']:.3f}x", len(r["ratios"]), f"<= {target:g}x", met])

    for name, r in core.items():
        case = r["case"]
        if case["unit"] == "step":
            cps = r["chars_per_step"]
            plain, viz = f"{cps / r['a_median']:,.0f} ch/s", f"{cps / r['b_median']:,.0f} ch/s"
        else:
            plain, viz = f"{r['a_median'] * 1e3:.2f} ms/ep", f"{r['b_median'] * 1e3:.2f} ms/ep"
        row(f"{name} ({case['label']})", plain, viz, r, case["target"])
    if numpy_part:
        r = numpy_part
        row("anbn batch 1: numpy engine / torch", f"{r['a_median'] * 1e3:.3f} ms/seq", f"{r['b_median'] * 1e3:.3f} ms/seq",
            r, 0.8)
    return table(rows, ["case", "plain (torch)", "rnnviz (numpy)", "ratio cpu", "range", "ratio wall", "pairs",
                        "target", ""])


def main(argv=None) -> int:
    args = _args(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(1)
    from . import core, memory
    from .util import machine

    tokens = {t.strip() for t in args.only.split(",") if t.strip()}
    parts = [p for p in PARTS if p in tokens] or list(PARTS)
    cases = (tokens - set(PARTS)) or None
    if cases and not (tokens & set(PARTS)):
        parts = ["core", "memory"]
    if args.no_browser:
        parts = [p for p in parts if p not in ("app", "classroom")]
    repeats = args.repeats or (3 if args.quick else 5)
    out = Path(args.out)
    mach = machine()
    result = {"machine": mach, "args": vars(args), "parts": {}, "targets": [], "not_measured": {}}
    targets = result["targets"]
    log = lambda s: print(s, flush=True)  # noqa: E731
    t_start = time.perf_counter()
    log(f"rnnviz bench on {mach['cpu']} ({mach['cores']} cores, load {mach['loadavg_at_start']}), torch "
        f"{mach['torch']}, 1 thread, {'quick' if args.quick else 'full'}, {repeats} pairs; parts {', '.join(parts)}")

    part_t = result["part_seconds"] = {}
    mark = time.perf_counter()

    def done(name):
        nonlocal mark
        part_t[name] = time.perf_counter() - mark
        mark = time.perf_counter()
        log(f"  ({name}: {part_t[name]:.0f} s, load {os.getloadavg()[0]:.1f})")
        _write(out, result)

    if "core" in parts:
        log("\n[1] plain PyTorch loops vs rnnviz Trainer + Recorder(probe_every=1), interleaved pairs")
        result["parts"]["core"] = core.part1(args.quick, repeats, cases, log, targets)
        _write(out, result)
        missed = [n for n, r in result["parts"]["core"].items() if r["ratio_median"] > r["case"]["target"]]
        if missed and not args.no_profile:
            from .profile import ablation, format_profile, profile_case
            log(f"\n[1b] cProfile of the rnnviz side of the cases over target: {', '.join(missed)}")
            result["profiles"] = {}
            for n in missed:
                result["profiles"][n] = profile_case(n, args.quick)
                if result["parts"]["core"][n]["case"]["unit"] == "epoch" and not args.quick:
                    result["profiles"][n]["ablation"] = ablation(n, args.quick, 2 if args.quick else 3)
                log(format_profile(result["profiles"][n]))
        done("core")
    if "numpy" in parts:
        log("\n[2] NumPy engine vs torch")
        result["parts"]["numpy"] = core.part2(args.quick, repeats, log, targets)
        done("numpy")
    if "memory" in parts:
        log("\n[3] memory (each run in its own subprocess)")
        result["parts"]["memory"] = memory.part3(args.quick, cases, log, targets)
        done("memory")
    if "sweep" in parts:
        from . import sweep
        log("\n[6] sweeps: runs per minute, the CLI one by one vs a sweep, local and on Ray")
        result["parts"]["sweep"] = sweep.part6(args.quick, log, targets)
        done("sweep")
    if "app" in parts or "classroom" in parts:
        from . import app
        why = app.browser_unavailable()
        if why:
            for p in ("app", "classroom"):
                if p in parts:
                    result["not_measured"][p] = why
            log(f"\n[4, 5] not measured: {why}")
        else:
            if "app" in parts:
                log("\n[4] the app in Chromium")
                result["parts"]["app"] = app.part4(args.quick, log, targets)
                if result["parts"]["app"].get("not_measured"):
                    result["not_measured"]["app"] = result["parts"]["app"]["not_measured"]
                done("app")
            if "classroom" in parts:
                from . import classroom
                sizes = [int(n) for n in args.sessions.split(",") if n] or ([1, 5] if args.quick else [1, 5, 10, 20])
                log(f"\n[5] classroom: N sessions at once, N = {sizes}")
                result["parts"]["classroom"] = classroom.part5(sizes, log, targets, args.quick)
                if result["parts"]["classroom"].get("not_measured"):
                    result["not_measured"]["classroom"] = result["parts"]["classroom"]["not_measured"]
                done("classroom")

    result["seconds"] = time.perf_counter() - t_start
    log(f"\n==== summary ({mach['cpu']}, {mach['cores']} cores, torch {mach['torch']}, {mach['date']}) ====")
    if "core" in result["parts"] or "numpy" in result["parts"]:
        log(core_table(result["parts"].get("core", {}), result["parts"].get("numpy")))
    log("")
    for t in targets:
        if t["met"] is None:
            log(f"  not measured  {t['name']} (target {t['target']}){': ' + t['note'] if t.get('note') else ''}")
        elif not t["met"]:
            log(f"  MISSED        {t['name']}: {t['missed_by']}")
        else:
            log(f"  met           {t['name']}: {t['value']:.3g} (target {t['target']})")
    for p, why in result["not_measured"].items():
        log(f"  not measured  {p}: {str(why)[:300]}")
    log(f"\n{sum(t['met'] is False for t in targets)} target(s) missed, "
        f"{sum(t['met'] is None for t in targets)} not measured; {result['seconds']:.0f} s; JSON: {out}")
    _write(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
