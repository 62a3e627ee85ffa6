"""A catalogue of bad inputs: each gets a clear one-line message, nothing a user made is lost, and the
bombs stay small (peak RSS of the process that met them).

Sections: save targets, configs, model size, checkpoint files and zips, text files, non-finite numbers,
CLI (processes: tracebacks, exit codes, Ctrl-C, memory). CLI cases that are about the message only run
main() in this process; those about tracebacks, exit codes or memory run `python -m rnnviz`. App cases
(two sessions, uploads through the UI) belong in a section of their own at the end.
"""
import dataclasses
import io
import json
import math
import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save as st_save

from rnnviz import checkpoint as ck
from rnnviz import cli
from rnnviz.callbacks import Recorder
from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.engine import TorchEngine, build_model
from rnnviz.limits import MAX_PARAMS, check_model_size, weight_shapes
from rnnviz.tasks import make_task
from rnnviz.tasks.text import MAX_VOCAB, read_text_file
from rnnviz.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
MAX_RSS_MB = 600        # python + torch alone is ~230 MB


# ---- helpers ---------------------------------------------------------------------------------
@dataclasses.dataclass
class Ran:
    rc: int
    out: str
    err: str
    rss_mb: float       # the rnnviz process's peak resident memory


# A small launcher starts rnnviz and reports its peak RSS: a process started straight from pytest would
# count pytest's own pages (mapped until exec) in its ru_maxrss. It forwards Ctrl-C and the exit code.
LAUNCH = """
import os, signal, subprocess, sys
p = subprocess.Popen([sys.executable, "-m", "rnnviz", *sys.argv[2:]])
signal.signal(signal.SIGINT, lambda *_: p.send_signal(signal.SIGINT))
_, status, usage = os.wait4(p.pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def run_cli(*args, timeout=120, env=None, on_start=None) -> Ran:
    """`python -m rnnviz ARGS` in its own process, with its peak RSS."""
    rss_file = Path(os.environ.get("TMPDIR", "/tmp")) / f"rnnviz-rss-{os.getpid()}-{threading.get_ident()}"
    p = subprocess.Popen([sys.executable, "-c", LAUNCH, rss_file, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    killer = threading.Timer(timeout, p.kill)
    killer.start()
    try:
        if on_start is not None:
            on_start(p)
        out, err = p.communicate()
    finally:
        killer.cancel()
    rss_kb = float(rss_file.read_text()) if rss_file.exists() else math.nan   # nan: killed (timeout)
    rss_file.unlink(missing_ok=True)
    return Ran(p.returncode, out, err, rss_kb / 1024)


def one_line_error(r: Ran, *words) -> None:
    assert r.rc not in (0, None), r.out
    assert "Traceback" not in r.err, r.err
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rnnviz: error: "), r.err
    for w in words:
        assert w in lines[0], lines[0]


def main_error(capsys, *args, words=()) -> str:
    """cli.main in this process: exit code 1 and one line `rnnviz: error: ...` naming `words`."""
    rc = cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    one_line_error(Ran(rc, "", err, 0), *words)
    return err


class UserFiles:
    """A folder of someone's work, and whether it is all still there."""

    def __init__(self, path: Path):
        self.path = path
        (path / "sub").mkdir(parents=True)
        (path / "thesis.txt").write_text("three years of work")
        (path / "sub" / "data.csv").write_text("1,2,3")

    def untouched(self) -> bool:
        return ((self.path / "thesis.txt").read_text() == "three years of work"
                and (self.path / "sub" / "data.csv").read_text() == "1,2,3")


@pytest.fixture
def user_files(tmp_path):
    return UserFiles(tmp_path / "mywork")


def small_run(seed=1, epochs=3):
    task = make_task("hihell")
    m, t = ModelConfig(cell="lstm", hidden_size=4), TrainConfig(epochs=epochs, seed=seed)
    rec = Recorder()
    tr = Trainer(task, m, t, [rec])
    tr.run()
    return task, m, t, tr.engine.state_dict(), rec.history


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """A small saved checkpoint and its files as bytes."""
    path = ck.save(tmp_path_factory.mktemp("good") / "ck", *small_run())
    return path, ck.from_zip(ck.to_zip(path))


