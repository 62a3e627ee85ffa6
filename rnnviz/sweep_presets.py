"""Named sweeps: the grids the CLI (`sweep --preset NAME`) and the lab's sweep lesson offer."""

# The textbook memory experiment (Bengio et al. 1994; Hochreiter & Schmidhuber 1997): copy 3 symbols
# over a growing lag. Chosen by measurement on this machine (bench/README.md "Sweeps" has the table):
# at lag 40, hidden 64, lr 0.005 and forget bias 3 the lstm reaches 0.97-1.0 by epoch 60 for every seed
# (hidden 32, forget bias 1-2 or lr 0.01 left one seed in three at chance); the rnn, with Adam and
# clipping, stays below ~0.45 there but can start to learn one of the symbols after ~50 epochs, so
# more epochs blur the contrast; gru is the fastest learner and the slowest cell per epoch (~3x lstm).
PRESETS: dict[str, dict] = {
    "memory": {
        "task": "copy",
        "grid": {"cell": ["rnn", "lstm", "gru"], "lag": [5, 10, 20, 40], "seed": [0, 1, 2],
                 "length": [3], "hidden_size": [64], "lr": [0.005], "forget_bias": [3.0], "clip": [1.0]},
        "epochs": 60,
        "metric": "val_acc",
        "summary": "copy 3 symbols over lags 5-40: rnn vs lstm vs gru, 3 seeds each (~5 min on 2 cores)",
    },
}
