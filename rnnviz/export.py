"""A run's history as a table: CSV for a spreadsheet, one row per record point."""
from __future__ import annotations

import csv
import io

from .recorder import EpochRecord

COLUMNS = ("run", "epoch", "step", "loss", "val_loss", "train_acc", "val_acc", "grad_norm", "clipped", "lr",
           "seconds")


def history_csv(runs: dict[str, list[EpochRecord]]) -> str:
    """CSV of every record of every run (name -> records); empty cells where nothing was measured.
    Numbers keep all the digits their float32/float64 had (repr), so 3.6e-14 stays 3.6e-14."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for name, records in runs.items():
        for r in records:
            w.writerow([name] + ["" if (v := getattr(r, c)) is None else repr(float(v)) if isinstance(v, float)
                                 else v for c in COLUMNS[1:]])
    return buf.getvalue()
