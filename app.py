"""rnnviz lab: train small recurrent networks live in the browser and watch them learn.

    streamlit run app.py

Opens on the first lesson (character prediction, `hihell`). Each lesson is a page; training runs in
worker threads (lab/jobs.py) while the pages poll them, so moving a slider or switching pages never
stops a run.
"""
import streamlit as st

from lab import APP_RAN, checkpoints, jobs, live
from lab.lessons import CHECKPOINTS_PAGE, LESSONS

st.set_page_config(page_title="rnnviz lab", page_icon=":material/cycle:", layout="wide")

lesson_pages = [st.Page(lesson.page, title=f"{i}. {lesson.title}", icon=lesson.icon, default=i == 1)
                for i, lesson in enumerate(LESSONS, start=1)]
pages = {"Lessons": lesson_pages,
         "Your runs": [st.Page(CHECKPOINTS_PAGE, title=f"{len(LESSONS) + 1}. Checkpoints", icon=":material/save:")]}

page = st.navigation(pages)
jobs.sweep()
checkpoints.follow_goto()
live.sidebar_status({lesson.key: lesson.title for lesson in LESSONS})
st.session_state[APP_RAN] = True
page.run()
