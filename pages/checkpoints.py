"""Page 10: checkpoints. List, open in a lesson, download, upload and delete saved runs."""
import pandas as pd
import streamlit as st

from lab import checkpoints, controls, ensure_app
from lab.lessons import LESSONS
from rnnviz.checkpoint import CheckpointError, list_runs, to_zip

CONFIRM, UPLOADS = "ckpt.confirm_delete", "ckpt.uploads"

ensure_app()
st.title(f"{len(LESSONS) + 1}. Checkpoints")   # after the lessons, as main.py numbers it
st.markdown(
    "A checkpoint is a folder with the weights (`model.safetensors`), the settings (`config.json`) and the "
    "recorded history (`history.json`) of a run. Every lesson has a **Save checkpoint** button. **Open** "
    "one to see its history in its lesson again and to train on from its weights (**Continue**); "
    "**download** it as a zip to share it; **upload** a zip somebody shared with you. Only safetensors and "
    "JSON are ever read — never pickles.")
controls.show_message("checkpoints")


def _delete(path: str) -> None:
    st.session_state.pop(CONFIRM, None)
    try:
        checkpoints.delete(path)
        controls.say("checkpoints", "success", f"Deleted `{path}`.")
    except (CheckpointError, OSError) as e:
        controls.say("checkpoints", "error", f"Could not delete: {e}")


rows = list_runs(checkpoints.root())
if not rows:
    st.info(f"No checkpoints in `{checkpoints.root()}` yet: train a run in a lesson and press "
            "**Save checkpoint**, or upload one below.", icon=":material/folder_open:")
else:
    table = pd.DataFrame([{"name": r["name"], "task": r.get("task"), "cell": r.get("cell"), "H": r.get("hidden"),
                           "layers": r.get("layers"), "status": r.get("status") or r.get("error", ""),
                           "loss": r.get("loss"), "saved": r.get("saved_at", "")} for r in rows])
    st.dataframe(table, hide_index=True, width="stretch")
    by_name = {r["name"]: r for r in rows}
    name = st.selectbox("checkpoint", list(by_name), key="ckpt.pick")
    row = by_name[name]
    if "error" in row:
        st.error(f"`{name}` cannot be read: {row['error']}")
    with st.container(horizontal=True):
        st.button("Open in its lesson", type="primary", icon=":material/open_in_new:", key="ckpt.open",
                  on_click=checkpoints.open_and_go, args=(row["path"], "checkpoints"), disabled="error" in row)
        st.download_button("Download .zip", data=lambda: to_zip(row["path"]), file_name=f"{name.replace('/', '-')}.zip",
                           mime="application/zip", icon=":material/download:", key="ckpt.download",
                           on_click="ignore")
        st.button("Delete…", icon=":material/delete:", key="ckpt.delete",
                  disabled=not checkpoints.deletable(row["path"]),
                  on_click=lambda: st.session_state.update({CONFIRM: row["path"]}),
                  help="Shipped pretrained models cannot be deleted here")
    if st.session_state.get(CONFIRM) == row["path"]:
        st.warning(f"Delete `{name}` for good? This cannot be undone.", icon=":material/warning:")
        with st.container(horizontal=True):
            st.button("Yes, delete it", type="primary", key="ckpt.yes", on_click=_delete, args=(row["path"],))
            st.button("Cancel", key="ckpt.no", on_click=lambda: st.session_state.pop(CONFIRM, None))

st.subheader("Upload a checkpoint")
up = st.file_uploader("a .zip made by **Download .zip** (model.safetensors + config.json + history.json)",
                      type=["zip"], key="ckpt.upload", max_upload_size=260)
if up is not None:
    done = st.session_state.setdefault(UPLOADS, {})
    if up.file_id not in done:
        try:
            done[up.file_id] = ("success", f"Added `{checkpoints.upload(up.getvalue(), up.name)}` — pick it above.")
        except (CheckpointError, ValueError, OSError) as e:
            done[up.file_id] = ("error", f"`{up.name}` is not a usable rnnviz checkpoint: {e}")
        st.rerun()
    kind, text = done[up.file_id]
    getattr(st, kind)(text)
