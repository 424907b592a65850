/* Word-level diff for the review page: which words of the original and of the correction
 * changed. Plain script (no modules, no build step); also loadable by node for the tests.
 *
 * diffWords(a, b) -> {original: [{text, changed}], correction: [{text, changed}]}
 * Tokens are runs of letters/digits, runs of whitespace, or single other characters, so a
 * fixed comma or a split word is highlighted on its own. Common prefix and suffix are trimmed
 * first (a correction usually touches a few words of a long text); the middle is an LCS. A
 * middle too large for the table (MAX_CELLS) is marked changed as a whole instead of freezing
 * the tab: ingredient texts can reach 100,000 characters.
 */
(function (root) {
  "use strict";

  var MAX_CELLS = 4000000;
  var TOKEN = /[\p{L}\p{N}\p{M}]+|\s+|[^\p{L}\p{N}\p{M}\s]/gu;

  function tokenize(text) {
    return text ? text.match(TOKEN) || [] : [];
  }

  function merge(out, text, changed) {
    // Whitespace between two changed words belongs to the change (one highlighted span).
    var last = out[out.length - 1];
    if (last && last.changed === changed) {
      last.text += text;
    } else {
      out.push({ text: text, changed: changed });
    }
  }

  function lcsMarks(a, b) {
    // marks[i] true when a[i] is not in the LCS; same for b. Table of suffix LCS lengths.
    var n = a.length, m = b.length, w = m + 1;
    var table = new Uint32Array((n + 1) * w);
    for (var i = n - 1; i >= 0; i--) {
      for (var j = m - 1; j >= 0; j--) {
        table[i * w + j] = a[i] === b[j]
          ? table[(i + 1) * w + j + 1] + 1
          : Math.max(table[(i + 1) * w + j], table[i * w + j + 1]);
      }
    }
    var ma = new Array(n).fill(true), mb = new Array(m).fill(true);
    i = 0; j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) { ma[i] = false; mb[j] = false; i++; j++; }
      else if (table[(i + 1) * w + j] >= table[i * w + j + 1]) { i++; }
      else { j++; }
    }
    return [ma, mb];
  }

  function diffWords(original, correction) {
    var a = tokenize(original), b = tokenize(correction);
    var start = 0;
    while (start < a.length && start < b.length && a[start] === b[start]) start++;
    var endA = a.length, endB = b.length;
    while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) { endA--; endB--; }
    var midA = a.slice(start, endA), midB = b.slice(start, endB);
    var marks;
    if (midA.length * midB.length > MAX_CELLS) {
      marks = [midA.map(function () { return true; }), midB.map(function () { return true; })];
    } else {
      marks = lcsMarks(midA, midB);
    }
    function spans(tokens, end, mid) {
      var out = [];
      for (var k = 0; k < tokens.length; k++) {
        var inMid = k >= start && k < end;
        var changed = inMid && mid[k - start];
        // Unchanged whitespace inside a changed run joins it rather than splitting the highlight.
        if (!changed && inMid && /^\s+$/.test(tokens[k]) && out.length && out[out.length - 1].changed &&
            k + 1 < end && mid[k + 1 - start]) {
          changed = true;
        }
        merge(out, tokens[k], changed);
      }
      return out;
    }
    return { original: spans(a, endA, marks[0]), correction: spans(b, endB, marks[1]) };
  }

  var api = { diffWords: diffWords, tokenize: tokenize, MAX_CELLS: MAX_CELLS };
  if (typeof module !== "undefined" && module.exports) {
    module.exports = api;
  } else {
    root.offbatchDiff = api;
  }
})(this);
