/* The jobs page: lists /api/v1/batch/jobs, refreshing while any job runs or imports. */
(function () {
  "use strict";

  var C = window.offbatchConsole, $ = C.$, el = C.el;
  var FAST_MS = 2000, SLOW_MS = 30000;
  var timer = null, loading = false;

  function taskChips(counts, total) {
    var box = el("span", { className: "chips" });
    var keys = Object.keys(counts || {}).sort();
    if (!keys.length) box.appendChild(el("span", { className: "muted" }, total + " task" + (total === 1 ? "" : "s")));
    keys.forEach(function (state) {
      box.appendChild(el("span", { className: "chip state-" + state.toLowerCase(), title: counts[state] + " " + state },
                         counts[state] + " " + state.toLowerCase()));
    });
    return box;
  }

  function progress(job) {
    if (job.rows_done === null || job.rows_done === undefined || !job.rows_selected) {
      return el("span", { className: "muted" }, job.rows_selected ? "—" : "no rows");
    }
    var pct = Math.min(100, Math.round(100 * job.rows_done / job.rows_selected));
    var bar = el("progress", { max: "100", value: String(pct), "aria-label": "progress of " + job.id }, pct + "%");
    return el("span", { className: "progress" }, bar, el("span", { className: "muted" }, " " + pct + "%"));
  }

  function importCell(run) {
    if (!run) return el("span", { className: "muted" }, "—");
    var cls = run.state === "succeeded" ? "ok" : run.state === "failed" ? "bad" : "";
    if (run.state === "succeeded") {
      return el("span", { className: "import " + cls, title: C.importLabel(run) },
        el("span", {}, run.predictions_created + " predictions"), el("br"),
        el("span", { className: "muted" }, run.insights_created + " new · " + run.insights_updated + " updated"));
    }
    var text = run.state === "failed" ? "failed" : run.state + " " + run.parts_done + "/" + run.parts_total;
    return el("span", { className: "import " + cls, title: C.importLabel(run) }, text);
  }

  function row(job) {
    var finished = C.isFinished(job.state);
    return el("tr", { "data-job": job.id, className: finished ? "" : "live" },
      el("td", {}, el("a", { href: "/jobs/" + encodeURIComponent(job.id), className: "mono" }, job.id)),
      el("td", {}, C.stateBadge(job.state), job.reason ? el("div", { className: "reason", title: job.reason }, job.reason) : null),
      el("td", {}, job.job_type),
      el("td", {}, job.backend),
      el("td", { className: "num" }, String(job.rows_selected)),
      el("td", {}, taskChips(job.task_counts, job.task_count)),
      el("td", {}, progress(job)),
      el("td", { className: "time" }, C.when(job.created_at)),
      el("td", { className: "time" }, C.when(job.finished_at)),
      el("td", { className: "num" }, C.money(job.cost_estimate_usd)),
      el("td", { className: "num" }, C.money(job.cost_actual_usd)),
      el("td", {}, importCell(job.imports)));
  }

  function busy(job) {
    return !C.isFinished(job.state) || (job.state === "SUCCEEDED" && (!job.imports || !/succeeded|failed/.test(job.imports.state)));
  }

  async function load() {
    if (loading) return;
    loading = true;
    clearTimeout(timer);
    var next = SLOW_MS;
    try {
      var data = await C.getJSON("/api/v1/batch/jobs?limit=100");
      var body = $("jobs").tBodies[0];
      body.replaceChildren.apply(body, data.jobs.map(row));
      var running = data.jobs.filter(busy).length;
      $("summary").textContent = data.jobs.length === 0
        ? "No jobs yet. Launch one with: offbatch launch ingredients-spellcheck"
        : data.jobs.length + " job" + (data.jobs.length === 1 ? "" : "s") + (running ? ", " + running + " in progress" : "") + ".";
      $("updated").textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC" +
        (running ? " · refreshing every " + FAST_MS / 1000 + " s" : "");
      $("message").hidden = true;
      if (running) next = FAST_MS;
    } catch (e) {
      $("message").textContent = "Could not list jobs: " + e.message;
      $("message").hidden = false;
      next = FAST_MS * 3;
    } finally {
      loading = false;
    }
    timer = setTimeout(load, next);
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("refresh").addEventListener("click", load);
    load();
  });
})();
