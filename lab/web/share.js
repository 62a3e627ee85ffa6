// Share this setup (lab/share.py): the page's own address, which always carries the lesson's settings
// (the widgets are bound to the URL), in a field to select, with a Copy button; and with &train=1.
export default function ({ parentElement, data: [data] }) {
  let root = parentElement.querySelector(".rv-share");
  if (!root) {
    root = document.createElement("div");
    root.className = "rv-share";
    parentElement.appendChild(root);
  }
  const link = (train) => {
    const url = new URL(window.location.href);
    if (train) url.searchParams.set("train", "1"); else url.searchParams.delete("train");
    return url.toString();
  };
  const row = (label, train) => {
    const el = document.createElement("div");
    el.className = "rv-share-row";
    el.innerHTML = `<label></label><input readonly data-testid="rnnviz-link"><button type="button">Copy</button>`;
    el.querySelector("label").textContent = label;
    const input = el.querySelector("input"), copy = el.querySelector("button");
    const fill = () => { input.value = link(train); };
    fill();
    input.addEventListener("focus", () => { fill(); input.select(); });
    copy.addEventListener("click", async () => {
      fill();
      input.select();
      try { await navigator.clipboard.writeText(input.value); copy.textContent = "Copied"; }
      catch (e) { document.execCommand("copy"); copy.textContent = "Copied"; }
      setTimeout(() => { copy.textContent = "Copy"; }, 1500);
    });
    return { el, fill };
  };
  root.replaceChildren();
  const rows = [row(data.this_setup, false), row(data.and_train, true)];
  rows.forEach(r => root.appendChild(r.el));
  const timer = setInterval(() => rows.forEach(r => r.fill()), 1000);   // the address changes as sliders move
  return () => clearInterval(timer);
}
