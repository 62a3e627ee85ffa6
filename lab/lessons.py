"""The lessons in teaching order: which page, which tasks, which runs train side by side."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Lesson:
    key: str                        # short id: session state, checkpoint names
    title: str
    icon: str
    page: str                       # the page file, relative to main.py
    tasks: tuple[str, ...] = ()     # the first one is the default
    # runs trained side by side on the same data and seed: name -> (model overrides, train overrides)
    variants: dict[str, tuple[dict, dict]] = field(default_factory=dict)
    model_defaults: dict = field(default_factory=dict)   # overrides of Task.suggested() for this lesson
    pace: dict[str, float] = field(default_factory=dict)  # task -> default record points per second
    train_defaults: dict[str, dict] = field(default_factory=dict)  # task -> overrides of its suggested TrainConfig

    @property
    def heading(self) -> str:
        """The page title: its place in the teaching order and its title."""
        return f"{LESSONS.index(self) + 1}. {self.title}"

    @property
    def fixed(self) -> set[str]:
        """Config fields the lesson's variants set (not shown as settings)."""
        return {k for m, t in self.variants.values() for k in (*m, *t)}


LESSONS = [
    Lesson("chars", "Character prediction", ":material/abc:", "app_pages/chars.py",
           tasks=("hihell", "seoul", "ship"), pace={"hihell": 10.0, "seoul": 60.0}),
    Lesson("shapes", "Tensor shapes", ":material/data_array:", "app_pages/shapes.py"),   # nothing to train
    Lesson("words", "Word prediction", ":material/chat:", "app_pages/words.py", tasks=("words",),
           pace={"words": 60.0}),
    Lesson("anbn", "Counting: aⁿbⁿaⁿ", ":material/counter_3:", "app_pages/anbn.py", tasks=("anbn",)),
    Lesson("sine", "Sine wave", ":material/airwave:", "app_pages/sine.py", tasks=("sine",),
           variants={"h carried": ({}, {"carry_state": True}), "h reset": ({}, {"carry_state": False})}),
    Lesson("inside", "Inside the cells", ":material/memory:", "app_pages/inside.py",
           tasks=("hihell", "seoul", "words", "anbn", "text"), model_defaults={"cell": "lstm"},
           pace={"hihell": 10.0}),
    Lesson("gradients", "Vanishing/exploding gradients", ":material/trending_down:", "app_pages/gradients.py",
           tasks=("copy", "adding"),
           variants={c: ({"cell": c}, {}) for c in ("rnn", "lstm", "gru")}),
    Lesson("text", "Text generation", ":material/edit_note:", "app_pages/text.py", tasks=("text",)),
    Lesson("scratch", "From scratch (NumPy)", ":material/construction:", "app_pages/from_scratch.py",
           tasks=("anbn", "hihell", "dinos"),
           # the NumPy engine has no peepholes, dropout, second direction or projection
           variants={e: ({"peephole": False, "dropout": 0.0, "bidirectional": False, "proj_size": 0},
                         {"engine": e}) for e in ("numpy", "torch")},
           # SGD in float64: both engines do the same arithmetic, so their losses agree to rounding error
           train_defaults={"anbn": dict(optimizer="sgd", lr=1.0, momentum=0.0, dtype="float64", epochs=30),
                           "hihell": dict(optimizer="sgd", lr=0.5, momentum=0.0, dtype="float64"),
                           "dinos": dict(optimizer="sgd", lr=0.5, momentum=0.0, dtype="float64", epochs=30)}),
    Lesson("sweep", "Sweeps: memory vs lag", ":material/grid_on:", "app_pages/sweep.py"),   # a grid of runs
]
CHECKPOINTS_PAGE = "app_pages/checkpoints.py"
BY_KEY = {lesson.key: lesson for lesson in LESSONS}
# where a checkpoint of a task opens when it does not name its lesson: the first lesson that trains the
# task, but Text generation for text (Inside the cells, before it, trains text too)
TASK_LESSON = {t: lesson.key for lesson in reversed(LESSONS) for t in lesson.tasks} | {"text": "text"}

