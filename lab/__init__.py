"""Streamlit glue of the rnnviz lab, shared by main.py (the script app.py serves) and the pages.

The core package `rnnviz` never imports streamlit; what talks to Streamlit lives here, once;
the lessons' own content (texts, equations, the views one lesson draws) is in `course`. A run
lives in one place: the registry (`registry`, one per server), under its student (`identity`); the
runner (rnnviz.runner) trains it in a worker process; the lesson's panel (`panel`) draws it.

  lessons      the lessons in teaching order: page file, tasks, runs trained side by side
  identity     who a browser is: a token in a cookie, and the owner id of it
  registry     every student's runs on this server, written to disk when they end
  fields       widgets built generically from the config dataclasses' fields
  settings     a lesson's sidebar settings: the Setup they describe, the live knobs
  run_bar      Train, Pause / Resume, Stop, Continue, Reset, Save
  panel        the run bar, progress lines and views of a lesson's runs, in one fragment
  progress     progress lines the browser keeps current itself (a small component and its route)
  snapshot     a run as the views see it: its records up to the epoch the scrubber shows
  compare      the student's earlier runs of a lesson laid over the ones on screen
  views        figures of rnnviz.figures placed on the page for the runs' snapshots
  throttle     rebuild figures and samples only as often as the server can afford
  checkpoints  owned checkpoints: save, open, upload, delete, publish to the class
  pretrained   the shipped models, one click away on their lessons
  presets      named setups of a lesson, one click to train
  links        links that open a setup (the address bar), share: the Share dialog
  presenter    presenter mode for a projector
  page         what every lesson page does first: its lesson and header
  messages     one-time messages under a run bar or on a page
"""