def with_config(blobs, edit) -> dict:
    cfg = json.loads(blobs["config.json"])
    edit(cfg)
    return {**blobs, "config.json": json.dumps(cfg).encode()}


def zip_of(entries, method=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries.items() if isinstance(entries, dict) else entries:
            z.writestr(name, data)
    return buf.getvalue()


ZIP_ERROR = "not a readable rnnviz checkpoint zip"


# ---- where a save may write ------------------------------------------------------------------
def test_save_refuses_a_folder_of_user_files(good, user_files):
    task, m, t, sd, h = small_run()
    with pytest.raises(ck.CheckpointError, match="not part of an rnnviz checkpoint"):
        ck.save(user_files.path, task, m, t, sd, h, replace=True)
    assert user_files.untouched()


def test_save_refuses_a_file(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("mine")
    with pytest.raises(ck.CheckpointError, match="not a checkpoint directory"):
        ck.save(f, *small_run(), replace=True)
    assert f.read_text() == "mine"


def test_save_refuses_a_symlink(tmp_path, user_files):
    link = tmp_path / "link"
    link.symlink_to(user_files.path)
    with pytest.raises(ck.CheckpointError):
        ck.save(link, *small_run(), replace=True)
    assert user_files.untouched() and link.is_symlink()


def test_an_existing_checkpoint_is_replaced_only_when_asked(tmp_path):
    first, second = small_run(seed=1), small_run(seed=2)
    path = ck.save(tmp_path / "ck", *first)
    with pytest.raises(ck.CheckpointError, match="--force"):
        ck.save(path, *second)
    assert torch.equal(ck.load(path).state_dict["head.bias"], first[3]["head.bias"])
    ck.save(path, *second, replace=True)
    assert torch.equal(ck.load(path).state_dict["head.bias"], second[3]["head.bias"])
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]     # no temporary or old directory left


def test_a_checkpoint_holding_a_user_file_is_not_replaced(tmp_path):
    path = ck.save(tmp_path / "ck", *small_run())
    (path / "notes.txt").write_text("my notes")
    with pytest.raises(ck.CheckpointError, match="notes.txt"):
        ck.save(path, *small_run(seed=2), replace=True)
    assert (path / "notes.txt").read_text() == "my notes"


def test_save_into_an_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    assert ck.load(ck.save(tmp_path / "empty", *small_run())).model_cfg.hidden_size == 4


def test_save_new_never_reuses_a_name(tmp_path):
    runs = [small_run(seed=s) for s in (1, 2)]
    a = ck.save_new(tmp_path, "run", *runs[0])
    b = ck.save_new(tmp_path, "run", *runs[1])
    assert (a.name, b.name) == ("run", "run-2")
    assert torch.equal(ck.load(a).state_dict["head.bias"], runs[0][3]["head.bias"])
    got, errors = [], []

    def one():
        try:
            got.append(ck.save_new(tmp_path, "same-second", *runs[0]).name)
        except Exception as e:  # noqa: BLE001 - the test reports it
            errors.append(e)
    threads = [threading.Thread(target=one) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and len(set(got)) == 6


@pytest.mark.parametrize("stem", ["", "..", "a/b", ".hidden"])
def test_save_new_refuses_a_name_that_is_not_a_plain_name(tmp_path, stem):
    with pytest.raises(ValueError, match="plain file name"):
        ck.save_new(tmp_path, stem, *small_run())


@pytest.mark.parametrize("where", ["file/ck", "/proc/self/ck"])
def test_check_writable_refuses_impossible_paths(tmp_path, where):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ck.CheckpointError, match="cannot write"):
        ck.check_writable(tmp_path / where if not where.startswith("/") else where)


# ---- configs: types and ranges, once, when made -------------------------------------------------
@pytest.mark.parametrize("cls,kw,msg", [
    (ModelConfig, {"hidden_size": "16"}, "whole number"),
    (ModelConfig, {"hidden_size": 16.5}, "whole number"),
    (ModelConfig, {"hidden_size": 16.0}, "whole number"),   # strict: JSON 16.0 is not an integer field
    (ModelConfig, {"num_layers": [2]}, "whole number"),
    (ModelConfig, {"head": "yes"}, "true or false"),
    (ModelConfig, {"peephole": 1}, "true or false"),
    (ModelConfig, {"cell": 5}, "text"),
    (ModelConfig, {"dropout": float("nan")}, "finite"),
    (ModelConfig, {"embedding_dim": 10**9}, "embedding_dim"),
    (TrainConfig, {"clip": float("nan")}, "finite"),
    (TrainConfig, {"weight_decay": float("nan")}, "finite"),
    (TrainConfig, {"lr": float("inf")}, "finite"),
    (TrainConfig, {"forget_bias": float("-inf")}, "finite"),
    (TrainConfig, {"weight_decay": -0.1}, "weight_decay"),
    (TrainConfig, {"seed": -1}, "seed"),
    (TrainConfig, {"carry_state": "false"}, "true or false"),
])
def test_config_fields_are_checked_when_made(cls, kw, msg):
    with pytest.raises(ValueError, match=msg):
        cls(**kw)
    with pytest.raises(ValueError, match=msg):   # replace() makes a new one: checked too
        dataclasses.replace(cls(), **kw)


def test_config_numbers_are_normalised():
    m = ModelConfig(hidden_size=np.int64(8), dropout=0)
    assert type(m.hidden_size) is int and type(m.dropout) is float and m == ModelConfig(hidden_size=8)


@pytest.mark.parametrize("task,kw", [("sine", {"seq_len": "20"}), ("text", {"val_frac": "0.1"}),
                                     ("copy", {"lag": None}), ("anbn", {"seed": 4.0}), ("sine", {"freq": float("nan")})])
def test_task_options_of_the_wrong_type_are_value_errors(task, kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        make_task(task, **kw)


# ---- model size, from the config alone ---------------------------------------------------------
@pytest.mark.parametrize("cell,layers,emb,head,peep", [
    ("rnn", 1, 0, True, False), ("lstm", 2, 3, True, False), ("gru", 3, 0, True, False),
    ("lstm", 2, 0, True, True), ("rnn", 1, 0, False, False), ("gru", 1, 4, False, False)])
def test_weight_shapes_are_those_of_the_built_model(cell, layers, emb, head, peep):
    task = make_task("hihell")     # vocabulary 5
    m = ModelConfig(cell=cell, num_layers=layers, embedding_dim=emb, head=head, peephole=peep,
                    hidden_size=5 if not head else 7)
    built = {k: tuple(v.shape) for k, v in build_model(task, m, TrainConfig()).state_dict().items()}
    assert list(weight_shapes(m, 5, 5, True).items()) == list(built.items())


def test_the_largest_benchmark_model_fits_and_a_huge_one_is_refused_before_allocating():
    text = make_task("text", max_chars=100_000)
    assert check_model_size(text, ModelConfig(cell="lstm", hidden_size=512, num_layers=2), TrainConfig()) < MAX_PARAMS
    with pytest.raises(ValueError, match="parameters"):
        build_model(text, ModelConfig(hidden_size=4096, num_layers=8), TrainConfig(dtype="float64"))


def test_model_size_limit_comes_from_the_environment(tmp_path):
    r = run_cli("train", "--task", "hihell", "--quiet", "--out", tmp_path / "ck", env={"RNNVIZ_MAX_PARAMS": "50"})
    one_line_error(r, "90 parameters", "50")   # hihell's rnn of 5 units has 90
    assert not (tmp_path / "ck").exists()


def test_cli_huge_model_fails_at_once_in_little_memory(tmp_path):
    r = run_cli("train", "--task", "text", "--hidden", "4096", "--layers", "8", "--dtype", "float64",
                "--out", tmp_path / "ck")
    one_line_error(r, "parameters", "hidden_size")
    assert r.rss_mb < MAX_RSS_MB and not (tmp_path / "ck").exists()


def test_cli_embedding_is_bounded(capsys, tmp_path):
    main_error(capsys, "train", "--task", "words", "--embedding", "1000000000", "--out", tmp_path / "ck",
               words=["embedding_dim"])


# ---- checkpoint files ---------------------------------------------------------------------------
def test_a_small_config_asking_for_a_huge_model_is_refused_before_allocating(good, tmp_path):
    path, blobs = good
    bomb = with_config(blobs, lambda c: (c["model"].update(hidden_size=4096, num_layers=8),
                                         c["train"].update(dtype="float64")))
    data = zip_of({k: bomb[k] for k in ("config.json", "model.safetensors")})
    assert len(data) < 4000
    with pytest.raises(ck.CheckpointError, match="parameters"):
        ck.from_bytes(ck.from_zip(data))
    (tmp_path / "bomb.zip").write_bytes(data)
    r = run_cli("probe", "--checkpoint", tmp_path / "bomb.zip")
    one_line_error(r, "parameters")
    assert r.rss_mb < MAX_RSS_MB


@pytest.mark.parametrize("edit,msg", [
    (lambda c: c["model"].update(hidden_size="16"), "whole number"),
    (lambda c: c["model"].update(hidden_size=[16]), "whole number"),
    (lambda c: c.update(task=5), "task"),
    (lambda c: c["task"].update(options=[1]), "options"),
    (lambda c: c.update(model=None), "the model entry"),
    (lambda c: c.update(bugs=5), "bugs"),
    (lambda c: c.update(run=["x"]), "run"),
    (lambda c: c.update(optimizer_state=[]), "optimizer_state"),
    (lambda c: c["task"].update(vocab="hieol"), "vocabulary"),
    (lambda c: c.pop("model"), "'model'"),
])
def test_config_json_of_the_wrong_shape_is_a_checkpoint_error(good, edit, msg):
    with pytest.raises(ck.CheckpointError, match=msg):
        ck.from_bytes(with_config(good[1], edit))


@pytest.mark.parametrize("text", [b"[1, 2]", b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe", b"{\"task\": 5"])
def test_config_json_that_is_not_a_config(good, text):
    with pytest.raises(ck.CheckpointError, match="config.json"):
        ck.from_bytes({**good[1], "config.json": text})


def test_list_runs_lists_malformed_configs_as_unreadable(good, tmp_path):
    ck.save(tmp_path / "fine", *small_run())
    for name, text in [("list", "[1]"), ("task5", json.dumps({"task": 5, "model": {}})),
                       ("deep", "[" * 100_000 + "]" * 100_000), ("hidden", json.dumps(
                           {"task": {"name": "x"}, "model": {"cell": "lstm", "hidden_size": "16", "num_layers": 1}}))]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(text)
    runs = {r["name"]: r for r in ck.list_runs(tmp_path)}
    assert runs["fine"]["hidden"] == 4 and "error" not in runs["fine"]
    for name in ("list", "task5", "deep", "hidden"):
        assert runs[name]["error"], name


def _weights(good, edit) -> dict:
    blobs = good[1]
    sd = ck.from_bytes(blobs).state_dict
    return {**blobs, "model.safetensors": st_save(edit(dict(sd)))}


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(good, value, tmp_path, capsys):
    blobs = _weights(good, lambda sd: {**sd, "head.bias": torch.full_like(sd["head.bias"], value)})
    with pytest.raises(ck.CheckpointError, match="not finite"):
        ck.from_bytes(blobs)
    (tmp_path / "nan.zip").write_bytes(zip_of(blobs))
    main_error(capsys, "sample", "--checkpoint", tmp_path / "nan.zip", "--prime", "h", words=["not finite"])


def test_weights_of_another_dtype_are_refused_not_cast(good):
    blobs = _weights(good, lambda sd: {k: v.double() for k, v in sd.items()})
    with pytest.raises(ck.CheckpointError, match="F64.*float32|F32"):
        ck.from_bytes(blobs)


def test_a_safetensors_header_that_does_not_fit_is_refused(good):
    blob = good[1]["model.safetensors"]
    header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])
    header["head.bias"]["shape"] = [10**12]          # claims a terabyte
    raw = json.dumps(header).encode()
    with pytest.raises(ck.CheckpointError, match="does not match its shape|head.bias"):
        ck.from_bytes({**good[1], "model.safetensors": len(raw).to_bytes(8, "little") + raw + blob[8 + len(raw):]})
    with pytest.raises(ck.CheckpointError, match="header length"):
        ck.from_bytes({**good[1], "model.safetensors": (2**40).to_bytes(8, "little") + blob[8:]})


def test_history_json_of_the_wrong_types(good):
    h = json.loads(good[1]["history.json"])
    h["records"][0]["loss"] = "low"
    with pytest.raises(ck.CheckpointError, match="loss"):
        ck.from_bytes({**good[1], "history.json": json.dumps(h).encode()})
    many = {"records": [{"epoch": 1, "step": 1, "loss": 0.5}] * 20_000}
    with pytest.raises(ck.CheckpointError, match="records"):
        ck.from_bytes({**good[1], "history.json": json.dumps(many).encode()})


# ---- zips ----------------------------------------------------------------------------------------
def test_a_zip_in_a_folder_with_macos_extras_is_read(good):
    blobs = good[1]
    data = zip_of({**{f"run/{k}": v for k, v in blobs.items()}, "__MACOSX/run/._config.json": b"x",
                   "run/.DS_Store": b"x"})
    assert ck.from_bytes(ck.from_zip(data)).model_cfg.hidden_size == 4


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("entries,msg", [
    ([("config.json", b"{}"), ("config.json", b"{}")], "twice"),
    ([("config.json", b"{}"), ("model.safetensors", b""), ("evil.py", b"import os")], "unexpected entry"),
    ([("a/config.json", b"{}"), ("b/model.safetensors", b"")], "more than one folder"),
    ([("config.json", b"{}"), ("../config.json", b"{}"), ("model.safetensors", b"")], "unexpected entry"),
    ([("model.pt", b"pickle"), ("config.json", b"{}")], "no model.safetensors"),
    ([(f"d{i}/config.json", b"{}") for i in range(100)], "100 entries"),
])
def test_zip_entries_that_a_checkpoint_does_not_have(entries, msg):
    with pytest.raises(ck.CheckpointError, match=msg):
        ck.from_zip(zip_of(entries))


def _patch(data: bytes, find: bytes, offset: int, fmt: str, value) -> bytes:
    """Overwrite a field at `offset` of every record that starts with signature `find`."""
    out, at = bytearray(data), data.find(find)
    while at >= 0:
        struct.pack_into(fmt, out, at + offset, value)
        at = data.find(find, at + 1)
    return bytes(out)


LOCAL, CENTRAL = b"PK\x03\x04", b"PK\x01\x02"


def test_damaged_zips_all_give_the_same_message(good):
    data = zip_of(good[1], method=zipfile.ZIP_STORED)
    at = data.find(b"rnnviz")                                                 # inside model.safetensors
    cases = {
        "bad crc": data[:at] + b"X" + data[at + 1:],
        "truncated": data[:len(data) // 2],
        "encrypted": _patch(data, CENTRAL, 8, "<H", 0x1),
        "bzip2": zip_of(good[1], method=zipfile.ZIP_BZIP2),
        "unknown method": _patch(_patch(data, CENTRAL, 10, "<H", 99), LOCAL, 8, "<H", 99),
        "garbage": b"PK\x05\x06" + os.urandom(30),
    }
    for why, bad in cases.items():
        with pytest.raises(ck.CheckpointError, match=ZIP_ERROR):
            ck.from_zip(bad)
        assert why


def test_a_zip_announcing_many_entries_is_refused_before_parsing():
    data = _patch(zip_of({"config.json": b"{}"}), b"PK\x05\x06", 10, "<H", 60_000)
    with pytest.raises(ck.CheckpointError, match="60,000 entries"):
        ck.from_zip(data)


def test_zip_bombs_stay_small(tmp_path):
    """An entry that inflates past its limit, and one whose header claims less than it holds."""
    big = zip_of({"config.json": b"{}", "model.safetensors": b"", "history.json": b" " * (60 * 2**20)})
    liar = zip_of({"config.json": b" " * (200 * 2**20), "model.safetensors": b""})   # both claim 1 MB:
    liar = _patch(_patch(liar, LOCAL, 22, "<L", 2**20), CENTRAL, 24, "<L", 2**20)
    assert len(big) < 200_000 and len(liar) < 400_000
    with pytest.raises(ck.CheckpointError, match="larger than"):
        ck.from_zip(big)
    with pytest.raises(ck.CheckpointError, match=ZIP_ERROR):
        ck.from_zip(liar)
    (tmp_path / "liar.zip").write_bytes(liar)
    r = run_cli("probe", "--checkpoint", tmp_path / "liar.zip")
    one_line_error(r, ZIP_ERROR)
    assert r.rss_mb < MAX_RSS_MB


# ---- text files and texts -------------------------------------------------------------------------
def test_a_text_of_many_distinct_characters_is_refused(tmp_path):
    cjk = "".join(chr(0x4E00 + i) for i in range(20_000)) * 3
    with pytest.raises(ValueError, match=f"limit is {MAX_VOCAB}"):
        make_task("text", corpus="custom", text=cjk, max_chars=60_000)
    (tmp_path / "cjk.txt").write_text(cjk, encoding="utf-8")
    r = run_cli("train", "--task", "text", "--text-file", tmp_path / "cjk.txt", "--max-chars", "60000",
                "--out", tmp_path / "ck")
    one_line_error(r, "distinct characters")
    assert r.rss_mb < MAX_RSS_MB


@pytest.mark.parametrize("make,msg", [
    (lambda p: p.write_bytes(bytes(range(256)) * 100), "not UTF-8"),
    (lambda p: p.mkdir(), "not a regular file"),
    (lambda p: os.mkfifo(p), "not a regular file"),      # opened without waiting for a writer
])
def test_text_files_that_are_not_text(tmp_path, make, msg):
    """(A file with NUL is refused by the text task, as any text: tests/test_bad_inputs_text.py.)"""
    make(tmp_path / "t")
    with pytest.raises(ValueError, match=msg):
        read_text_file(tmp_path / "t")


def test_devices_and_huge_text_files_are_refused_without_reading_them(tmp_path):
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(50 * 2**20)          # sparse: 50 MB of NULs
    for src, msg in ((huge, "larger than"), ("/dev/zero", "not a regular file")):
        r = run_cli("train", "--task", "text", "--text-file", src, "--out", tmp_path / "ck")
        one_line_error(r, msg)
        assert r.rss_mb < MAX_RSS_MB


def test_text_file_only_for_the_text_task(capsys, tmp_path):
    (tmp_path / "t.txt").write_text("hello " * 100)
    main_error(capsys, "train", "--task", "hihell", "--text-file", tmp_path / "t.txt", "--out", tmp_path / "c",
               words=["text task"])


def test_a_private_text_makes_a_private_checkpoint(tmp_path):
    src = tmp_path / "diary.txt"
    src.write_text("dear diary, " * 200)
    src.chmod(0o600)
    out = tmp_path / "ck"
    assert cli.main(["train", "--task", "text", "--text-file", str(src), "--steps", "2", "--hidden", "4",
                     "--seq-len", "8", "--batch-size", "2", "--quiet", "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o600}


def test_an_ordinary_checkpoint_stays_shareable(tmp_path):
    path = ck.save(tmp_path / "ck", *small_run())
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert all(p.stat().st_mode & stat.S_IROTH for p in path.iterdir())


# ---- non-finite numbers ---------------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--weight-decay", "--clip", "--lr", "--forget-bias", "--dropout"])
def test_cli_nan_options_are_refused(capsys, tmp_path, flag):
    main_error(capsys, "train", "--task", "hihell", flag, "nan", "--out", tmp_path / "ck", words=["finite"])
    assert not (tmp_path / "ck").exists()


def test_non_finite_weights_are_never_the_last_good_ones():
    task, m, t, sd, _ = small_run()
    eng = TorchEngine(task, m, t)
    assert eng.mark_good()
    good = eng.state_dict()
    with torch.no_grad():
        eng.model.head.bias.fill_(float("nan"))
    assert not eng.mark_good()
    eng.restore_good()
    assert all(torch.equal(v, good[k]) for k, v in eng.state_dict().items())


def test_a_run_whose_weights_become_nan_stops_with_finite_weights():
    task = make_task("hihell")
    tr = Trainer(task, ModelConfig(cell="rnn", hidden_size=5), TrainConfig(epochs=10))
    step = tr.engine.train_step

    def poisoned(batch, *a, **k):   # a finite loss, then an update that leaves NaN weights
        res = step(batch, *a, **k)
        if tr.step >= 3:
            with torch.no_grad():
                tr.engine.model.head.weight.fill_(float("nan"))
        return res
    tr.engine.train_step = poisoned
    assert tr.run() == "diverged" and "NaN or infinite" in tr.reason
    assert all(bool(torch.isfinite(v).all()) for v in tr.engine.state_dict().values())


def test_save_refuses_non_finite_weights(tmp_path):
    task, m, t, sd, h = small_run()
    with pytest.raises(ck.CheckpointError, match="not all finite"):
        ck.save(tmp_path / "ck", task, m, t, {**sd, "head.bias": sd["head.bias"] * math.inf}, h)
    assert not (tmp_path / "ck").exists()


# ---- the CLI: processes -----------------------------------------------------------------------------
def test_cli_train_out_never_replaces_user_files(user_files, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    for target in (user_files.path, notes):
        r = run_cli("train", "--task", "hihell", "--epochs", "5", "--out", target, "--force")
        one_line_error(r, "rnnviz does not replace it")
        assert "epoch" not in r.out            # refused before training
    assert user_files.untouched() and notes.read_text() == "mine"


def test_cli_train_replaces_a_checkpoint_only_with_force(tmp_path):
    out = tmp_path / "ck"
    assert run_cli("train", "--task", "hihell", "--epochs", "3", "--quiet", "--out", out).rc == 0
    r = run_cli("train", "--task", "hihell", "--epochs", "3", "--quiet", "--out", out)
    one_line_error(r, "--force")
    r = run_cli("train", "--task", "hihell", "--epochs", "4", "--quiet", "--force", "--out", out)
    assert r.rc == 0 and "replaced the checkpoint" in r.out
    assert json.loads((out / "config.json").read_text())["epochs_done"] == 4


def test_cli_unwritable_out_fails_before_training(tmp_path):
    (tmp_path / "file").write_text("x")
    r = run_cli("train", "--task", "seoul", "--epochs", "100000", "--out", tmp_path / "file" / "ck", timeout=60)
    one_line_error(r, "cannot write")


def test_cli_ctrl_c_saves_the_run_so_far(tmp_path):
    out = tmp_path / "ck"

    def interrupt_when_training(p):
        first = p.stdout.readline()             # the first progress line: training has begun
        assert first.startswith("epoch"), first
        p.send_signal(signal.SIGINT)
    r = run_cli("train", "--task", "seoul", "--epochs", "20000", "--probe-every", "100", "--out", out,
                on_start=interrupt_when_training, env={"PYTHONUNBUFFERED": "1"})   # a line every 800 epochs
    assert r.rc == 130 and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1 and "saved in" in r.err
    got = ck.load(out)
    assert got.config["status"] == "stopped" and got.config["steps_done"] > 0 and got.history.records
    assert got.optimizer is not None           # stopped between two steps: resumes exactly


def test_cli_tracebacks_never_escape(tmp_path, good):
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    (deep / "model.safetensors").write_bytes(good[1]["model.safetensors"])
    (tmp_path / "enc.zip").write_bytes(_patch(zip_of(good[1]), CENTRAL, 8, "<H", 0x1))
    for args, words in [(["probe", "--checkpoint", deep], ["nested too deeply"]),
                        (["sample", "--checkpoint", tmp_path / "enc.zip"], ["encrypted"])]:
        one_line_error(run_cli(*args), *words)


def test_probe_and_sample_read_a_shared_zip_as_the_directory(good, tmp_path):
    path, blobs = good
    (tmp_path / "shared.zip").write_bytes(ck.to_zip(path))
    r_dir = run_cli("probe", "--checkpoint", path)
    r_zip = run_cli("probe", "--checkpoint", tmp_path / "shared.zip")
    assert r_dir.rc == r_zip.rc == 0 and r_dir.out == r_zip.out and json.loads(r_zip.out)["task"] == "hihell"
    s = run_cli("sample", "--checkpoint", tmp_path / "shared.zip", "--prime", "h", "--length", "20")
    assert s.rc == 0 and s.out.startswith("h") and len(s.out.strip()) == 21


def test_a_zip_entry_claiming_more_than_its_limit_is_refused_unread():
    data = _patch(_patch(zip_of({"config.json": b"{}"}), LOCAL, 22, "<L", 100 * 2**20), CENTRAL, 24, "<L", 100 * 2**20)
    with pytest.raises(ck.CheckpointError, match="config.json in the zip is larger than"):
        ck.from_zip(data)


# ---- the app (sessions, uploads through the UI): cases to come ----------------------------------------
