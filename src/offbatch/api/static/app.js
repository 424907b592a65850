/* The insights review page: lists insights from /api/v1/insights and annotates them.
 *
 * Everything from the API is user content (ingredient texts, usernames): it reaches the page
 * only as text nodes (el() / textContent), never as HTML. The annotation token is pasted once,
 * kept in this tab's sessionStorage, sent only in the Authorization header, and never put in
 * the URL or printed.
 */
(function () {
  "use strict";

  var API = "/api/v1/insights";
  var PAGE_SIZE = 20;
  var TOKEN_KEY = "offbatch.annotationToken";
  var USER_KEY = "offbatch.username";
  var OFF_PRODUCT = "https://world.openfoodfacts.org/product/";
  var OFF_IMAGES = "https://images.openfoodfacts.org/images/products/";

  var state = { page: 1, lang: "", status: "open", barcode: "", job: "" };
  // From /api/v1/info: whether this server accepts annotations at all (null: unknown).
  var annotationEnabled = null;
  var loadSeq = 0;

  // DOM helpers shared with the jobs pages (their script is loaded first by index.html).
  var $ = window.offbatchConsole.$;
  var el = window.offbatchConsole.el;

  function showMessage(text) {
    var box = $("message");
    box.textContent = text || "";
    box.hidden = !text;
  }

  /* -- token -------------------------------------------------------------------------- */

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function renderToken() {
    var has = !!token();
    $("token-missing").hidden = has;
    $("token-present").hidden = !has;
    $("username-input").value = sessionStorage.getItem(USER_KEY) || "";
  }

  function saveToken() {
    var value = $("token-input").value.trim();
    $("token-input").value = "";
    if (!value) { showMessage("Paste the annotation token first."); return; }
    sessionStorage.setItem(TOKEN_KEY, value);
    showMessage("");
    renderToken();
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    renderToken();
    $("token-input").focus();
  }

  /* -- errors ------------------------------------------------------------------------- */

  async function errorText(response) {
    var parsed = await window.offbatchConsole.errorDetail(response);
    var said = parsed.said, hint = parsed.hint;
    var s = response.status;
    if (s === 401) return "Not authorised (401)" + said + ". Paste the annotation token at the top of the page.";
    if (s === 403) return "Refused (403)" + said + (hint ? "." : ". Check the token: it must be this server's OFFBATCH_ANNOTATION_TOKEN.");
    if (s === 409) return "Already annotated (409): someone reviewed this insight meanwhile; their decision is shown.";
    if (s === 404) return "Not found (404)" + said + ".";
    if (s === 413 || s === 422) return "The server refused the request (" + s + ")" + said + ".";
    return "The server answered " + s + said + ".";
  }

  /* -- rendering ---------------------------------------------------------------------- */

  /* Open Food Facts' image path: codes longer than 8 digits, padded to 13, split 3/3/3/rest. */
  function imagePath(barcode) {
    var code = String(barcode);
    if (!/^\d+$/.test(code)) return null;
    if (code.length <= 8) return code;
    while (code.length < 13) code = "0" + code;
    return code.slice(0, 3) + "/" + code.slice(3, 6) + "/" + code.slice(6, 9) + "/" + code.slice(9);
  }

  /* data.image is "<key>.<rev>" (e.g. "ingredients_fr.12") from the dump's images column. */
  function imageUrl(barcode, image) {
    var path = imagePath(barcode);
    if (!path || typeof image !== "string" || !/^[a-z]+(_[a-z-]+)?\.\d+$/.test(image)) return null;
    return OFF_IMAGES + path + "/" + image + ".400.jpg";
  }

  function renderPhoto(insight) {
    var data = insight.data || {};
    var url = imageUrl(insight.barcode, data.image);
    if (!url) return el("p", { className: "no-photo" }, "No ingredients photo in the dump for this product.");
    var img = el("img", { src: url, alt: "Ingredients photo of " + (data.name || insight.barcode), loading: "lazy",
                          referrerpolicy: "no-referrer" });
    var figure = el("figure", { className: "photo" },
      el("a", { href: url.replace(".400.jpg", ".full.jpg"), target: "_blank", rel: "noopener noreferrer" }, img),
      el("figcaption", {}, "Ingredients photo (" + data.image + ")"));
    img.addEventListener("error", function () {
      figure.replaceWith(el("p", { className: "no-photo" },
        "The ingredients photo could not be loaded (the image server is unreachable from here, or the photo is gone). " +
        "Check the product on Open Food Facts."));
    });
    return figure;
  }

  function diffText(spans, mark) {
    var p = el("p", { className: "text" });
    spans.forEach(function (span) {
      p.appendChild(span.changed ? el(mark, {}, span.text) : document.createTextNode(span.text));
    });
    if (!spans.length) p.appendChild(el("span", { className: "muted" }, "(empty)"));
    return p;
  }

  function when(iso) {
    // The server stores UTC (naive on SQLite, with an offset on PostgreSQL).
    return iso ? String(iso).replace("T", " ").slice(0, 16) + " UTC" : "";
  }

  /* Long texts scroll inside their box: bring the first changed word into view in each. */
  function revealChanges(root) {
    root.querySelectorAll(".text").forEach(function (box) {
      var mark = box.querySelector("del, ins");
      if (mark && box.scrollHeight > box.clientHeight) {
        box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);  // .text is the offsetParent
      }
    });
  }

  function decision(insight) {
    if (insight.annotation === null || insight.annotation === undefined) return { key: "open", label: "open" };
    if (insight.annotation === 0) return { key: "rejected", label: "rejected" };
    if (insight.data && typeof insight.data.annotated_correction === "string") return { key: "edited", label: "edited" };
    return { key: "accepted", label: "accepted" };
  }

  function renderInsight(insight, notice) {
    var data = insight.data || {};
    var original = typeof data.original === "string" ? data.original : "";
    var suggested = typeof data.correction === "string" ? data.correction : "";
    var d = decision(insight);
    var shown = d.key === "edited" ? data.annotated_correction : suggested;
    var diff = window.offbatchDiff.diffWords(original, shown);

    var card = el("li", { className: "insight state-" + d.key, tabindex: "-1" });
    var link = el("a", { className: "barcode", href: OFF_PRODUCT + encodeURIComponent(insight.barcode),
                         target: "_blank", rel: "noopener noreferrer", title: "Open the product on Open Food Facts" },
                  insight.barcode);
    var by = d.key === "open" ? "" :
      " by " + (insight.annotated_by || "unknown") + (insight.annotated_at ? " on " + when(insight.annotated_at) : "");
    card.appendChild(el("div", { className: "meta" },
      link,
      insight.value_tag ? el("span", { className: "lang", title: "language" }, insight.value_tag) : null,
      el("span", { className: "badge badge-" + d.key }, d.label + by),
      el("span", { className: "muted", title: "predictor " + insight.predictor + ", job " + (insight.job_id || "?") },
         "#" + insight.id + " · " + insight.predictor_version + " · " + when(insight.created_at)),
      insight.job_id ? el("a", { className: "muted", href: "/jobs/" + encodeURIComponent(insight.job_id) }, "job") : null));
    card.appendChild(el("div", { className: "product" },
      typeof data.name === "string" && data.name
        ? el("span", { className: "product-name" }, data.name)
        : el("span", { className: "product-name missing" }, "no product name in the dump")));

    var texts = el("div", { className: "diff" },
      el("div", { className: "side original" }, el("h3", {}, "Original"), diffText(diff.original, "del")),
      el("div", { className: "side correction" },
         el("h3", {}, d.key === "edited" ? "Edited correction" : "Suggested correction"),
         diffText(diff.correction, "ins")));
    card.appendChild(el("div", { className: "insight-body" }, texts, renderPhoto(insight)));
    if (d.key === "edited") {
      card.appendChild(el("details", { className: "model" }, el("summary", {}, "Model suggestion"),
                          el("p", { className: "text" }, suggested)));
    }

    var error = el("p", { className: "card-error", role: "alert", hidden: !notice }, notice || "");
    if (d.key === "open") {
      var buttons = [];
      var accept = el("button", { type: "button", className: "accept" }, "Accept");
      var reject = el("button", { type: "button", className: "reject" }, "Reject");
      var edit = el("button", { type: "button", className: "secondary", "aria-expanded": "false" }, "Edit");
      buttons.push(accept, reject, edit);
      var editor = renderEditor(insight, original, suggested, card, error, buttons);
      accept.addEventListener("click", function () { annotate(insight, { annotation: "accept" }, card, error, buttons); });
      reject.addEventListener("click", function () { annotate(insight, { annotation: "reject" }, card, error, buttons); });
      edit.addEventListener("click", function () {
        editor.hidden = !editor.hidden;
        edit.setAttribute("aria-expanded", String(!editor.hidden));
        if (!editor.hidden) editor.querySelector("textarea").focus();
      });
      card.appendChild(el("div", { className: "actions" }, accept, reject, edit));
      if (annotationEnabled === false) {
        var why = "Reviewing is off: this server has no annotation token (OFFBATCH_ANNOTATION_TOKEN).";
        buttons.forEach(function (b) { b.disabled = true; b.title = why; });
        card.appendChild(el("p", { className: "reviewing-off" }, why));
      }
      card.appendChild(editor);
    }
    card.appendChild(error);
    return card;
  }

  function renderEditor(insight, original, suggested, card, error, buttons) {
    var area = el("textarea", { rows: "4", maxlength: "100000", spellcheck: "true",
                                "aria-label": "Corrected ingredients text" });
    area.value = suggested;
    var preview = el("div", { className: "preview" });
    var save = el("button", { type: "button", className: "accept" }, "Save edit");
    var cancel = el("button", { type: "button", className: "secondary" }, "Cancel");
    function refresh() {
      preview.replaceChildren(el("h3", {}, "Preview against the original"),
                              diffText(window.offbatchDiff.diffWords(original, area.value).correction, "ins"));
      save.disabled = !area.value.trim();
    }
    area.addEventListener("input", function () { refresh(); revealChanges(preview); });
    refresh();
    var box = el("div", { className: "editor", hidden: true }, area, preview, el("div", { className: "actions" }, save, cancel));
    save.addEventListener("click", function () {
      annotate(insight, { annotation: "edit", correction: area.value }, card, error, buttons.concat([save]));
    });
    cancel.addEventListener("click", function () {
      area.value = suggested;
      refresh();
      box.hidden = true;
    });
    return box;
  }

  /* -- API calls ---------------------------------------------------------------------- */

  async function annotate(insight, body, card, error, buttons) {
    var secret = token();
    if (!secret) {
      error.textContent = "Paste the annotation token at the top of the page first.";
      error.hidden = false;
      $("token-input").focus();
      return;
    }
    var username = sessionStorage.getItem(USER_KEY);
    if (username) body.username = username;
    buttons.forEach(function (b) { b.disabled = true; });
    error.hidden = true;
    try {
      var r = await fetch(API + "/" + encodeURIComponent(insight.id) + "/annotate", {
        method: "POST", cache: "no-store", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Authorization": "Bearer " + secret },
        body: JSON.stringify(body),
      });
      if (r.ok) {
        swap(card, renderInsight(await r.json()));
        return;
      }
      var text = await errorText(r);
      if (r.status === 409) {
        var fresh = await fetch(API + "/" + encodeURIComponent(insight.id), { cache: "no-store" });
        if (fresh.ok) { swap(card, renderInsight(await fresh.json(), text)); return; }
      }
      error.textContent = text;
    } catch (e) {
      error.textContent = "Cannot reach the server (" + e.message + "). Try again.";
    }
    error.hidden = false;
    buttons.forEach(function (b) { b.disabled = false; });
  }

  function swap(card, replacement) {
    card.replaceWith(replacement);
    revealChanges(replacement);
    replacement.focus({ preventScroll: true });
  }

  function query() {
    var q = new URLSearchParams();
    if (state.lang) q.set("lang", state.lang);
    if (state.barcode) q.set("barcode", state.barcode);
    if (state.status !== "all") q.set("annotated", String(state.status === "annotated"));
    if (state.job) q.set("job_id", state.job);
    q.set("page", String(state.page));
    q.set("page_size", String(PAGE_SIZE));
    return q;
  }

  async function load() {
    var seq = ++loadSeq;
    var list = $("insights");
    $("summary").textContent = "Loading…";
    showMessage("");
    try {
      var r = await fetch(API + "?" + query().toString(), { cache: "no-store" });
      if (seq !== loadSeq) return;
      if (!r.ok) {
        list.replaceChildren();
        $("summary").textContent = "";
        showMessage("Could not list insights. " + (await errorText(r)));
        return;
      }
      var page = await r.json();
      if (seq !== loadSeq) return;
      var last = Math.max(1, Math.ceil(page.count / page.page_size));
      if (page.count > 0 && !page.insights.length && state.page > last) {
        go(last);  // past the end (e.g. the last page was just reviewed): show the last page
        return;
      }
      list.replaceChildren.apply(list, page.insights.map(function (i) { return renderInsight(i); }));
      revealChanges(list);
      var pages = Math.max(1, Math.ceil(page.count / page.page_size));
      var what = (state.status === "all" ? "" : state.status + " ") + (page.count === 1 ? "insight" : "insights");
      var of = state.job ? " of job " + state.job : "";
      $("summary").textContent = page.count === 0 ? "No " + what + of + " match these filters." : page.count + " " + what + of + ".";
      $("page-info").textContent = "Page " + page.page + " of " + pages;
      $("prev").disabled = page.page <= 1;
      $("next").disabled = page.page >= pages;
    } catch (e) {
      if (seq !== loadSeq) return;
      $("summary").textContent = "";
      showMessage("Cannot reach the server (" + e.message + ").");
    }
  }

  /* -- filters and URL state (filters and page only: never the token) ------------------ */

  function readLocation() {
    var q = new URLSearchParams(window.location.search);
    state.lang = (q.get("lang") || "").trim();
    state.barcode = (q.get("barcode") || "").trim();
    state.status = ["open", "annotated", "all"].indexOf(q.get("status")) >= 0 ? q.get("status") : "open";
    state.page = Math.max(1, parseInt(q.get("page"), 10) || 1);
    state.job = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(q.get("job") || "") ? q.get("job") : "";
    var form = $("filters");
    form.elements.lang.value = state.lang;
    form.elements.barcode.value = state.barcode;
    form.elements.status.value = state.status;
  }

  function writeLocation() {
    var q = new URLSearchParams();
    if (state.lang) q.set("lang", state.lang);
    if (state.barcode) q.set("barcode", state.barcode);
    if (state.status !== "open") q.set("status", state.status);
    if (state.job) q.set("job", state.job);
    if (state.page > 1) q.set("page", String(state.page));
    var s = q.toString();
    window.history.replaceState(null, "", window.location.pathname + (s ? "?" + s : ""));
  }

  function go(page) {
    state.page = page;
    writeLocation();
    load();
    window.scrollTo(0, 0);
  }

  async function loadInfo() {
    try {
      var r = await fetch("/api/v1/info", { cache: "no-store" });
      if (r.ok) annotationEnabled = !!(await r.json()).annotation_enabled;
    } catch (e) { /* unknown: buttons stay enabled; the server answers 403 if it is off */ }
    if (annotationEnabled === false) {
      $("token-missing").hidden = true;
      $("token-present").hidden = true;
      $("token-off").hidden = false;
    }
  }

  async function init() {
    renderToken();
    readLocation();
    $("token-save").addEventListener("click", saveToken);
    $("token-input").addEventListener("keydown", function (e) { if (e.key === "Enter") saveToken(); });
    $("token-forget").addEventListener("click", forgetToken);
    $("username-input").addEventListener("change", function (e) {
      var name = e.target.value.trim();
      if (name) sessionStorage.setItem(USER_KEY, name); else sessionStorage.removeItem(USER_KEY);
    });
    $("filters").addEventListener("submit", function (e) {
      e.preventDefault();
      var form = e.target;
      state.lang = form.elements.lang.value.trim();
      state.barcode = form.elements.barcode.value.trim();
      state.status = form.elements.status.value;
      go(1);
    });
    $("filters").addEventListener("reset", function () {
      state.lang = ""; state.barcode = ""; state.status = "open"; state.job = "";
      go(1);
    });
    $("prev").addEventListener("click", function () { go(state.page - 1); });
    $("next").addEventListener("click", function () { go(state.page + 1); });
    await loadInfo();
    load();
  }

  document.addEventListener("DOMContentLoaded", init);
})();
