"""Lesson 2: tensor shapes. What nn.RNN, nn.LSTM and nn.GRU take and give, measured by running them on
the lecture's words; one-hot against embedding."""

from course import equations, shapes_view
from lab import page

lesson = page.lesson("shapes")
page.header(lesson)
equations.explain(
    "Before training anything: what goes in and what comes out. The lecture batches three words, "
    "*hello*, *eolll* and *lleel*: each letter becomes a one-hot vector of 4 numbers (h, e, l, o), each word "
    "a sequence of 5 of them, the batch a tensor of shape (3, 5, 4) — `batch_first=True` puts the batch "
    "first, the default puts time first. Pick the module and its sizes: the shapes of the output and of the "
    "final states `h_n` (and `c_n` of an LSTM) below are measured by running torch.nn's module itself. "
    "`bidirectional` doubles the output's features (D = 2) and the rows of `h_n`; `proj_size` shrinks the "
    "LSTM's h.",
    "rnn", "lstm")
shapes_view.show()
