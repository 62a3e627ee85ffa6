"""The catalogue of bad inputs, continued (tests/test_bad_inputs.py: the CLI, the loaders, the text
task): what a careless or hostile student does through the app. Each ends with one clear message on
the page, no exception, and nothing of anyone's lost. (Two browsers that must not see each other's
checkpoints, a broken config.json under checkpoints/ and the fourth concurrent run of a student are in
tests/test_app_checkpoints.py and tests/test_app_runs.py.)"""
from __future__ import annotations

import asyncio
import json

import pytest
from apptest import app, owner, runs_of
from starlette.requests import Request
from test_bad_inputs import good, with_config, zip_of  # noqa: F401  (good: a fixture)

from lab import progress

pytestmark = pytest.mark.usefixtures("lab_env")


def upload(at, name: str, data: bytes) -> str:
    at.switch_page("app_pages/checkpoints.py").run()
    at.file_uploader(key="ckpt.upload").set_value((name, data, "application/zip")).run()
    assert not at.exception, at.exception
    (shown,) = [e.value for e in at.error] or [""]
    return shown


@pytest.mark.parametrize("case, words", [
    ("bomb", "1,006,997,509 parameters"), ("nan", "not finite"), ("float64", "dtype"), ("deep", "nested too deeply"),
    ("encrypted", "encrypted"), ("duplicates", "is in it twice"), ("pickle", "unexpected entry"),
])
def test_a_hostile_upload_gets_one_message(good, case, words, tmp_path):  # noqa: F811
    import torch
    from safetensors.torch import save as st_save
    _, blobs = good
    if case == "bomb":        # a 1 KB zip asking for a 4096 x 8 float64 lstm: refused before anything is built
        data = zip_of({k: v for k, v in with_config(blobs, lambda c: (
            c["model"].update(hidden_size=4096, num_layers=8), c["train"].update(dtype="float64"))).items()
            if k in ("config.json", "model.safetensors")})
    elif case in ("nan", "float64"):
        from safetensors.torch import load
        state = load(blobs["model.safetensors"])
        state = {k: v.double() for k, v in state.items()} if case == "float64" else \
            {k: torch.full_like(v, float("nan")) for k, v in state.items()}
        data = zip_of({**blobs, "model.safetensors": st_save(state)})
    elif case == "deep":
        data = zip_of({**blobs, "config.json": b"[" * 100_000 + b"]" * 100_000})
    elif case == "encrypted":
        raw = bytearray(zip_of(blobs))
        at = raw.find(b"PK\x01\x02")
        raw[at + 8] |= 1                     # the central directory says: encrypted
        data = bytes(raw)
    elif case == "duplicates":
        data = zip_of([("config.json", blobs["config.json"]), ("config.json", blobs["config.json"]),
                       ("model.safetensors", blobs["model.safetensors"])])
    else:
        data = zip_of({**blobs, "model.pkl": b"\x80\x04pickle"})
    at = app()
    shown = upload(at, f"{case}.zip", data)
    assert shown.startswith(f"`{case}.zip` was not added: ") and words in shown, shown
    assert "\n" not in shown.strip() and "Traceback" not in shown
    assert shown.count("rnnviz checkpoint") <= 1, shown    # not "is not a usable rnnviz checkpoint: the file
    #                                                        is not a readable rnnviz checkpoint zip: ..."
    assert not (tmp_path / "checkpoints" / "students" / owner(at)).exists()   # nothing was kept


def test_a_paste_of_thousands_of_distinct_characters_is_refused():
    at = app("text")
    at.selectbox(key="text.text.task.corpus").set_value("custom").run()
    at.text_area(key="text.text.task.text").input("".join(chr(0x4E00 + i) for i in range(20_000))).run()
    assert any("distinct characters" in e.value for e in at.error), [e.value for e in at.error]
    assert at.button(key="text.train").disabled and not at.exception


def test_a_hostile_link_is_left_out_with_a_note():
    at = app(query={"chars.hihell.model.hidden_size": "100000000", "chars.task": "no-such-task",
                    "chars.hihell.train.lr": "nan", "chars.hihell.model.nope": "1", "preset": "../../etc"})
    assert not at.exception
    assert at.radio(key="chars.task").value == "hihell"
    assert at.slider(key="chars.hihell.model.hidden_size").value == 5      # the default
    notes = " ".join(w.value for w in at.warning)
    assert "no preset called '../../etc'" in notes and "nope=1 (no such setting)" in notes
    assert runs_of(at, "chars") == {}                                      # nothing started


def test_the_progress_route_refuses_garbage():
    at = app()
    token = at.session_state["lab.identity"]
    for query, headers in [("ids=" + ",".join(["x" * 5000] * 200), [(b"x-rnnviz-id", token.encode())]),
                           ("ids=%00%ff&ids=", [(b"x-rnnviz-id", b"\xff\xfe")]),
                           ("", [])]:
        request = Request({"type": "http", "method": "GET", "path": progress.ROUTE, "query_string": query.encode(),
                           "headers": [(b"host", b"localhost:8501"), *headers]})
        response = asyncio.run(progress.endpoint(request))
        assert response.status_code == 200 and json.loads(response.body)["runs"] == {}
