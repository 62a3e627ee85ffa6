"""A lesson that left the server's memory (lab.registry.sweep) and is read back from disk the next time
the student looks works as before: its runs are new objects, and the page's widgets follow them (AppTest)."""
from __future__ import annotations

import time

import pytest
from apptest import app, hihell_trained, owner, runs_of

from lab import registry

pytestmark = pytest.mark.usefixtures("lab_env")


def scrubber(at):
    (found,) = [s for s in at.slider if s.key.startswith("chars.scrub.")]
    return found


def rewound(at) -> list[str]:
    return [c.value for c in at.caption if "rewound to" in c.value]


def test_the_scrubber_still_rewinds_a_lesson_read_back_from_disk(lab_env, monkeypatch):
    at = app()
    run = hihell_trained(at)
    assert run.ended.wait(30)      # written down: the runner's thread writes it after its state says finished
    scrubber(at).set_value(40).run()
    assert rewound(at) == [":material/history: rewound to epoch 40 (latest recorded: 100)"]
    monkeypatch.setattr(registry, "MEMORY_MB", 0)            # a classroom fills the server's memory...
    run.seen = time.time() - 10 * registry.RECENT_S          # ...while the student reads the page
    lab_env.sweep()
    assert lab_env.runs_of(owner(at)).get(run.id) is None
    scrubber(at).set_value(30).run()                         # the next drag reads the lesson back
    (back,) = runs_of(at, "chars").values()
    assert back is not run and not at.exception
    assert rewound(at) == [":material/history: rewound to epoch 30 (latest recorded: 100)"]
    assert scrubber(at).value == 30
