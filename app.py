"""rnnviz lab: train small recurrent networks live in the browser and watch them learn.

    streamlit run app.py

Serves the lab's Streamlit script (main.py: navigation, the lessons in pages/) and one route of its own,
/rnnviz/progress/<job ids>, which the pages' progress bars poll (lab/pulse.py) so that they move
without rerunning Streamlit's page.
"""
import streamlit as st

from lab.pulse import routes

app = st.App("main.py", routes=routes())
