/* Shared by the jobs pages: DOM building from text only, times, money, states, API errors and
 * the operator token (the same tab-scoped token the review page uses; never put in a URL).
 */
(function () {
  "use strict";

  var TOKEN_KEY = "offbatch.annotationToken";

  function $(id) { return document.getElementById(id); }

  /* el("p", {className: "x", title: "y"}, "text", childNode, ...): strings become text nodes. */
  function el(tag, props) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === "className") node.className = props[key];
      else if (key === "hidden" || key === "disabled") node[key] = !!props[key];
      else node.setAttribute(key, String(props[key]));
    });
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number" ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function when(iso) {
    // The server stores UTC (naive on SQLite, with an offset on PostgreSQL).
    return iso ? String(iso).replace("T", " ").slice(0, 19) + " UTC" : "—";
  }

  function toDate(iso) {
    if (!iso) return null;
    var s = String(iso);
    if (!/(Z|[+-]\d\d:?\d\d)$/.test(s)) s += "Z";
    return new Date(s);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "—";
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }

  function money(value) {
    if (value === null || value === undefined) return "—";
    return "$" + Number(value).toFixed(value < 1 && value > 0 ? 4 : 2);
  }

  var FINISHED = ["SUCCEEDED", "FAILED", "CANCELLED"];
  function isFinished(state) { return FINISHED.indexOf(state) >= 0; }

  function stateBadge(state) {
    var s = String(state || "UNKNOWN");
    return el("span", { className: "state state-" + s.toLowerCase().replace(/_/g, "-"), title: s }, s.replace(/_/g, " "));
  }

  function importLabel(run) {
    if (!run) return "not imported";
    if (run.state === "succeeded") {
      return "imported: " + run.predictions_created + " predictions, " + run.insights_created + " insights new, " +
        run.insights_updated + " updated";
    }
    if (run.state === "failed") return "import failed: " + (run.error || "no error recorded");
    return "import " + run.state + " (" + run.parts_done + "/" + run.parts_total + " parts, " + run.rows_done + " rows)";
  }

  /* What an error response says, as {said: ": detail (hint)" or "", hint}: the API's ErrorOut
   * (or a validation error's list); each page words the status itself (errorText here, app.js). */
  async function errorDetail(response) {
    var detail = "", hint = "";
    try {
      var body = await response.json();
      if (typeof body.detail === "string") detail = body.detail;
      else if (Array.isArray(body.detail)) {
        detail = body.detail.map(function (e) { return (e.loc || []).slice(1).join(".") + ": " + e.msg; }).join("; ");
      }
      if (typeof body.hint === "string") hint = body.hint;
    } catch (e) { /* not JSON: the status says enough */ }
    return { said: detail ? ": " + detail + (hint ? " (" + hint + ")" : "") : "", hint: hint };
  }

  async function errorText(response) {
    var said = (await errorDetail(response)).said;
    if (response.status === 401) return "Not authorised (401)" + said + ". Paste the operator token at the top of the page.";
    if (response.status === 403) return "Refused (403)" + said + ".";
    if (response.status === 404) return "Not found (404)" + said + ".";
    return "The server answered " + response.status + said + ".";
  }

  async function getJSON(url) {
    var r = await fetch(url, { cache: "no-store", credentials: "same-origin" });
    if (!r.ok) {
      var err = new Error(await errorText(r));
      err.status = r.status;
      throw err;
    }
    return r.json();
  }

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  /* The token box in the header: paste once per tab, forget at will. onChange runs after both. */
  function setupToken(onChange) {
    function render() {
      var has = !!token();
      $("token-missing").hidden = has;
      $("token-present").hidden = !has;
      if (onChange) onChange();
    }
    function save() {
      var value = $("token-input").value.trim();
      $("token-input").value = "";
      if (!value) return;
      sessionStorage.setItem(TOKEN_KEY, value);
      render();
    }
    $("token-save").addEventListener("click", save);
    $("token-input").addEventListener("keydown", function (e) { if (e.key === "Enter") save(); });
    $("token-forget").addEventListener("click", function () { sessionStorage.removeItem(TOKEN_KEY); render(); });
    render();
  }

  async function serverInfo() {
    try { return await getJSON("/api/v1/info"); } catch (e) { return null; }
  }

  window.offbatchConsole = {
    $: $, el: el, when: when, toDate: toDate, duration: duration, money: money, isFinished: isFinished,
    stateBadge: stateBadge, importLabel: importLabel, errorDetail: errorDetail, errorText: errorText, getJSON: getJSON,
    token: token, setupToken: setupToken, serverInfo: serverInfo,
  };
})();
