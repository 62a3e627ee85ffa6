"""rnnviz lab: train small recurrent networks live in the browser and watch them learn.

    streamlit run app.py

Serves the lab's Streamlit script (main.py: navigation, the lessons in pages/) and one route of its
own (lab/progress.py), GET .../rnnviz/progress?ids=<run ids>, from which the pages' progress lines
read their runs' progress without rerunning Streamlit's page.
"""
import streamlit as st

from lab.progress import routes

app = st.App("main.py", routes=routes())
