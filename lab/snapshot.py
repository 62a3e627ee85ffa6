"""A run as the views see it: its records up to the epoch the scrubber shows (lab.panel makes them)."""
from __future__ import annotations

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
