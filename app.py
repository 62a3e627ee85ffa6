"""rnnviz lab: train small recurrent networks live in the browser and watch them learn.

    streamlit run app.py

Serves the lab's Streamlit script (main.py: navigation, the lessons in pages/) and two routes of its own
(lab/pulse.py): /rnnviz/pulse, a WebSocket on which the pages' progress bars hear their runs' progress,
so they move without rerunning Streamlit's page, and GET /rnnviz/progress/<job ids>, the same once.
"""
import streamlit as st

from lab.pulse import routes

app = st.App("main.py", routes=routes())
