"""Measure what each backprop bug does with the From scratch lesson's default setups, into
rnnviz/data/bug_effects.json (the lesson shows those numbers). Deterministic on one machine: float64 on one
thread (another CPU's BLAS kernel moves a wandering bug's end: bug_effects.WANDERS).

    python scripts/measure_bug_effects.py            # measure and write the file
    python scripts/measure_bug_effects.py --check    # train every stored entry again and compare (exit 1)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):   # before numpy loads
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from lab.lessons import BY_KEY  # noqa: E402
from course.scratch_bugs import MEASURED_SEEDS, lesson_setup  # noqa: E402
from rnnviz.numpy_engine import bug_effects  # noqa: E402


def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    lesson, table, wrong = BY_KEY["scratch"], {}, []
    stored = bug_effects.load() if "--check" in argv else {}
    for name, seeds in MEASURED_SEEDS.items():
        t0 = time.process_time()
        table[name] = bug_effects.measure_setup(*lesson_setup(lesson, name), seeds=seeds)
        print(f"{name}: {len(table[name]['effects'])} bugs x {len(seeds)} seed(s) in "
              f"{time.process_time() - t0:.1f} s CPU")
        if "--check" in argv:
            wrong += [f"{name}: {d}" for d in bug_effects.differences(stored.get(name, {"effects": {}}), table[name])]
    if "--check" in argv:
        print("\n".join(wrong) or f"{bug_effects.MEASURED} holds what the lesson's defaults do today")
        return 1 if wrong else 0
    bug_effects.save(table)
    print(f"-> {bug_effects.MEASURED}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
