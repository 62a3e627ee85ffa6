"""A run as the views see it: its records up to the epoch the scrubber shows (lab.panel makes them)."""
from __future__ import annotations

import copy
from dataclasses import dataclass

from rnnviz.recorder import EpochRecord
from rnnviz.run import Run


@dataclass
class Snapshot:
    """One run as the views see it: its records up to the epoch shown."""
    name: str
    run: Run
    records: list[EpochRecord]       # recorded up to the selected epoch
    all_records: list[EpochRecord]   # everything recorded (e.g. to fit one PCA basis for all epochs)
    rec: EpochRecord | None          # the selected epoch's record
    probe_rec: EpochRecord | None    # the latest record with a probe, up to the selected epoch

    @property
    def task(self):
        return self.run.task

    @property
    def thinned(self) -> bool:
        return self.run.history.thinned

    @property
    def unit(self) -> str:
        return self.run.history.unit


def latest_probed(records: list[EpochRecord]) -> EpochRecord | None:
    """A copy of the latest record with a probe: the history's thinning (the runner's thread) sets the
    original's probe to None, and the views read it after this."""
    return next((c for r in reversed(records) if r.probe is not None and (c := copy.copy(r)).probe is not None), None)
