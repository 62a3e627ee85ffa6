// Ask for one more run of the page, as a click would (lab/settings.py, link_put_values): only a run the
// browser asks for lets Streamlit write values set in code to the address bar.
export default function ({ data: [data], setTriggerValue }) {
  if (data.ask) setTriggerValue("ask", data.ask);
}
