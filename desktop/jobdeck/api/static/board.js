// Jobdeck's board: the running jobs with live progress, ETA and cancel buttons, and the
// recent history, fed by the app's event stream (GET /api/jobs/stream, Server-Sent Events).
// No framework, no build step: the app serves this file as it is.
"use strict";

const FINISHED = new Set(["completed", "failed", "cancelled"]);
const RECENT = 30;
const jobs = new Map(); // id -> job (the API's JSON)
let stream = null;

const $ = (id) => document.getElementById(id);

function fmtDuration(seconds) {
  if (seconds == null || !isFinite(seconds)) return "";
  let s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  let m = Math.floor(s / 60); s %= 60;
  if (m < 60) return `${m}m ${String(s).padStart(2, "0")}s`;
  const h = Math.floor(m / 60); m %= 60;
  if (h < 24) return `${h}h ${String(m).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

function fmtPercent(p) {
  if (p == null) return "—";
  if (p < 10 && p > 0 && Math.round(p) !== p) return `${p.toFixed(1)}%`;
  return `${Math.floor(p)}%`;
}

function fmtTime(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  const now = new Date();
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return d.toDateString() === now.toDateString() ? time : `${d.toLocaleDateString()} ${time}`;
}

function elapsed(job) {
  if (!job.started_ts) return null;
  const end = job.completed_ts || Date.now() / 1000;
  return Math.max(0, end - job.started_ts);
}

function eta(job) {
  const p = job.progress.percent;
  const spent = elapsed(job);
  if (job.status !== "running" || !p || p <= 0 || p >= 100 || !spent) return null;
  return (spent * (100 - p)) / p;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = text;
  return node;
}

// -- the running jobs -------------------------------------------------------------------

function runningRow(job) {
  let row = document.querySelector(`li.job[data-job-id="${CSS.escape(job.id)}"]`);
  if (!row) {
    row = el("li", "job");
    row.dataset.jobId = job.id;
    const title = el("div", "title");
    const side = el("div", "side");
    const pct = el("span", "percent");
    pct.dataset.role = "percent";
    const cancel = el("button", null, "Cancel");
    cancel.type = "button";
    cancel.dataset.role = "cancel";
    cancel.addEventListener("click", () => cancelJob(job.id, cancel));
    side.append(pct, cancel);
    const bar = el("div", "bar");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    bar.append(el("div"));
    row.append(title, side, el("div", "message"), bar, el("div", "times"));
    $("running").append(row);
  }
  return row;
}

function drawRunning(job) {
  const row = runningRow(job);
  const p = job.progress;
  row.dataset.status = job.status;
  row.querySelector(".title").textContent = job.title;
  row.querySelector(".title").title = job.title;
  const message = job.status === "pending" ? "waiting to start" : p.message;
  row.querySelector(".message").textContent = job.cancel_requested ? "cancelling…" : message || "";
  row.querySelector("[data-role=percent]").textContent = fmtPercent(p.percent);
  const bar = row.querySelector(".bar");
  const busy = p.percent == null && job.status === "running";
  bar.classList.toggle("busy", busy);
  bar.firstChild.style.width = busy ? "" : `${p.percent || 0}%`;
  if (p.percent == null) bar.removeAttribute("aria-valuenow");
  else bar.setAttribute("aria-valuenow", String(Math.round(p.percent)));
  bar.setAttribute("aria-label", `${job.title}: ${fmtPercent(p.percent)}`);
  const left = eta(job);
  const spent = elapsed(job);
  row.querySelector(".times").textContent =
    (spent != null ? fmtDuration(spent) : "") + (left != null ? ` · ${fmtDuration(left)} left` : "");
  const button = row.querySelector("[data-role=cancel]");
  if (job.cancel_requested) button.disabled = true;
}

async function cancelJob(id, button) {
  button.disabled = true;
  try {
    const response = await fetch(`/api/jobs/${encodeURIComponent(id)}/cancel`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
      credentials: "same-origin",
    });
    if (!response.ok && response.status !== 409) button.disabled = false;
  } catch (err) {
    button.disabled = false;
  }
}

// -- the recent history ------------------------------------------------------------------

function drawRecent() {
  const finished = [...jobs.values()]
    .filter((j) => FINISHED.has(j.status))
    .sort((a, b) => (b.completed_ts || 0) - (a.completed_ts || 0))
    .slice(0, RECENT);
  const body = $("recent").tBodies[0];
  body.replaceChildren(
    ...finished.map((job) => {
      const row = el("tr");
      row.dataset.jobId = job.id;
      const status = el("td");
      status.append(el("span", `badge ${job.status}`, job.status));
      const title = el("td", "title", job.title);
      title.title = job.title;
      if (job.error) {
        const error = el("span", "error", job.error.message.trim().replace(/\s*\n\s*/g, " · "));
        error.title = job.error.message;
        title.append(error);
      }
      row.append(status, title, el("td", "num", fmtTime(job.completed_ts)), el("td", "num", fmtDuration(elapsed(job))));
      return row;
    }),
  );
  $("recent").hidden = finished.length === 0;
  $("recent-empty").hidden = finished.length > 0;
}

function drawAll() {
  const active = [...jobs.values()].filter((j) => !FINISHED.has(j.status)).sort((a, b) => (a.id < b.id ? -1 : 1));
  const keep = new Set(active.map((j) => j.id));
  for (const row of document.querySelectorAll("li.job")) {
    if (!keep.has(row.dataset.jobId)) row.remove();
  }
  for (const job of active) drawRunning(job);
  const running = active.filter((j) => j.status === "running").length;
  $("running-count").textContent = active.length ? `(${active.length})` : "";
  $("running-empty").hidden = active.length > 0;
  $("summary").textContent = `${running} running, ${active.length - running} waiting`;
  drawRecent();
}

// -- the stream ------------------------------------------------------------------------------

function remember(job) {
  const known = jobs.get(job.id);
  if (known && FINISHED.has(known.status) && !FINISHED.has(job.status)) return; // stale
  jobs.set(job.id, job);
}

async function refetch(ids) {
  // Jobs we knew as active that a fresh snapshot does not mention finished meanwhile.
  for (const id of ids) {
    try {
      const response = await fetch(`/api/jobs/${encodeURIComponent(id)}`, { credentials: "same-origin" });
      if (response.ok) remember(await response.json());
      else if (response.status === 404) jobs.delete(id);
    } catch (err) {
      return;
    }
  }
  drawAll();
}

function onSnapshot(event) {
  const data = JSON.parse(event.data);
  const before = [...jobs.values()].filter((j) => !FINISHED.has(j.status)).map((j) => j.id);
  const fresh = new Map(data.jobs.map((j) => [j.id, j]));
  for (const [id, job] of jobs) if (FINISHED.has(job.status) && !fresh.has(id)) fresh.set(id, job);
  jobs.clear();
  for (const job of fresh.values()) jobs.set(job.id, job);
  drawAll();
  const missing = before.filter((id) => !fresh.has(id));
  if (missing.length) refetch(missing);
}

function onJobs(event) {
  for (const item of JSON.parse(event.data).jobs) remember(item.job);
  drawAll();
}

function connect() {
  stream = new EventSource("/api/jobs/stream");
  stream.addEventListener("open", () => {
    $("conn").dataset.state = "live";
    $("conn").textContent = "live";
  });
  stream.addEventListener("error", () => {
    $("conn").dataset.state = "lost";
    $("conn").textContent = "reconnecting…";
  });
  stream.addEventListener("snapshot", onSnapshot);
  stream.addEventListener("jobs", onJobs);
}

connect();
setInterval(() => {
  for (const job of jobs.values()) if (job.status === "running") drawRunning(job);
}, 1000);
