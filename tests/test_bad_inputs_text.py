"""The catalogue of bad inputs, a third sweep: a text with NUL characters, whichever way it comes in
(pasted in the app, a file for the CLI, a checkpoint's config), and the messages that echo a user's
value, which stay short however long the value is (a 1 MB paste, a long URL parameter or flag)."""
from __future__ import annotations

import pytest
from apptest import app
from test_bad_inputs import main_error

from rnnviz import cli
from rnnviz.tasks import make_task

BINARY = "abc\0def ghi " * 500     # 6,000 characters, 500 NULs


# ---- NUL: refused by the text task itself, wherever the text comes from -----------------------------
def test_the_text_task_refuses_a_custom_text_with_nul():
    with pytest.raises(ValueError, match="NUL") as e:
        make_task("text", corpus="custom", text=BINARY)
    assert "character 4" in str(e.value) and len(str(e.value)) < 200     # where the first one is, not the text


def test_the_cli_refuses_a_text_file_with_nul(capsys, tmp_path):
    (tmp_path / "t.txt").write_text(BINARY, encoding="utf-8")
    main_error(capsys, "train", "--task", "text", "--text-file", tmp_path / "t.txt", "--out", tmp_path / "ck",
               words=["NUL"])
    main_error(capsys, "train", "--task", "text", "--corpus", "custom", "--text", BINARY, "--out", tmp_path / "ck",
               words=["NUL"])
    assert not (tmp_path / "ck").exists()


@pytest.mark.usefixtures("lab_env")
def test_a_pasted_text_with_nul_cannot_be_trained_in_the_app():
    """It trained: the app never read its text through the file reader, which alone refused NUL."""
    at = app("text")
    at.selectbox(key="text.text.task.corpus").set_value("custom").run()
    at.text_area(key="text.text.task.text").input(BINARY).run()
    shown = [e.value for e in at.error]
    assert any("These settings cannot be trained" in m and "NUL" in m for m in shown), shown
    assert at.button(key="text.train").disabled and not at.exception
    at.text_area(key="text.text.task.text").input(BINARY.replace("\0", "")).run()
    assert not at.error and not at.button(key="text.train").disabled
