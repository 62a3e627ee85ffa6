"""rnnviz lab: the Streamlit script (navigation and what every page shares). app.py serves it:

    streamlit run app.py

Opens on the first lesson (character prediction, `hihell`). Each lesson is a page; runs train in
worker processes (rnnviz.runner) and live in the server's registry under their student (lab.registry),
so moving a slider, switching pages, reloading or closing the tab never stops a run.
"""
import threading

import streamlit as st

from lab import checkpoints, identity, links, panel, presenter, settings
from lab.lessons import CHECKPOINTS_PAGE, LESSONS
from rnnviz.figures import loss_figure, prediction_table_html
from rnnviz.worker import warm_up

# an emoji icon is drawn by the browser itself; a :material/...: one is fetched from fonts.gstatic.com
st.set_page_config(page_title="rnnviz lab", page_icon="🔁", layout="wide")
links.remember_arrival()
settings.link_put_values(run_ends=False)

lesson_pages = [st.Page(lesson.page, title=f"{i}. {lesson.title}", icon=lesson.icon, default=i == 1)
                for i, lesson in enumerate(LESSONS, start=1)]
pages = {"Lessons": lesson_pages,
         "Your runs": [st.Page(CHECKPOINTS_PAGE, title=f"{len(LESSONS) + 1}. Checkpoints", icon=":material/save:")]}


@st.cache_resource
def _warm_up() -> threading.Thread:
    """Once per server: load torch's and plotly's lazy parts in the background, so that the first
    click on Train does not pay for them (it took seconds before the first chart)."""
    def work():
        records = warm_up()
        prediction_table_html(records)      # what the predictions view draws (no longer a plotly heatmap)
        loss_figure({"warm-up": records}).to_json()
    thread = threading.Thread(target=work, name="rnnviz-warm-up", daemon=True)
    thread.start()
    return thread


_warm_up()
page = st.navigation(pages)
identity.keep_in_browser()
presenter.keys()
checkpoints.follow_goto()
lesson_of = {p.url_path: lesson.key for p, lesson in zip(lesson_pages, LESSONS)}
panel.sidebar_status({lesson.key: lesson.title for lesson in LESSONS}, lesson_of.get(page.url_path))
page.run()
settings.link_put_values(run_ends=True)
