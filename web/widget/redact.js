/*!
 * Shebao Assistant: mask ID numbers, mobile numbers and one-time codes in text.
 *
 * The JavaScript twin of common/redaction.py (same rules, same output); the
 * shared vectors in tests/common/redaction_vectors.json are run through both.
 * The widget uses it for everything it keeps in localStorage.
 *
 * Exposes window.ShebaoRedact.redactText (and module.exports under node).
 */
(function (global) {
  "use strict";

  var X_LOOKALIKES = "Xx\uff38\uff58\u00d7\u2169\u2179\u0425\u0445\u03a7\u03c7";
  var DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uff0d\ufe63";
  var DOTS = ".\uff0e\u00b7\u30fb";
  var SEPARATORS = " -.";
  var CURRENCY_BEFORE = "¥￥$";
  var MONEY_AFTER = ["元", "块", "yuan", "rmb", "cny"];
  var MAX_GROUPS = 16;
  var ND = /^\p{Nd}$/u;
  var SPACE = /^[\s\x1c-\x1f\x85]$/u;

  function decimalValue(ch) {
    if (!ND.test(ch)) return null;
    // Unicode keeps decimal digits in contiguous runs of whole 0-9 sets.
    var cp = ch.codePointAt(0);
    var start = cp;
    while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start -= 1;
    return (cp - start) % 10;
  }

  function foldChar(ch) {
    if (ch >= "0" && ch <= "9") return ch;
    var digit = decimalValue(ch);
    if (digit !== null) return String(digit);
    if (X_LOOKALIKES.indexOf(ch) >= 0) return "X";
    if (ch !== "\ufeff" && SPACE.test(ch)) return " ";
    if (DASHES.indexOf(ch) >= 0) return "-";
    if (DOTS.indexOf(ch) >= 0) return ".";
    return ch;
  }

  function isDigit(ch) {
    return ch !== undefined && ch >= "0" && ch <= "9" && ch.length === 1;
  }

  function isSeparator(ch) {
    return ch !== undefined && ch.length === 1 && SEPARATORS.indexOf(ch) >= 0;
  }

  function stars(n) {
    return new Array(Math.max(0, n) + 1).join("*");
  }

  function maskId(value) {
    if (value.length < 10) return stars(value.length);
    return value.slice(0, 6) + stars(value.length - 10) + value.slice(-4);
  }

  function maskPhone(digits) {
    if (digits.length < 7) return stars(digits.length);
    return digits.slice(0, 3) + stars(digits.length - 7) + digits.slice(-4);
  }

  function isMobile(digits) {
    return digits.length === 11 && digits[0] === "1" && "3456789".indexOf(digits[1]) >= 0;
  }

  function isPeriod(digits, groups) {
    if (groups.length > 1 && !(groups.length === 2 && groups[0].length === 4 && groups[1].length === 2)) {
      return false;
    }
    var year = parseInt(digits.slice(0, 4), 10);
    var month = parseInt(digits.slice(4), 10);
    return year >= 1990 && year <= 2099 && month >= 1 && month <= 12;
  }

  function moneyContext(folded, start, end) {
    var before = folded.slice(0, start).join("").replace(/ +$/, "");
    if (before && CURRENCY_BEFORE.indexOf(before[before.length - 1]) >= 0) return true;
    var after = folded.slice(end).join("").replace(/^ +/, "").toLowerCase();
    return MONEY_AFTER.some(function (word) {
      return after.indexOf(word) === 0;
    });
  }

  function span(chars, start, end) {
    return chars.slice(start, end).join("");
  }

  // The replacement for folded[start:end] (a run), or null if no rule
  // applies; the unchanged span for a decimal number or a period.
  function classify(folded, start, end, groups, seps) {
    var digits = groups.join("");
    var x = digits.slice(-1) === "X";
    var n = digits.length - (x ? 1 : 0);
    var dots = seps.filter(function (s) {
      return s === ".";
    }).length;
    if (dots === 1 && seps[seps.length - 1] === "." && groups[groups.length - 1].length <= 2 && !x) {
      if (n - groups[groups.length - 1].length <= 10) return span(folded, start, end);
    }
    if (!x) {
      var prefixes = ["86", "0086"];
      for (var p = 0; p < prefixes.length; p++) {
        var prefix = prefixes[p];
        var rest = digits.slice(prefix.length);
        if (digits.indexOf(prefix) === 0 && isMobile(rest)) {
          var cut = start;
          var seen = 0;
          while (seen < prefix.length) {
            if (isDigit(folded[cut])) seen += 1;
            cut += 1;
          }
          if (isSeparator(folded[cut])) cut += 1;
          return span(folded, start, cut) + maskPhone(rest);
        }
      }
    }
    if (n >= 15) return maskId(digits);
    if (x) return null;
    if (isMobile(digits)) return maskPhone(digits);
    if (n === 6) {
      if (isPeriod(digits, groups) || moneyContext(folded, start, end)) return span(folded, start, end);
      if (folded[start - 1] === "*" || folded[end] === "*") return span(folded, start, end);
      return "******";
    }
    return null;
  }

  function redactRun(original, folded, start, end) {
    var groups = [];
    var seps = [];
    var bounds = [];
    var i = start;
    while (i < end) {
      var j = i;
      while (j < end && !isSeparator(folded[j])) j += 1;
      groups.push(span(folded, i, j));
      bounds.push([i, j]);
      if (j < end) seps.push(folded[j]);
      i = j + 1;
    }
    var whole = classify(folded, start, end, groups, seps);
    if (whole !== null) return whole === span(folded, start, end) ? span(original, start, end) : whole;
    if (groups.length === 1 || groups.length > MAX_GROUPS) return span(original, start, end);
    // The longest runs of whole groups inside it, left to right.
    var out = [];
    var a = 0;
    while (a < groups.length) {
      var b;
      var found = null;
      for (b = groups.length; b > a; b--) {
        if (a === 0 && b === groups.length) continue;
        var s = bounds[a][0];
        var e = bounds[b - 1][1];
        found = classify(folded, s, e, groups.slice(a, b), seps.slice(a, b - 1));
        if (found !== null) {
          out.push(found === span(folded, s, e) ? span(original, s, e) : found);
          break;
        }
      }
      if (found === null) {
        b = a + 1;
        out.push(span(original, bounds[a][0], bounds[a][1]));
      }
      if (b < groups.length) out.push(original[bounds[b - 1][1]]);
      a = b;
    }
    return out.join("");
  }

  function redactText(text) {
    var original = Array.from(String(text));
    var folded = original.map(foldChar);
    var out = [];
    var i = 0;
    var length = original.length;
    while (i < length) {
      if (!isDigit(folded[i])) {
        out.push(original[i]);
        i += 1;
        continue;
      }
      var j = i;
      var digitCount = 0;
      while (j < length) {
        if (isDigit(folded[j])) {
          j += 1;
          digitCount += 1;
        } else if (isSeparator(folded[j]) && j + 1 < length && isDigit(folded[j + 1])) {
          j += 1;
        } else {
          break;
        }
      }
      if (j < length && folded[j] === "X" && digitCount >= 14) j += 1;
      out.push(redactRun(original, folded, i, j));
      i = j;
    }
    return out.join("");
  }

  // True if redactText would change the text (it holds something to mask).
  function hasPersonalData(text) {
    return redactText(text) !== String(text);
  }

  var api = { redactText: redactText, hasPersonalData: hasPersonalData };
  if (typeof module === "object" && module.exports) module.exports = api;
  else global.ShebaoRedact = api;
})(typeof window !== "undefined" ? window : this);
