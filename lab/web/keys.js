// The run bar's keys (lab/presenter.py, KEYS) also while a toggle, a radio button or a slider has the
// focus, as it has right after a click on one: Streamlit skips its shortcuts while any input has it,
// though only a text field takes letters. Elsewhere Streamlit's own shortcut presses the button.
export default function ({ data: [keys] }) {
  window.__rvKeys = keys;
  if (window.__rvKeysOn) return;   // one listener per page, whatever reruns mount this again
  window.__rvKeysOn = true;
  document.addEventListener("keydown", e => {
    const t = e.target, key = (e.key || "").toUpperCase();
    const chosen = t.tagName === "INPUT" ? ["checkbox", "radio", "range"].includes(t.type)
                                         : t.getAttribute && t.getAttribute("role") === "slider";
    if (!chosen || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey || !window.__rvKeys.includes(key)) return;
    const button = document.querySelector(`button kbd[aria-label="Shortcut ${key}"]`)?.closest("button");
    if (button && !button.disabled) {
      e.preventDefault();
      button.click();
    }
  });
}
