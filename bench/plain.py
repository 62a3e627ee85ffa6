"""The course's plain PyTorch loops (seeds 001-004), as a student would type them from the decks.

Each function trains a torch.nn model with the SAME settings as the rnnviz run it is compared with
(cell, hidden size, layers, lr, epochs or steps, batches) and starts from the SAME initial weights
(`init` is the state_dict of rnnviz's model, whose names torch.nn shares; only `head.` becomes
`linear.`), so both runs do the same arithmetic and end at (nearly) the same loss. What the course
prints every epoch (loss, the argmax prediction as a string) is computed and printed to `sink`
(an in-memory file: the terminal is not what we measure).

Every loop is a generator: it builds its model and optimizer, yields once ("ready"), then yields once
after every optimizer step (whatever the course does between steps, printing, validating, belongs to
the step before the yield), and finally returns {"loss": last loss, ...}. So a driver can run it in
lockstep with rnnviz's Trainer (bench.core) or alone (`drain`).
"""
from __future__ import annotations

import io
from typing import Iterator

import numpy as np
import torch
from torch import nn

from .util import clock, elapsed

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM}


class Net(nn.Module):
    """nn.RNN / nn.LSTM (batch_first) + nn.Linear, the course's model (decks 002, 003, 004)."""

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int, num_layers: int = 1):
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.rnn = CELLS[cell](input_size, hidden_size, num_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, output_size)

    def forward(self, x, hidden=None):
        outputs, hidden = self.rnn(x, hidden)
        return self.linear(outputs), hidden


def build(cell, input_size, hidden_size, output_size, num_layers=1, init=None) -> Net:
    net = Net(cell, input_size, hidden_size, output_size, num_layers)
    if init is not None:
        net.load_state_dict({k.replace("head.", "linear."): v.clone() for k, v in init.items()})
    return net


