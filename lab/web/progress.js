// The progress lines of a lesson's runs (lab/progress.py), kept current by the browser itself: it asks
// the server for the runs' progress every data.interval seconds (GET .../rnnviz/progress), changes a
// few DOM nodes and reruns no Streamlit script. When a run's phase (running, paused, finished, ...)
// differs from the one the page's buttons were drawn for, it reruns the panel it stands in; if the page
// has not been drawn for the new phases RESEND_S later (a rerun lost in a burst of clicks), it asks again.
const RESEND_S = 2, RESENDS = 5;
export default function ({ parentElement, data: [data], setTriggerValue }) {
  const me = parentElement.__rv || (parentElement.__rv = { newest: {}, timer: null, sent: null, tries: 0 });
  // drawn for other runs or phases: a phase seen before (Train again the moment a run ended) is news again
  const drawn = d => `${d.runs.map(r => r.id).join(",")}:${d.phases}`;
  if (me.data && drawn(me.data) !== drawn(data)) { me.sent = null; me.tries = 0; }
  me.data = data;
  me.trigger = setTriggerValue;   // this mount's: a poll scheduled by an earlier call must not use a stale one

  let root = parentElement.querySelector(".rv-progress");
  if (!root) {
    root = document.createElement("div");
    root.className = "rv-progress";
    parentElement.appendChild(root);
  }
  let busy = parentElement.querySelector(".rv-busy");
  if (data.busy !== null && !busy) {
    busy = document.createElement("div");
    busy.className = "rv-busy";
    parentElement.insertBefore(busy, root);
  }
  if (busy) busy.textContent = data.busy || "";
  root.style.gridTemplateColumns = `repeat(${data.columns ? Math.max(data.runs.length, 1) : 1}, minmax(0, 1fr))`;
  while (root.children.length > data.runs.length) root.lastChild.remove();
  while (root.children.length < data.runs.length) {
    const el = document.createElement("div");
    el.className = "rv-run";
    el.dataset.testid = data.testid;
    el.setAttribute("role", "progressbar");
    el.setAttribute("aria-valuemin", "0");
    el.setAttribute("aria-valuemax", "100");
    el.innerHTML = '<div class="rv-text"><b></b><span></span></div><div class="rv-track"><div class="rv-fill"></div></div>';
    root.appendChild(el);
  }

  // the newest facts of each run by the server's clock: a rerun's data can reach the page after an
  // answer the server read later, and must not turn "paused · epoch 36" back into "training · epoch 35"
  const draw = (i, facts, at) => {
    const run = me.data.runs[i], el = root.children[i];
    if (!run || !el || !facts) return;
    const had = me.newest[run.id];
    if (had && had.at > at) facts = had.facts;
    else me.newest[run.id] = { facts, at };
    el.dataset.run = run.id;
    el.querySelector("b").textContent = run.name;
    el.querySelector("span").textContent = " · " + facts.text;
    el.querySelector(".rv-fill").style.width = (100 * facts.done).toFixed(1) + "%";
    el.setAttribute("aria-valuenow", String(Math.round(100 * facts.done)));
    el.setAttribute("aria-label", run.name + " · " + facts.text);
  };
  data.runs.forEach((r, i) => draw(i, r.facts, data.at));

  const settle = () => {   // a phase changed by itself (a run ended, another tab paused it)
    const d = me.data;
    if (!d.rerun) return;
    const phases = d.runs.map(r => (me.newest[r.id] || { facts: r.facts }).facts.phase).join(",");
    if (phases === d.phases) return;
    const now = Date.now();
    if (phases !== me.sent) me.tries = 0;
    else if (me.tries >= RESENDS || now - me.sentAt < 1000 * RESEND_S) return;
    me.sent = phases;
    me.sentAt = now;
    me.tries += 1;
    me.trigger("phases", `${phases}#${me.tries}`);
  };
  const ask = async () => {
    me.timer = null;
    const d = me.data;
    try {
      const ids = d.runs.map(r => r.id).join(",");
      const answer = await fetch(`${d.url}?ids=${encodeURIComponent(ids)}`,
                                 { headers: { "X-Rnnviz-Id": d.token }, cache: "no-store" });
      if (!answer.ok) throw new Error(String(answer.status));
      const body = await answer.json();
      if (busy && body.busy) busy.textContent = body.busy;
      me.data.runs.forEach((r, i) => draw(i, body.runs[r.id], body.at));
      root.classList.remove("rv-down");
      settle();
    } catch (e) {   // the server is down or restarting: say so instead of a frozen "training"
      root.classList.add("rv-down");
      if (busy) busy.textContent = "";
      Array.from(root.children).forEach(el => {
        el.querySelector("span").textContent = " · the lab's server does not answer; your runs are saved " +
          "when it stops — reload the page once it is back";
      });
    }
    schedule();
  };
  const schedule = () => {
    if (me.timer || !me.data.poll) return;
    const every = document.hidden ? Math.max(me.data.interval, me.data.hidden) : me.data.interval;
    me.timer = setTimeout(ask, 1000 * every);
  };
  if (!me.seen) {   // a tab shown again asks at once
    me.seen = () => { if (!document.hidden && me.timer) { clearTimeout(me.timer); ask(); } };
    document.addEventListener("visibilitychange", me.seen);
  }
  if (!data.poll && me.timer) { clearTimeout(me.timer); me.timer = null; }
  schedule();
  return () => {
    if (me.timer) clearTimeout(me.timer);
    me.timer = null;
    if (me.seen) document.removeEventListener("visibilitychange", me.seen);
    me.seen = null;
  };
}
