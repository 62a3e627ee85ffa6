"""hihell as the course ran it: the preset "hihell-course" of the character lesson is deck 001's first
program (../shared/seeds/001: nn.RNN(5, 5) whose h_t is the logits, Adam lr 0.1, 100 epochs), run here in
plain torch next to the preset's run through rnnviz; and the lesson says which setup it shows."""
from __future__ import annotations

import pytest
import torch
from apptest import app, finished, wait
from torch import nn

from course import lesson_text
from lab import presets
from lab.lessons import BY_KEY
from rnnviz.callbacks import Recorder
from rnnviz.tasks.chars import COURSE_FINAL_LOSS, tanh_logit_floor
from rnnviz.trainer import Trainer

LESSON = BY_KEY["chars"]
(COURSE,) = [p for p in presets.PRESETS["chars"] if p.name == "hihell-course"]


def course_program(seed: int) -> tuple[list[float], str]:
    """Deck 001's program as printed (Variable and loss.data[0] aside): the loss of each epoch before its
    step, and the reading after the last."""
    torch.manual_seed(seed)
    idx2char = ["h", "i", "e", "l", "o"]
    inputs = torch.eye(5)[[0, 1, 0, 2, 3, 3]].unsqueeze(0)      # hihell, one-hot: [1, 6, 5]
    labels = torch.tensor([1, 0, 2, 3, 3, 4])                   # ihello
    rnn = nn.RNN(input_size=5, hidden_size=5, batch_first=True)
    criterion, optimizer = nn.CrossEntropyLoss(), torch.optim.Adam(rnn.parameters(), lr=0.1)
    losses = []
    for _ in range(100):
        outputs = rnn(inputs, torch.zeros(1, 1, 5))[0].view(-1, 5)   # h_t itself: [6, 5] logits
        optimizer.zero_grad()
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, "".join(idx2char[c] for c in outputs.argmax(1).tolist())


def preset_run() -> tuple[list[float], str]:
    setup = COURSE.setup(LESSON)
    rec = Recorder(probe_every=10**9)
    trainer = Trainer(setup.task, setup.model, setup.train, [rec])
    assert trainer.run() == "finished", trainer.reason
    return [r.loss for r in rec.history.records], rec.history.records[-1].prediction["text"]


def test_the_preset_is_the_courses_program_and_ends_at_its_loss():
    setup = COURSE.setup(LESSON)
    assert not setup.model.head and setup.model.hidden_size == 5 and setup.model.cell == "rnn"
    ours, text = preset_run()
    theirs, their_text = course_program(setup.train.seed)
    assert len(ours) == len(theirs) == 100
    assert ours == pytest.approx(theirs, rel=1e-5)               # every epoch, not only the last
    assert text == their_text == "ihello"
    assert round(ours[-1], 3) == round(theirs[-1], 3) == COURSE_FINAL_LOSS
    assert min(ours) > tanh_logit_floor(5)


def test_the_tanh_logit_floor_is_the_least_loss_of_logits_in_minus_one_one():
    logits = torch.full((5,), -1.0)
    logits[0] = 1.0
    best = nn.functional.cross_entropy(logits.unsqueeze(0), torch.tensor([0])).item()
    assert tanh_logit_floor(5) == pytest.approx(best) and f"{best:.3f}" in COURSE.notice
    assert str(COURSE_FINAL_LOSS) in COURSE.notice


def test_the_lessons_default_has_a_head_and_goes_below_the_floor():
    setup = presets.PRESETS["chars"][0].setup(LESSON)        # the plain hihell preset: the lesson's defaults
    assert setup.model.head
    rec = Recorder(probe_every=10**9)
    Trainer(setup.task, setup.model, setup.train, [rec]).run()
    assert rec.history.records[-1].loss < tanh_logit_floor(5) < COURSE_FINAL_LOSS
    assert "lab's default" in lesson_text.hihell_setup(setup.model)
    assert "course's first version" in lesson_text.hihell_setup(COURSE.setup(LESSON).model)


@pytest.mark.usefixtures("lab_env")
def test_the_page_says_which_setup_it_shows():
    at = app("chars")
    assert any("Shown: the lab's default" in m.value for m in at.markdown)
    at.button(key="chars.preset.hihell-course").click().run()
    found = wait(at, "chars", finished, timeout=30)
    (run,) = found.values()
    assert not run.mcfg.head and run.tcfg.seed == COURSE.train["seed"]
    at.run()
    assert any("Shown: the course's first version" in m.value for m in at.markdown)
    assert any(COURSE.notice in c.value for c in at.caption)
