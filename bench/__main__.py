"""python -m bench [--quick] [--only NAMES] [--repeats N] [--out PATH] [--no-browser]

Parts: core (1: the course's plain loops vs rnnviz with full recording), numpy (2: NumPy engine vs
torch), memory (3: peak memory and a long run), app (4: the lab in Chromium, one student), server (5:
the server's memory with two lessons training), lessons (6: the lessons' timings), classroom (7: twenty
browsers at once), sweep (8: a sweep's runs per minute, local and on Ray). --only takes part names
and/or case names (hihell, seoul, sine, anbn, text-128x1, text-512x2), comma-separated. Results: a
table on stdout, JSON in bench/results/<part>.json per part (<part>-quick.json with --quick) and, with
--out, of everything run in one file. See bench/README.md.
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

PARTS = ("core", "numpy", "memory", "sweep", "app", "server", "lessons", "classroom")
BROWSER_PARTS = ("app", "server", "lessons", "classroom")


def _args(argv):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    p.add_argument("--quick", action="store_true", help="fewer epochs/steps/pairs, memory of the rnnviz side only, fewer app pairs, 5 classroom browsers")
    p.add_argument("--only", default="", help=f"comma-separated parts {PARTS} and/or case names")
    p.add_argument("--repeats", type=int, default=0, help="pairs per comparison (default 5, --quick 3)")
    p.add_argument("--out", default="", help="also write everything run to this JSON file")
    p.add_argument("--results", default="bench/results", help="folder of the per-part JSON files")
    p.add_argument("--no-browser", action="store_true", help=f"skip the parts in Chromium {BROWSER_PARTS}")
    p.add_argument("--sessions", type=int, default=0, help="classroom: browsers at once (default 20, --quick 5)")
    p.add_argument("--no-profile", action="store_true", help="do not cProfile the cases that miss their target")
    return p.parse_args(argv)


def _write(path: Path | None, result: dict) -> None:
    if path is None:
        return
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


def _browser_part(name: str, quick: bool, sessions: int, log, targets: list) -> dict:
    if name == "app":
        from . import app
        return app.part4(quick, log, targets)
    if name == "server":
        from . import server
        return server.part5(quick, log, targets)
    if name == "lessons":
        from . import lessons
        return lessons.part6(quick, log, targets)
    from . import classroom
    return classroom.part7(sessions or (5 if quick else 20), log, targets, quick)


TITLES = {"app": "[4] the app in Chromium, one student", "server": "[5] the server's memory, two lessons training",
          "lessons": "[6] the lessons' timings, one student", "classroom": "[7] a classroom: browsers at once"}


def main(argv=None) -> int:
    args = _args(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(1)
    from . import core, memory
    from .browser import browser_unavailable
    from .util import machine

    tokens = {t.strip() for t in args.only.split(",") if t.strip()}
    parts = [p for p in PARTS if p in tokens] or list(PARTS)
    cases = (tokens - set(PARTS)) or None
    if cases and not (tokens & set(PARTS)):
        parts = ["core", "memory"]
    if args.no_browser:
        parts = [p for p in parts if p not in BROWSER_PARTS]
    repeats = args.repeats or (3 if args.quick else 5)
    out, per_part = (Path(args.out) if args.out else None), Path(args.results)
    mach = machine()
    result = {"machine": mach, "args": vars(args), "parts": {}, "targets": [], "not_measured": {}}
    targets = result["targets"]
    log = lambda s: print(s, flush=True)  # noqa: E731
    t_start = time.perf_counter()
    log(f"rnnviz bench on {mach['cpu']} ({mach['cores']} cores, load {mach['loadavg_at_start']}), torch "
        f"{mach['torch']}, 1 thread, {'quick' if args.quick else 'full'}, {repeats} pairs; parts {', '.join(parts)}"
        f"; commit {mach['code']['commit']}")

    part_t = result["part_seconds"] = {}
    mark, first_target = time.perf_counter(), 0

    def done(name):
        nonlocal mark, first_target
        part_t[name] = time.perf_counter() - mark
        mark = time.perf_counter()
        log(f"  ({name}: {part_t[name]:.0f} s, load {os.getloadavg()[0]:.1f})")
        _write(out, result)
        own = {"machine": mach, "args": vars(args), "part": name, "seconds": part_t[name],
               "loadavg_at_end": os.getloadavg(), "targets": targets[first_target:],
               "result": result["parts"].get(name), "not_measured": result["not_measured"].get(name)}
        _write(per_part / f"{name}{'-quick' if args.quick else ''}.json", own)
        first_target = len(targets)

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
        log("\n[8] sweeps: runs per minute, the CLI one by one vs a sweep, local and on Ray")
        result["parts"]["sweep"] = sweep.part8(args.quick, log, targets)
        done("sweep")
    why = browser_unavailable()
    for name in (p for p in BROWSER_PARTS if p in parts):
        log(f"\n{TITLES[name]}")
        if why:
            result["not_measured"][name] = why
            log(f"  not measured: {why}")
        else:
            result["parts"][name] = _browser_part(name, args.quick, args.sessions, log, targets)
            if result["parts"][name].get("not_measured"):
                result["not_measured"][name] = result["parts"][name]["not_measured"]
        done(name)

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
        f"{sum(t['met'] is None for t in targets)} not measured; {result['seconds']:.0f} s; JSON: {out or per_part}")
    _write(out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