def sentence(task, epochs: int, lr: float, cell: str, hidden: int, init=None, sink=None) -> Iterator:
    """hihell (deck 001) / seoul (deck 002): one sentence, one-hot input, CrossEntropyLoss, Adam;
    every epoch the argmax prediction becomes a string and is printed."""
    sink = sink if sink is not None else io.StringIO()
    char_set = task.vocab
    char_dic = {c: i for i, c in enumerate(char_set)}
    vocab_sz = len(char_dic)
    sen_idx = [char_dic[c] for c in task.sentence]
    x_idx = sen_idx[:-1]
    x_one_hot = [[np.eye(vocab_sz)[x] for x in x_idx]]
    y_data = [sen_idx[1:]]
    x_train = torch.FloatTensor(np.array(x_one_hot))
    y_train = torch.LongTensor(y_data)
    model = build(cell, vocab_sz, hidden, vocab_sz, 1, init)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    yield "ready"
    for epoch in range(epochs):
        model.train()
        outputs, _ = model(x_train)
        loss = criterion(outputs.view(-1, vocab_sz), y_train.view(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        result = outputs.data.numpy().argmax(axis=2)
        result_str = "".join([char_set[idx] for idx in np.squeeze(result, 0)])
        print("epoch: {} loss : {} prediction : {}".format(epoch + 1, loss.item(), result_str), file=sink)
        yield epoch
    return {"loss": loss.item(), "prediction": result_str}


def sine(task, epochs: int, lr: float, hidden: int, init=None, sink=None) -> Iterator:
    """Deck 003's time series: a new window per step from np.linspace/np.sin, MSELoss, Adam, the hidden
    state carried as hidden.data; an epoch = the task's n_windows consecutive windows (hidden reset at
    its start, as rnnviz does); the prediction is printed (instead of plotted) once per epoch."""
    sink = sink if sink is not None else io.StringIO()
    seq_length, n_steps = task.options.seq_len, task.options.n_windows
    rnn = build("rnn", 1, hidden, 1, 1, init)
    criterion = nn.MSELoss()
    optimizer = torch.optim.Adam(rnn.parameters(), lr=lr)
    yield "ready"
    for epoch in range(epochs):
        hidden_state = None
        for step in range(n_steps):
            time_steps = np.linspace(step * np.pi, (step + 1) * np.pi, seq_length + 1)
            data = np.sin(task.options.freq * time_steps)
            data.resize((seq_length + 1, 1))
            x, y = data[:-1], data[1:]
            x_tensor = torch.Tensor(x).unsqueeze(0)
            y_tensor = torch.Tensor(y).unsqueeze(0)
            prediction, hidden_state = rnn(x_tensor, hidden_state)
            hidden_state = hidden_state.data
            loss = criterion(prediction, y_tensor)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step == n_steps - 1:
                print("epoch", epoch + 1, "loss", loss.item(), prediction.data.numpy().flatten(), file=sink)
            yield step
    return {"loss": loss.item()}


def anbn(task, epochs: int, lr: float, hidden: int, seed: int = 0, init=None, sink=None) -> Iterator:
    """Deck 004's a^n b^n a^n loop with the task's own padded batches (same order: the same rng as the
    Trainer), one-hot input, CrossEntropyLoss(ignore_index=-100), Adam; validation every epoch as the
    deck does; the argmax prediction of row 0 of the last batch printed per epoch."""
    sink = sink if sink is not None else io.StringIO()
    V = len(task.vocab)
    net = build("lstm", V, hidden, V, 1, init)
    criterion = nn.CrossEntropyLoss(ignore_index=-100)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    val = task.val_batches()
    yield "ready"
    for epoch in range(1, epochs + 1):
        epoch_training_loss = epoch_validation_loss = 0.0
        net.eval()
        with torch.no_grad():
            for b in val:
                outputs, _ = net(nn.functional.one_hot(b.x, V).float())
                epoch_validation_loss += criterion(outputs.view(-1, V), b.y.view(-1)).item()
        net.train()
        batches = list(task.train_batches(epoch, rng))
        for i, b in enumerate(batches):
            optimizer.zero_grad()
            outputs, _ = net(nn.functional.one_hot(b.x, V).float())
            loss = criterion(outputs.view(-1, V), b.y.view(-1))
            loss.backward()
            optimizer.step()
            epoch_training_loss += loss.item()
            if i == len(batches) - 1:
                pred = outputs[0].argmax(-1).tolist()
                print(f"epoch {epoch}: train {epoch_training_loss / len(batches):.4f} "
                      f"val {epoch_validation_loss / max(len(val), 1):.4f} {' '.join(task.vocab[i] for i in pred)}",
                      file=sink)
            yield i
    return {"loss": loss.item()}


# ---- deck 003's char-RNN ----------------------------------------------------------------------------
def one_hot_encode(arr, n_labels):
    one_hot = np.zeros((arr.size, n_labels), dtype=np.float32)
    one_hot[np.arange(one_hot.shape[0]), arr.flatten()] = 1.0
    return one_hot.reshape((*arr.shape, n_labels))


def get_batches(arr, batch_size, seq_length):
    """The deck's generator, with rnnviz's last column (the real next char, not a wrap-around)."""
    batch_size_total = batch_size * seq_length
    n_batches = (len(arr) - 1) // batch_size_total
    used = n_batches * batch_size_total
    xs, ys = arr[:used].reshape((batch_size, -1)), arr[1:used + 1].reshape((batch_size, -1))
    for n in range(0, xs.shape[1], seq_length):
        yield xs[:, n:n + seq_length], ys[:, n:n + seq_length]


def char_rnn(task, hidden: int, layers: int, lr: float, clip: float, steps: int, print_every: int = 10,
             init=None, sink=None) -> Iterator:
    """Deck 003's train(): numpy one-hot, h = tuple(each.data), clip_grad_norm_, Adam, and a full
    validation pass every print_every steps, for `steps` optimizer steps."""
    sink = sink if sink is not None else io.StringIO()
    o = task.options
    batch_size, seq_length, n_chars = o.batch_size, o.seq_len, len(task.vocab)
    model = build("lstm", n_chars, hidden, n_chars, layers, init)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.CrossEntropyLoss()
    val_rows = max(1, min(batch_size, (len(task.val_ids) - 1) // seq_length))

    def init_hidden(bs):
        w = next(model.parameters()).data
        return (w.new(layers, bs, hidden).zero_(), w.new(layers, bs, hidden).zero_())

    counter, total = 0, steps
    yield "ready"
    while counter < total:
        h = init_hidden(batch_size)
        for x, y in get_batches(task.train_ids, batch_size, seq_length):
            counter += 1
            x = one_hot_encode(x, n_chars)
            inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
            h = tuple([each.data for each in h])
            model.zero_grad()
            output, h = model(inputs, h)
            loss = criterion(output.reshape(-1, n_chars), targets.reshape(batch_size * seq_length))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            if counter % print_every == 0:
                val_h = init_hidden(val_rows)
                val_losses = []
                model.eval()
                with torch.no_grad():
                    for vx, vy in get_batches(task.val_ids, val_rows, seq_length):
                        vx = one_hot_encode(vx, n_chars)
                        vx, vy = torch.from_numpy(vx), torch.from_numpy(vy)
                        val_h = tuple([each.data for each in val_h])
                        out, val_h = model(vx, val_h)
                        val_losses.append(criterion(out.reshape(-1, n_chars), vy.reshape(-1)).item())
                model.train()
                print(f"Step: {counter}... Loss: {loss.item():.4f}... Val Loss: {np.mean(val_losses):.4f}",
                      file=sink)
            yield counter
            if counter >= total:
                break
    return {"loss": loss.item()}


def drain(gen, skip: int = 0) -> dict:
    """Run a loop alone: {"seconds", "cpu"} of its steps after the first `skip` ones, "steps", "loss"."""
    next(gen)                               # build the model: not timed
    n, t0 = 0, clock()
    try:
        while True:
            next(gen)
            n += 1
            if n == skip:
                t0 = clock()
    except StopIteration as stop:
        return {**elapsed(t0), "steps": n - skip, **(stop.value or {})}
