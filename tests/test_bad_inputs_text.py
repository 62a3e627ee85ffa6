"""The catalogue of bad inputs, a third sweep: a text with NUL characters, whichever way it comes in
(pasted in the app, a file for the CLI, a checkpoint's config), and the messages that echo a user's
value, which stay short however long the value is (a 1 MB paste, a long URL parameter or flag)."""
from __future__ import annotations

import pytest
from apptest import app
from test_bad_inputs import main_error
from test_bad_inputs_app import upload

from rnnviz import cli
from rnnviz.tasks import make_task
from rnnviz.tasks.text import MAX_CUSTOM

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


# ---- a long value in a message: its start and its length, not the whole of it --------------------------
LONG = "x" * 100_000


def error_line(capsys, *args) -> str:
    """The one line `rnnviz: error: ...` of a command line that fails (in argparse, or after it)."""
    try:
        rc = cli.main([str(a) for a in args])
    except SystemExit as e:      # argparse's own errors exit 2
        rc = e.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc in (1, 2) and "Traceback" not in err and len(lines) == 1, err[:500]
    assert lines[0].startswith("rnnviz: error: ")
    return lines[0]


@pytest.mark.parametrize("args,words", [
    (["train", "--task", "text", "--corpus", LONG], ["corpus must be one of"]),       # the task's options
    (["train", "--task", "text", "--cell", LONG], ["--cell", "invalid choice", "'rnn'"]),   # argparse: choices
    (["train", "--task", "text", "--hidden", "9" * 100_000], ["--hidden", "invalid int value"]),   # a type
    (["train", "--task", "text", "--epochs=" + LONG], ["--epochs", "invalid int value"]),
    (["train", "--task", "text", LONG], ["unrecognized arguments"]),
    (["sample", "--checkpoint", LONG], ["File name too long"]),                       # an OSError's file name
    (["sweep", "--task", "hihell", "--grid", "lr=" + LONG], ["lr=", "not a float"]),
    (["sweep", "--task", "hihell", "--grid", LONG + "=1"], ["has no setting"]),
])
def test_a_long_value_on_the_command_line_is_shortened_in_its_message(capsys, tmp_path, args, words):
    line = error_line(capsys, *args, *(["--out", tmp_path / "out"] if args[0] != "sample" else []))
    assert len(line) < 400 and "(100,000 characters)" in line, line[:500]
    assert "x" * 10 in line or "9" * 10 in line, line             # the value's start, to know it again
    for w in words:
        assert w in line, line[:500]
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("lab_env")
def test_a_links_long_preset_name_is_shortened_in_its_note():
    at = app(query={"preset": "p" * 100_000})
    (note,) = [w.value for w in at.warning]
    assert "no preset called 'pppp" in note and "(100,000 characters)" in note and len(note) < 300, note[:500]
    assert not at.exception


@pytest.mark.usefixtures("lab_env")
@pytest.mark.parametrize("data", [b"not a zip at all", b""])
def test_an_uploads_long_file_name_is_shortened_in_its_message(data):
    """The browser sends the file's name; a client of its own can send a name of a megabyte."""
    shown = upload(app(), "u" * 100_000 + ".zip", data)
    assert "was not added" in shown and "(100,004 characters)" in shown, shown[:500]
    assert len(shown) < 400, shown[:500]


# ---- the text lesson's own text: pasted or uploaded, one message when it is refused ---------------------
TEXT, UPLOAD = "text.text.task.text", "text.text.task.text.upload"
NO_TEXT = "corpus 'custom' needs a text: the box is empty; paste or upload one (at most 1,000,000 characters)"


def custom_text():
    at = app("text")
    at.selectbox(key="text.text.task.corpus").set_value("custom").run()
    return at


@pytest.mark.usefixtures("lab_env")
@pytest.mark.parametrize("name, data, words", [
    ("empty.txt", b"  \n", "empty.txt is empty: upload a text file"),
    ("latin1.txt", "café crème".encode("latin-1"), "not UTF-8"),
    ("big.txt", b"ab\n" * 400_000, "big.txt has 1,200,000 characters; the limit is 1,000,000"),
])
def test_a_refused_upload_is_one_message_that_says_what_to_do(name, data, words):
    """With the text empty it was two: the upload's, and the task's "needs a text: paste some" beside it."""
    at = custom_text()
    at.file_uploader(key=UPLOAD).set_value((name, data, "text/plain")).run()
    (shown,) = [e.value for e in at.error]
    assert words in shown and "upload" in shown and "needs a text" not in shown, shown
    assert at.text_area(key=TEXT).value == "" and at.button(key="text.train").disabled and not at.exception
    at.text_area(key=TEXT).input("abc abc cab " * 300).run()        # what is typed replaces the refused upload
    assert not at.error and not at.button(key="text.train").disabled
    at.text_area(key=TEXT).input("").run()
    at.file_uploader(key=UPLOAD).set_value((name, data, "text/plain")).run()
    at.button(key="text.defaults").click().run()                      # ...and so does a text put by code
    at.selectbox(key="text.text.task.corpus").set_value("custom").run()
    assert [e.value for e in at.error] == ["These settings cannot be trained: " + NO_TEXT]


@pytest.mark.usefixtures("lab_env")
def test_an_empty_box_says_a_longer_paste_is_not_taken():
    """The browser drops a paste over the limit before the server sees it: the box stayed empty and the
    only message said the text was empty."""
    at = custom_text()
    assert any("a longer paste leaves it as it was" in c.value for c in at.caption)
    at.text_area(key=TEXT).input("abc abc cab " * 300).run()
    assert not any("a longer paste" in c.value for c in at.caption)


@pytest.mark.usefixtures("lab_env")
def test_a_refused_upload_leaves_a_typed_text_to_train_on():
    """With a text in the box, a refused upload blocked Train until the student typed again."""
    at = custom_text()
    typed = "abc abc cab " * 300
    at.text_area(key=TEXT).input(typed).run()
    at.file_uploader(key=UPLOAD).set_value(("big.txt", b"ab\n" * 400_000, "text/plain")).run()
    (note,) = [w.value for w in at.warning]
    assert "big.txt has 1,200,000 characters" in note and "kept" in note and not at.error
    assert at.text_area(key=TEXT).value == typed and not at.button(key="text.train").disabled
    at.file_uploader(key=UPLOAD).set_value(("good.txt", b"xyz zyx " * 200, "text/plain")).run()
    assert not at.warning and at.text_area(key=TEXT).value == "xyz zyx " * 200


@pytest.mark.usefixtures("lab_env")
def test_a_text_over_the_limit_never_reaches_the_browser():
    """A 5 MB paste took 8.5 s (20 s on a loaded machine) before its message: the text area took it all."""
    at = custom_text()
    assert at.text_area(key=TEXT).proto.max_chars == MAX_CUSTOM       # the browser does not take a longer paste...
    (shown,) = [e.value for e in at.error]
    assert "needs a text: the box is empty" in shown, shown    # ...and the box stays empty: why
    at = app()                           # code puts a text before the text area is drawn (a checkpoint, a preset)
    at.session_state["text.text.task.corpus"] = "custom"
    at.session_state[TEXT] = "ab\n" * MAX_CUSTOM
    at.switch_page("app_pages/text.py").run()
    (shown,) = [e.value for e in at.error]
    assert "your text had 3,000,000 characters; the limit is 1,000,000" in shown and len(shown) < 200, shown
    assert at.text_area(key=TEXT).value == "" and at.button(key="text.train").disabled and not at.exception
