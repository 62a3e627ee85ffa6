"""What the lessons of the course show beyond the live layer: their texts, equations and the views
only one lesson draws. The pages (app_pages/) lay these out; they build on `lab` (settings, snapshots
of runs, views) and `rnnviz`, and `lab` never imports them.

  equations      the cells' equations in LaTeX with plain words
  lesson_text    lesson texts worded from the chosen task's own data
  directions     which direction (forward or reverse) a view of a bidirectional run shows
  generation     sampling, continuing and free-running at any recorded epoch
  shapes_view    the tensor shapes lesson: what nn.RNN / nn.LSTM / nn.GRU take and give
  sweep_view     the sweeps lesson: a grid of runs, live
  scratch        the From scratch lesson: NumPy against PyTorch, the bug picker
  scratch_bugs   the injected bugs in words, filled from their measured effects
  scratch_code   the From scratch lesson's equations next to the engine's source
  gradcheck_view the From scratch lesson's gradient check
  step_view      the From scratch lesson's one step by hand: each line of NumPy and its numbers
  dinos_view     the From scratch lesson's dinosaur names
"""
