"""Page 11: checkpoints. Your own, the class's and the shipped ones: open, download, upload, delete."""
from datetime import datetime

import pandas as pd
import streamlit as st

from lab import checkpoints, teacher
from lab.lessons import LESSONS
from lab.messages import say, show_message
from rnnviz.checkpoint import CheckpointError, to_zip
from rnnviz.config import clipped

CONFIRM, UPLOADS, TEACHER_REFUSED = "ckpt.confirm_delete", "ckpt.uploads", "ckpt.teacher_refused"
COLUMNS = {"H": st.column_config.NumberColumn("H", help="hidden size", width="small"),
           "loss": st.column_config.NumberColumn("loss", help="the training loss at its last record"),
           "saved": st.column_config.TextColumn("saved", help="when it was written (the server's time)")}

st.title(f"{len(LESSONS) + 1}. Checkpoints")   # after the lessons, as main.py numbers it
st.markdown(
    "A checkpoint is a folder with the weights (`model.safetensors`), the settings (`config.json`) and the "
    "recorded history (`history.json`) of a run. Every lesson has a **Save checkpoint** button. **Open** "
    "one to see its history in its lesson again and to train on from its weights (**Continue**); "
    "**download** it as a zip to share it; **upload** a zip somebody shared with you. Only safetensors and "
    "JSON are ever read — never pickles. Your checkpoints are yours: other browsers do not see them.")
show_message("checkpoints")


def _delete(path: str) -> None:
    st.session_state.pop(CONFIRM, None)
    try:
        checkpoints.delete(path)
        say("checkpoints", "success", "Deleted it.")
    except (CheckpointError, OSError) as e:
        say("checkpoints", "error", f"Could not delete: {e}")


def _publish(path: str) -> None:
    try:
        say("checkpoints", "success", f"Published as `class/{checkpoints.publish(path)}`: every student can open it.")
    except (CheckpointError, OSError) as e:
        say("checkpoints", "error", f"Could not publish: {e}")


def _minute(saved_at: str) -> str:
    """config.json's saved_at ("2026-11-22T17:08:56") to the minute, "2026-11-22 17:08"; else as written."""
    try:
        return datetime.fromisoformat(saved_at).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return saved_at


rows = checkpoints.listed()
if not rows:
    st.info("No checkpoints yet: train a run in a lesson and press **Save checkpoint**, or upload one below.",
            icon=":material/folder_open:")
else:
    # narrow enough for the centred page (about 730 px): whose it is is the name's class/ or pretrained/
    # (the caption), an unreadable one's error shows when it is picked, "saved" goes to the minute
    table = pd.DataFrame([{"name": r["name"], "task": r.get("task"), "cell": r.get("cell"), "H": r.get("hidden"),
                           "status": "cannot be read" if "error" in r else r.get("status"), "loss": r.get("loss"),
                           "saved": _minute(r.get("saved_at", ""))} for r in rows])
    st.caption("Yours are listed by their name; `class/` ones are published to the class, `pretrained/` ones "
               "shipped with the lab.")
    st.dataframe(table, hide_index=True, width="stretch", column_config=COLUMNS)
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
                           on_click="ignore", disabled="error" in row)
        st.button("Delete…", icon=":material/delete:", key="ckpt.delete",
                  disabled=not checkpoints.deletable(row["path"]),
                  on_click=lambda: st.session_state.update({CONFIRM: row["path"]}),
                  help="Only your own checkpoints can be deleted here")
        if teacher.is_teacher() and row["kind"] == "yours":
            st.button("Publish to the class", icon=":material/school:", key="ckpt.publish", on_click=_publish,
                      args=(row["path"],), help="Every student can then open it (and nobody but you delete it)")
    if st.session_state.get(CONFIRM) == row["path"]:
        st.warning(f"Delete `{name}` for good? This cannot be undone.", icon=":material/warning:")
        with st.container(horizontal=True):
            st.button("Yes, delete it", type="primary", key="ckpt.yes", on_click=_delete, args=(row["path"],))
            st.button("Cancel", key="ckpt.no", on_click=lambda: st.session_state.pop(CONFIRM, None))

st.subheader("Upload a checkpoint")
up = st.file_uploader("a .zip made by **Download .zip** (model.safetensors + config.json + history.json)",
                      type=["zip"], key="ckpt.upload", max_upload_size=checkpoints.UPLOAD_MB)
if up is not None:
    done = st.session_state.setdefault(UPLOADS, {})
    if up.file_id not in done:
        try:
            done[up.file_id] = ("success", f"Added `{checkpoints.upload(up.getvalue(), up.name)}` — pick it above.")
        except checkpoints.NoRoom as e:
            done[up.file_id] = ("error", f"`{clipped(up.name)}` was not kept: {e}")
        except (CheckpointError, ValueError, OSError) as e:
            # the error says what is wrong with the file ("the file is not a readable rnnviz checkpoint
            # zip: ...", "config.json is not valid JSON: ..."): the line names the file and the outcome
            done[up.file_id] = ("error", f"`{clipped(up.name)}` was not added: {e}")
        st.rerun()
    kind, text = done[up.file_id]
    getattr(st, kind)(text)


def _try_key() -> None:
    """on_change of the key: each typed key is tried once (not again at every rerun), then cleared."""
    st.session_state[TEACHER_REFUSED] = teacher.try_key(st.session_state.get("ckpt.teacher_key") or "")
    st.session_state["ckpt.teacher_key"] = ""


if teacher.key_set():
    with st.expander("For the teacher", icon=":material/school:"):
        if teacher.is_teacher():
            st.success("You are the teacher in this browser: **Publish to the class** shows on your checkpoints.")
        else:
            st.text_input("teacher key", type="password", key="ckpt.teacher_key", on_change=_try_key)
            if refused := st.session_state.get(TEACHER_REFUSED):
                st.error(refused)
