"""Labels of overlaid runs say what differs; a history's CSV keeps every digit."""
import csv
import io

from rnnviz.config import ModelConfig, TrainConfig
from rnnviz.differences import labels, settings_of
from rnnviz.export import COLUMNS, history_csv
from rnnviz.recorder import EpochRecord
from rnnviz.tasks import make_task


def test_labels_name_only_what_differs():
    a = settings_of(make_task("copy", lag=10), ModelConfig(cell="rnn"), TrainConfig(clip=0.0))
    b = settings_of(make_task("copy", lag=30), ModelConfig(cell="rnn"), TrainConfig(clip=1.0))
    assert labels([a, b]) == ["lag 10 · clip 0", "lag 30 · clip 1"]
    assert labels([a, b], ignore=("clip",)) == ["lag 10", "lag 30"]
    assert labels([a, a]) == ["run 1", "run 2"]
    c = settings_of(make_task("copy", lag=10), ModelConfig(cell="rnn"), TrainConfig(clip=0.0, init="orthogonal"))
    assert labels([a, c]) == ["init default", "init orthogonal"]


def test_history_csv_has_every_record_and_digit():
    recs = [EpochRecord(epoch=1, step=4, loss=0.5, grad_norm=3.6e-14, val_loss=None, lr=0.01),
            EpochRecord(epoch=2, step=8, loss=0.25, grad_norm=1e-30, val_acc=0.75, clipped=0.5)]
    rows = list(csv.DictReader(io.StringIO(history_csv({"rnn": recs, "lstm": recs[:1]}))))
    assert list(rows[0]) == list(COLUMNS) and len(rows) == 3
    assert [r["run"] for r in rows] == ["rnn", "rnn", "lstm"]
    assert float(rows[0]["grad_norm"]) == 3.6e-14 and float(rows[1]["grad_norm"]) == 1e-30
    assert rows[0]["val_loss"] == "" and float(rows[1]["val_acc"]) == 0.75 and rows[1]["epoch"] == "2"
