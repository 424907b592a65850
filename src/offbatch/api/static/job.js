/* One job: its summary, config, tasks, events, import and insights; task logs followed while the
 * job runs; cancel behind the operator token. The job id comes from the page's own path. */
(function () {
  "use strict";

  var C = window.offbatchConsole, $ = C.$, el = C.el;
  var REFRESH_MS = 2000, LOG_POLL_MS = 1000, MAX_LOG_LINES = 20000;
  var jobId = decodeURIComponent(window.location.pathname.split("/").filter(Boolean)[1] || "");
  var API = "/api/v1/batch/jobs/" + encodeURIComponent(jobId);
  var job = null, info = null, timer = null;
  var logs = { task: null, cursor: null, timer: null, seq: 0 };

  function showMessage(text) { $("message").textContent = text || ""; $("message").hidden = !text; }

  function facts(dl, pairs) {
    dl.replaceChildren();
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") return;
      dl.appendChild(el("dt", {}, p[0]));
      dl.appendChild(el("dd", {}, typeof p[1] === "object" ? p[1] : String(p[1])));
    });
  }

  function runTime(j) {
    var start = C.toDate(j.created_at), end = C.toDate(j.finished_at) || new Date();
    return start ? C.duration((end - start) / 1000) : null;
  }

  function renderSummary(j) {
    var pct = j.rows_done !== null && j.rows_selected ? Math.min(100, Math.round(100 * j.rows_done / j.rows_selected)) : null;
    facts($("summary"), [
      ["Type", j.job_type], ["Backend", j.backend], ["Engine", j.engine],
      ["Rows", j.rows_selected],
      ["Progress", pct === null ? "—" : el("span", {}, el("progress", { max: "100", value: String(pct) }), " " + j.rows_done + " / " + j.rows_selected + " rows (" + pct + "%)")],
      ["Tasks", Object.keys(j.task_counts || {}).map(function (k) { return j.task_counts[k] + " " + k.toLowerCase(); }).join(", ") || String(j.task_count)],
      ["Created", C.when(j.created_at)], ["Finished", j.finished_at ? C.when(j.finished_at) : "—"],
      [C.isFinished(j.state) ? "Took" : "Running for", runTime(j)],
      ["Estimated cost", C.money(j.cost_estimate_usd)], ["Actual cost", C.money(j.cost_actual_usd)],
    ]);
    var c = j.config_summary || {};
    facts($("config"), Object.keys(c).map(function (k) {
      var v = c[k];
      if (k === "max_run_duration") v = C.duration(v);
      return [k.replace(/_/g, " "), v === null ? "" : String(v)];
    }));
  }

  function renderImport(j) {
    var r = j.imports;
    facts($("import"), r ? [
      ["State", C.stateBadge(r.state.toUpperCase())], ["Parts", r.parts_done + " / " + r.parts_total],
      ["Rows", r.rows_done + (r.rows_skipped ? " (" + r.rows_skipped + " skipped)" : "")],
      ["Predictions", r.predictions_created], ["Insights created", r.insights_created],
      ["Insights updated", r.insights_updated], ["Deliveries", r.deliveries],
      ["Finished", r.finished_at ? C.when(r.finished_at) : "—"], ["Error", r.error],
    ] : [["State", j.state === "SUCCEEDED" ? "waiting for the import" : "not imported"]]);
    var links = $("insight-links");
    links.replaceChildren(
      el("a", { href: "/?job=" + encodeURIComponent(j.id) }, j.insights_open + " open insight" + (j.insights_open === 1 ? "" : "s")),
      " · ",
      el("a", { href: "/?job=" + encodeURIComponent(j.id) + "&status=annotated" }, j.insights_annotated + " reviewed"),
      " · ",
      el("a", { href: "/?job=" + encodeURIComponent(j.id) + "&status=all" }, "all of this job's insights"));
  }

  function renderTasks(j) {
    var body = $("tasks").tBodies[0];
    body.replaceChildren.apply(body, j.tasks.map(function (t) {
      var button = el("button", { type: "button", className: "secondary small", "data-task": String(t.index),
                                  "aria-pressed": String(logs.task === t.index) }, "Logs");
      button.addEventListener("click", function () { openLogs(t.index); });
      return el("tr", { "data-task": String(t.index) },
        el("td", { className: "num" }, String(t.index)),
        el("td", {}, C.stateBadge(t.state)),
        el("td", { className: "num" }, String(t.attempts)),
        el("td", { className: "num" }, t.exit_code === null ? "—" : String(t.exit_code)),
        el("td", { className: "reason" }, t.reason || ""),
        el("td", { className: "time" }, C.when(t.started_at)),
        el("td", { className: "time" }, C.when(t.finished_at)),
        el("td", { className: "num" }, C.duration(t.run_seconds)),
        el("td", {}, button));
    }));
    $("backend-error").textContent = j.backend_error ? "The backend could not be asked for tasks and events: " + j.backend_error : "";
    $("backend-error").hidden = !j.backend_error;
  }

  function renderEvents(j) {
    var list = $("events");
    list.replaceChildren.apply(list, j.events.slice().reverse().map(function (e) {
      return el("li", {}, el("span", { className: "time" }, C.when(e.time)), " ", e.state ? C.stateBadge(e.state) : null, " ", e.description);
    }));
    if (!j.events.length) list.appendChild(el("li", { className: "muted" }, "No events."));
  }

  function renderCancel(j) {
    var button = $("cancel"), why = "";
    if (C.isFinished(j.state)) why = "The job is " + j.state.toLowerCase() + ": nothing to cancel.";
    else if (j.state === "CANCELLATION_IN_PROGRESS") why = "Cancellation in progress.";
    else if (info && !info.annotation_enabled) why = "Cancelling is off on this server (it has no OFFBATCH_ANNOTATION_TOKEN).";
    else if (!C.token()) why = "Paste the operator token at the top of the page to cancel.";
    button.disabled = !!why;
    button.title = why;
    $("cancel-why").textContent = why;
    $("cancel-why").hidden = !why || C.isFinished(j.state);
  }

  function render(j) {
    job = j;
    document.title = "offbatch · " + j.id;
    $("job-id").textContent = j.id;
    $("job-state").replaceChildren(C.stateBadge(j.state));
    $("job-live").textContent = C.isFinished(j.state) ? "" : "following: refreshed every " + REFRESH_MS / 1000 + " s";
    $("job-reason").textContent = j.reason || "";
    $("job-reason").hidden = !j.reason;
    renderSummary(j);
    renderImport(j);
    renderTasks(j);
    renderEvents(j);
    renderCancel(j);
  }

  function importPending(j) {
    return j.state === "SUCCEEDED" && (!j.imports || !/succeeded|failed/.test(j.imports.state));
  }

  async function load() {
    clearTimeout(timer);
    try {
      render(await C.getJSON(API));
      showMessage("");
      if (!C.isFinished(job.state) || importPending(job)) timer = setTimeout(load, REFRESH_MS);
    } catch (e) {
      showMessage(e.status === 404 ? "No job " + jobId + " on this server. See the jobs list." : "Could not load the job: " + e.message);
      if (e.status !== 404) timer = setTimeout(load, REFRESH_MS * 3);
    }
  }

  /* -- logs: the tail first, then only new lines (cursor) until the job is finished --------- */

  function openLogs(index) {
    clearTimeout(logs.timer);
    logs.task = index;
    logs.cursor = null;
    logs.seq++;
    $("logs").textContent = "";
    $("logs-task").textContent = String(index);
    $("logs-panel").hidden = false;
    document.querySelectorAll("#tasks button[data-task]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(Number(b.getAttribute("data-task")) === index));
    });
    pollLogs(logs.seq);
    $("logs-panel").scrollIntoView({ block: "nearest" });
  }

  async function pollLogs(seq) {
    var url = API + "/tasks/" + logs.task + "/logs" + (logs.cursor === null ? "?tail=500" : "?cursor=" + logs.cursor);
    try {
      var page = await C.getJSON(url);
      if (seq !== logs.seq) return;
      var box = $("logs");
      var atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
      if (page.lines.length) box.appendChild(document.createTextNode(page.lines.join("\n") + "\n"));
      while (box.textContent.split("\n").length > MAX_LOG_LINES && box.firstChild) box.removeChild(box.firstChild);
      if (atBottom) box.scrollTop = box.scrollHeight;
      logs.cursor = page.next_cursor;
      $("logs-state").textContent = page.finished ? "(complete)" : "(following…)";
      if (!page.finished) logs.timer = setTimeout(function () { pollLogs(seq); }, LOG_POLL_MS);
    } catch (e) {
      if (seq !== logs.seq) return;
      $("logs-state").textContent = "(" + e.message + ")";
    }
  }

  async function cancel() {
    var secret = C.token();
    if (!secret || !job) return;
    if (!window.confirm("Cancel " + job.id + "? Running tasks are stopped; finished shards are kept.")) return;
    $("cancel").disabled = true;
    try {
      var r = await fetch(API + "/cancel", { method: "POST", cache: "no-store", credentials: "same-origin",
                                             headers: { "Authorization": "Bearer " + secret } });
      if (!r.ok) { showMessage("Could not cancel: " + (await C.errorText(r))); renderCancel(job); return; }
      showMessage("");
      load();
    } catch (e) {
      showMessage("Cannot reach the server (" + e.message + ").");
      renderCancel(job);
    }
  }

  document.addEventListener("DOMContentLoaded", async function () {
    $("job-id").textContent = jobId;
    $("cancel").addEventListener("click", cancel);
    info = await C.serverInfo();
    C.setupToken(function () { if (job) renderCancel(job); });
    load();
  });
})();
