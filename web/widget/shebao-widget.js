/*!
 * Shebao Assistant web chat widget (社保助手在线咨询).
 *
 * Embed with one tag; options are data- attributes on it:
 *   <script src="https://bureau.example/widget/shebao-widget.js"
 *           data-socket-url="https://chat.bureau.example" data-lang="zh" defer></script>
 *
 * Talks to Rasa's socket.io channel (events user_uttered / bot_uttered,
 * session_persistence: true). The socket.io client is loaded from the same
 * folder as this file (socket.io.min.js), never from a CDN.
 *
 * Security: bot and user text are untrusted. Everything is built with DOM
 * methods and textContent; no HTML string is ever parsed.
 *
 * Privacy: localStorage holds only masked text (redact.js, the same rules as
 * common/redaction.py); answers typed while the bot asks for an ID number or
 * a code are stored as stars. Stored history expires (data-history-hours);
 * "End chat" sends /end_chat, asks for feedback (/give_feedback{...}, stored
 * in the conversation) and starts a new session. The transcript the resident
 * downloads or prints is masked the same way.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__shebaoWidgetLoaded) return;
  window.__shebaoWidgetLoaded = true;

  // ---------------------------------------------------------------- options
  var data = script.dataset;
  var scriptUrl = new URL(script.src, document.baseURI);
  // Versioned (content-hashed) names of the files this script loads, filled
  // in by the widget server (web/app.py); served as-is, the plain names apply.
  var ASSETS = /*shebao:assets*/ {} /*shebao:end*/;
  function asset(name) {
    return new URL(ASSETS[name] || name, scriptUrl).href;
  }
  function safeWebsite(value) {
    if (!value) return null;
    try {
      var url = new URL(value, document.baseURI);
      return /^https?:$/.test(url.protocol) ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function flag(value, fallback) {
    if (value === undefined) return fallback;
    return value === "" || value === "true" || value === "1" || value === "yes";
  }

  function pickLanguage(value) {
    if (!value) return null;
    value = String(value).toLowerCase();
    if (value.indexOf("zh") === 0) return "zh";
    if (value.indexOf("en") === 0) return "en";
    return null;
  }

  var options = {
    // Rasa server as the browser reaches it; a path part is a socket.io namespace.
    socketUrl: data.socketUrl || scriptUrl.origin,
    socketPath: data.socketPath || "/socket.io/",
    transports: (data.transports || "websocket").split(",").map(function (t) {
      return t.trim();
    }).filter(Boolean),
    lang: pickLanguage(data.lang) || pickLanguage(document.documentElement.lang) || "zh",
    title: data.title || null,
    position: data.position === "left" ? "left" : "right",
    open: flag(data.open, false),
    storageKey: data.storageKey || "shebao-widget",
    maxHistory: parseInt(data.maxHistory || "200", 10) || 200,
    // Stored history older than this is deleted (also other, closed tabs' logs).
    historyHours: parseFloat(data.historyHours) > 0 ? parseFloat(data.historyHours) : 24,
    redactUrl: data.redactSrc || asset("redact.js"),
    clientUrl: data.socketioSrc || asset("socket.io.min.js"),
    cssUrl: data.css || asset("shebao-widget.css"),
    // After this long "reconnecting", the banner adds the 12333 advice.
    outageSeconds: parseFloat(data.outageSeconds) >= 0 ? parseFloat(data.outageSeconds) : 30,
    // The city's social-insurance website, linked in the footer (http(s) only).
    websiteUrl: safeWebsite(data.websiteUrl),
  };

  // ---------------------------------------------------------- UI strings
  var STRINGS = {
    zh: {
      title: "社保助手",
      subtitle: "社会保险在线咨询",
      launcher: "在线咨询",
      launcherLabel: "打开社保助手在线咨询",
      close: "关闭",
      closeLabel: "关闭对话窗口",
      language: "语言",
      log: "对话记录",
      inputLabel: "输入您的问题",
      placeholder: "请输入您的问题，按回车发送",
      send: "发送",
      sendLabel: "发送消息",
      you: "您",
      bot: "社保助手",
      typing: "社保助手正在输入…",
      connecting: "正在连接…",
      online: "在线",
      reconnecting: "连接已断开，正在重新连接…",
      reconnectingShort: "重新连接中",
      outage: "仍在尝试重新连接… 暂时无法连接服务，请稍后再试，或拨打 12333 咨询热线。",
      offline: "暂时无法连接服务，请稍后再试，或拨打 12333 咨询热线。",
      offlineShort: "未连接",
      restored: "已重新连接。",
      welcome:
        "您好！我是社保助手。我可以为您解答个人缴纳医保、单位社保登记和缴费查询等问题。请问有什么可以帮您？",
      suggestions: [
        "我想自己交医保，怎么办？",
        "单位怎么办理社保登记？",
        "交费后怎么查询？",
      ],
      suggestionsLabel: "常见问题",
      choicesLabel: "请选择",
      notice: "只有在助手请求核实身份时才填写身份证号；请勿发送银行卡号、密码。",
      endChat: "结束对话",
      endChatLabel: "结束对话：核验失效，并清除本机保存的聊天记录",
      endTitle: "结束本次对话？",
      endText: "结束后，本次对话中的身份核验将失效，本机保存的聊天记录会被清除。",
      endConfirm: "结束对话",
      endCancel: "继续对话",
      feedbackTitle: "对话已结束",
      feedbackIntro: "欢迎花几秒钟评价本次服务（可不填）。",
      answeredQuestion: "您的问题得到解答了吗？",
      yes: "是",
      no: "否",
      ratingQuestion: "请为本次服务打分（1 分最低，5 分最高）",
      ratingLabel: "分",
      commentLabel: "其他意见（可不填）",
      commentHint: "请勿填写身份证号、手机号等个人信息。",
      sendFeedback: "提交评价",
      skip: "跳过",
      thanksTitle: "感谢您的评价！",
      endedTitle: "对话已结束",
      clearedText: "本机保存的聊天记录已清除。",
      newChat: "开始新对话",
      download: "下载记录",
      downloadLabel: "下载对话记录（文本文件，个人信息已隐藏）",
      print: "打印",
      printLabel: "打印对话记录（个人信息已隐藏）",
      website: "官方网站",
      transcriptTitle: "社保助手 · 对话记录",
      transcriptSaved: "导出时间：",
      transcriptNote: "为保护您的隐私，身份证号、手机号和验证码已隐藏。",
      transcriptEmpty: "（暂无对话）",
      unread: "有新消息",
      image: "图片",
      dateFormat: "zh-CN",
    },
    en: {
      title: "Shebao Assistant",
      subtitle: "Social insurance help",
      launcher: "Ask us",
      launcherLabel: "Open the Shebao Assistant chat",
      close: "Close",
      closeLabel: "Close the chat window",
      language: "Language",
      log: "Conversation",
      inputLabel: "Type your question",
      placeholder: "Type your question and press Enter",
      send: "Send",
      sendLabel: "Send message",
      you: "You",
      bot: "Shebao Assistant",
      typing: "Shebao Assistant is typing…",
      connecting: "Connecting…",
      online: "Online",
      reconnecting: "Connection lost. Reconnecting…",
      reconnectingShort: "Reconnecting",
      outage:
        "Still trying to reconnect… The chat service can't be reached right now. Please try again later, or call the 12333 hotline.",
      offline:
        "The chat service can't be reached right now. Please try again later, or call the 12333 hotline.",
      offlineShort: "Offline",
      restored: "Connected again.",
      welcome:
        "Hello! I'm Shebao Assistant. I can help with paying medical insurance yourself, employer social-insurance registration and checking your payments. What would you like to know?",
      suggestions: [
        "How do I pay medical insurance myself?",
        "How does an employer register for social insurance?",
        "How can I check my payments?",
      ],
      suggestionsLabel: "Common questions",
      choicesLabel: "Choose one",
      notice: "Only type your ID number when the assistant asks to verify you; never send bank card numbers or passwords.",
      endChat: "End chat",
      endChatLabel: "End chat: cancels the verification and clears the history saved on this device",
      endTitle: "End this chat?",
      endText: "Ending it cancels any identity verification in this chat and clears the chat history saved on this device.",
      endConfirm: "End chat",
      endCancel: "Keep chatting",
      feedbackTitle: "Chat ended",
      feedbackIntro: "Would you tell us how it went? (optional)",
      answeredQuestion: "Did you get an answer?",
      yes: "Yes",
      no: "No",
      ratingQuestion: "How would you rate this chat? (1 = poor, 5 = excellent)",
      ratingLabel: "out of 5",
      commentLabel: "Any other comments? (optional)",
      commentHint: "Please don't include your ID number, phone number or other personal details.",
      sendFeedback: "Send feedback",
      skip: "Skip",
      thanksTitle: "Thank you for your feedback!",
      endedTitle: "Chat ended",
      clearedText: "The chat history saved on this device has been cleared.",
      newChat: "Start a new chat",
      download: "Download",
      downloadLabel: "Download the conversation (text file, personal details masked)",
      print: "Print",
      printLabel: "Print the conversation (personal details masked)",
      website: "Official website",
      transcriptTitle: "Shebao Assistant · Conversation",
      transcriptSaved: "Saved: ",
      transcriptNote: "For your privacy, ID numbers, phone numbers and codes are masked.",
      transcriptEmpty: "(no messages yet)",
      unread: "New message",
      image: "Image",
      dateFormat: "en-GB",
    },
  };

  // ---------------------------------------------------------- storage
  // localStorage is shared by every tab of the site, which is what makes a
  // second tab continue the same conversation. Falls back to memory if blocked.
  var memory = {};
  var store = {
    get: function (key) {
      try {
        return window.localStorage.getItem(options.storageKey + ":" + key);
      } catch (e) {
        return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
      }
    },
    set: function (key, value) {
      try {
        window.localStorage.setItem(options.storageKey + ":" + key, value);
      } catch (e) {
        memory[key] = value;
      }
    },
    remove: function (key) {
      try {
        window.localStorage.removeItem(options.storageKey + ":" + key);
      } catch (e) {
        delete memory[key];
      }
    },
    keys: function (prefix) {
      var found = [];
      var full = options.storageKey + ":" + prefix;
      try {
        for (var i = 0; i < window.localStorage.length; i++) {
          var name = window.localStorage.key(i);
          if (name && name.indexOf(full) === 0) found.push(name.slice(options.storageKey.length + 1));
        }
      } catch (e) {
        Object.keys(memory).forEach(function (name) {
          if (name.indexOf(prefix) === 0) found.push(name);
        });
      }
      return found;
    },
    getJSON: function (key, fallback) {
      try {
        var raw = store.get(key);
        return raw ? JSON.parse(raw) : fallback;
      } catch (e) {
        return fallback;
      }
    },
  };
  var tabStore = {
    get: function (key) {
      try {
        return window.sessionStorage.getItem(options.storageKey + ":" + key);
      } catch (e) {
        return null;
      }
    },
    set: function (key, value) {
      try {
        window.sessionStorage.setItem(options.storageKey + ":" + key, value);
      } catch (e) {
        /* per-tab state is a nicety only */
      }
    },
  };

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  // Each tab records what it sees in its own log ("log:<tab id>"), so no two
  // tabs ever rewrite the same localStorage value (a read-modify-write from
  // two tabs can lose an entry: other tabs see a write only a moment later).
  // The id lives in sessionStorage, so a reload keeps writing the same log.
  var tabId = tabStore.get("tab") || randomId();
  tabStore.set("tab", tabId);
  var LOG_PREFIX = "log:";
  var state = {
    lang: pickLanguage(store.get("lang")) || options.lang,
    open: tabStore.get("open") === null ? options.open : tabStore.get("open") === "1",
    connection: "connecting", // connecting | online | reconnecting | offline
    everConnected: false,
    sessionConfirmed: false,
    typingTimer: null,
    socket: null,
    rendered: [], // ids of the entries now in the log, in order
    unread: false,
    pendingLanguage: null,
    // What this page showed, unmasked, by entry id: the current conversation
    // stays readable on screen while storage only ever holds masked text.
    shown: {},
    pendingEnd: null, // a session id whose /end_chat could not be sent yet
    endingSession: null, // that session, rejoined to send /end_chat on reconnect
    restarting: false,
    outage: false, // "reconnecting" for longer than options.outageSeconds
    outageTimer: null,
    // The end-of-chat sheet: null | "confirm" | "feedback" | "done"
    ending: null,
    endedSession: null, // the conversation the feedback belongs to
    feedback: { answered: null, rating: null, comment: "" },
    feedbackSent: false,
    afterReply: null, // called with the next bot message (the feedback thanks)
    awaitingEndReply: false, // the bot has not yet confirmed /end_chat
    finishTimer: null,
  };

  // ------------------------------------------------------------- privacy
  // Masking with the same rules as the server (redact.js, loaded before the
  // widget connects). Until it loads, or if it cannot, every digit is masked.
  function redact(text) {
    var api = window.ShebaoRedact;
    if (api && typeof api.redactText === "function") return api.redactText(String(text));
    return Array.from(String(text))
      .map(function (ch) {
        return /\p{Nd}/u.test(ch) ? "*" : ch;
      })
      .join("");
  }

  // The bot's reply asking for an ID number or a code: the verification form
  // is active, and what the resident answers is kept nowhere, even masked.
  var ASKS_TO_TYPE = /请[^。！？\n]{0,20}输入|重新输入|please type|type it|type the full number/i;
  var SECRET_WORDS = /身份证|验证码|ID number|code|number/i;

  function verificationActive() {
    var history = loadHistory();
    for (var i = history.length - 1; i >= 0; i--) {
      if (history[i].from !== "bot") continue;
      var text = (state.shown[history[i].id] || history[i]).text;
      return ASKS_TO_TYPE.test(text) && SECRET_WORDS.test(text);
    }
    return false;
  }

  function hidden(text) {
    return String(text).replace(/[^\s]/gu, "*");
  }

  // The form of an entry that may be written to localStorage.
  function storable(entry, secret) {
    var copy = { id: entry.id, from: entry.from, text: secret ? hidden(entry.text) : redact(entry.text), ts: entry.ts };
    if (entry.image) copy.image = entry.image;
    if (entry.quick_replies) {
      copy.quick_replies = entry.quick_replies.map(function (r) {
        return { title: redact(r.title), payload: redact(r.payload) };
      });
    }
    return copy;
  }

  function cutoff() {
    return Date.now() - options.historyHours * 3600 * 1000;
  }

  function t(key) {
    return STRINGS[state.lang][key];
  }

  function sessionId() {
    var id = store.get("session");
    if (!id) {
      id = randomId();
      store.set("session", id);
    }
    return id;
  }

  function validEntry(entry) {
    return (
      entry &&
      typeof entry === "object" &&
      typeof entry.id === "string" &&
      (entry.from === "user" || entry.from === "bot") &&
      typeof entry.text === "string" &&
      typeof entry.ts === "number" &&
      isFinite(entry.ts)
    );
  }

  // Every tab in the conversation receives each bot message and logs it, so
  // the merged logs hold it once per tab: within the bot's answer to one user
  // message, an entry with the text of an earlier one from the last few
  // seconds is that same message.
  function withoutDoubleRecords(history) {
    var answer = [];
    return history.filter(function (entry) {
      if (entry.from === "user") {
        answer = [];
        return true;
      }
      var twice = answer.some(function (old) {
        return old.text === entry.text && Math.abs(old.ts - entry.ts) < 3000;
      });
      if (!twice) answer.push(entry);
      return !twice;
    });
  }

  function readLog(key) {
    var entries = store.getJSON(key, []);
    var oldest = cutoff();
    return Array.isArray(entries)
      ? entries.filter(function (entry) {
          return validEntry(entry) && entry.ts >= oldest;
        })
      : [];
  }

  // Delete expired entries from every tab's log (a closed tab's log goes
  // entirely), mask what an older widget version stored unmasked, and forget
  // the session id once the whole conversation has expired.
  function pruneStorage() {
    var kept = 0;
    store.keys(LOG_PREFIX).forEach(function (key) {
      var raw = store.get(key);
      var entries = readLog(key).map(function (entry) {
        return storable(entry, false);
      });
      kept += entries.length;
      if (!entries.length) store.remove(key);
      else {
        var value = JSON.stringify(entries);
        if (value !== raw) store.set(key, value);
      }
    });
    var seen = parseFloat(store.get("seen") || "0");
    if (!kept && seen < cutoff()) {
      store.remove("session");
      store.remove("seen");
    }
  }

  // The conversation as all tabs logged it, in time order, each message once.
  function loadHistory() {
    var merged = [];
    store.keys(LOG_PREFIX).forEach(function (key) {
      merged = merged.concat(readLog(key));
    });
    merged.sort(function (a, b) {
      return a.ts - b.ts;
    });
    var history = withoutDoubleRecords(merged);
    return history.slice(Math.max(0, history.length - options.maxHistory));
  }

  // Append to this tab's own log (only this tab writes it).
  function logEntry(entry, secret) {
    var key = LOG_PREFIX + tabId;
    var entries = readLog(key);
    state.shown[entry.id] = entry;
    entries.push(storable(entry, secret));
    store.set("seen", String(Date.now()));
    if (entries.length > options.maxHistory) {
      entries = entries.slice(entries.length - options.maxHistory);
    }
    store.set(key, JSON.stringify(entries));
  }

  function appendEntry(entry, secret) {
    logEntry(entry, secret);
    renderHistory();
  }

  // -------------------------------------------------------------- DOM helpers
  var SVG_NS = "http://www.w3.org/2000/svg";

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "text") node.textContent = value;
        else if (name === "className") node.className = value;
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child) node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function icon(paths, size) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", String(size || 20));
    svg.setAttribute("height", String(size || 20));
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    paths.forEach(function (d) {
      var path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }

  var ICONS = {
    chat: [
      "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-4.6 3.5A.9.9 0 0 1 3 20.8V6a2 2 0 0 1 1-2zm3 6.2a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6zm5 0a1.3 1.3 0 1 0 0 2.6 1.3 1.3 0 0 0 0-2.6z",
    ],
    close: [
      "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z",
    ],
    send: ["M3.4 20.4 21 12 3.4 3.6 3.4 10.2 15 12 3.4 13.8z"],
    end: ["M5 4h9a2 2 0 0 1 2 2v3h-2V6H5v12h9v-3h2v3a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm12.6 4.6L21 12l-3.4 3.4-1.4-1.4 1-1H9v-2h8.2l-1-1z"],
  };

  function looksChinese(text) {
    return /[\u3400-\u9fff]/.test(text || "");
  }

  // ------------------------------------------------------------- Markdown
  // A small, safe subset: **bold**, [label](url), bare URLs, "- " / "1. "
  // lists and line breaks. Produces DOM nodes from text; never parses HTML.
  // Absolute web, mail and phone links, and root-relative paths of the host
  // site (the bureau's own pages, e.g. its privacy notice at /privacy).
  var SAFE_URL = /^(https?:|mailto:|tel:|\/(?![\/\\]))/i;
  var INLINE =
    /\*\*([^*]+?)\*\*|\[([^\]\n]+)\]\(([^)\s]+)\)|(https?:\/\/[^\s<>()"'，。；！？、]+[^\s<>()"'.,;:!?，。；：！？、])/g;

  function link(label, href) {
    if (!SAFE_URL.test(href)) return document.createTextNode(label);
    var anchor = el("a", { href: href, rel: "noopener noreferrer nofollow", text: label });
    if (/^https?:/i.test(href)) anchor.setAttribute("target", "_blank");
    return anchor;
  }

  // The 12333 hotline, wherever it appears in plain text, becomes a tap-to-call
  // link (tel:12333). Not inside longer digit runs (a phone or ID number).
  var HOTLINE = /(^|[^0-9])(12333)(?![0-9])/g;

  function appendText(target, text) {
    var last = 0;
    var match;
    HOTLINE.lastIndex = 0;
    while ((match = HOTLINE.exec(text)) !== null) {
      var start = match.index + match[1].length;
      if (start > last) target.appendChild(document.createTextNode(text.slice(last, start)));
      var call = link(match[2], "tel:" + match[2]);
      call.className = "tel";
      target.appendChild(call);
      last = start + match[2].length;
    }
    if (last < text.length) target.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderInline(text, target, depth) {
    var last = 0;
    var match;
    INLINE.lastIndex = 0;
    var matches = [];
    while ((match = INLINE.exec(text)) !== null) {
      matches.push({ index: match.index, end: INLINE.lastIndex, groups: match.slice(1) });
    }
    matches.forEach(function (m) {
      if (m.index > last) appendText(target, text.slice(last, m.index));
      var g = m.groups;
      // Stars next to stars are masked digits ("138****5678"), not bold.
      var masked = g[0] !== undefined && (text.charAt(m.index - 1) === "*" || text.charAt(m.end) === "*");
      if (masked) {
        appendText(target, text.slice(m.index, m.end));
      } else if (g[0] !== undefined) {
        var strong = el("strong");
        if (depth < 2) renderInline(g[0], strong, depth + 1);
        else appendText(strong, g[0]);
        target.appendChild(strong);
      } else if (g[1] !== undefined) {
        target.appendChild(link(g[1], g[2]));
      } else {
        target.appendChild(link(g[3], g[3]));
      }
      last = m.end;
    });
    if (last < text.length) appendText(target, text.slice(last));
  }

  // The text as the resident read it, for the transcript: **bold** without
  // the stars, [label](url) as "label (url)".
  function plainText(text) {
    return String(text || "")
      // not the stars of masked digits ("138****5678")
      .replace(/(^|[^*])\*\*([^*\s][^*]*?)\*\*(?!\*)/g, "$1$2")
      .replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, "$1 ($2)");
  }

  function renderMarkdown(text) {
    var fragment = document.createDocumentFragment();
    var lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    var paragraph = null;
    var list = null;
    lines.forEach(function (line) {
      var bullet = /^\s*[-*•·]\s+(.*)$/.exec(line);
      var numbered = /^\s*(\d{1,3})[.)、]\s*(.*)$/.exec(line);
      if (bullet || numbered) {
        var kind = bullet ? "ul" : "ol";
        if (!list || list.tagName.toLowerCase() !== kind) {
          list = el(kind);
          if (numbered && numbered[1] !== "1") list.setAttribute("start", numbered[1]);
          fragment.appendChild(list);
        }
        var item = el("li");
        renderInline(bullet ? bullet[1] : numbered[2], item, 0);
        list.appendChild(item);
        paragraph = null;
        return;
      }
      list = null;
      if (!line.trim()) {
        paragraph = null;
        return;
      }
      if (paragraph) paragraph.appendChild(el("br"));
      else {
        paragraph = el("p");
        fragment.appendChild(paragraph);
      }
      renderInline(line, paragraph, 0);
    });
    return fragment;
  }

  // ------------------------------------------------------------- the widget
  var host = el("div", { id: "shebao-widget", "data-position": options.position });
  host.hidden = true; // shown once the stylesheet has loaded (no flash of raw UI)
  var root = host.attachShadow({ mode: "open" });
  var stylesheet = el("link", { rel: "stylesheet", href: options.cssUrl });
  stylesheet.addEventListener("load", function () {
    host.hidden = false;
    scrollToEnd(); // the restored history was laid out only now
  });
  stylesheet.addEventListener("error", function () {
    host.hidden = false;
  });
  root.appendChild(stylesheet);

  var ui = {};
  ui.launcherText = el("span", { className: "launcher-text" });
  ui.badge = el("span", { className: "badge", hidden: true });
  ui.launcher = el(
    "button",
    { type: "button", className: "launcher", "aria-expanded": "false", "aria-controls": "shebao-panel" },
    [icon(ICONS.chat, 24), ui.launcherText, ui.badge]
  );

  ui.title = el("h2", { className: "title", id: "shebao-title" });
  ui.statusDot = el("span", { className: "status-dot", "aria-hidden": "true" });
  ui.statusText = el("span", { className: "status-text" });
  ui.subtitle = el("p", { className: "subtitle" }, [ui.statusDot, ui.statusText]);
  ui.langGroup = el("div", { className: "lang-switch", role: "group" });
  ui.langButtons = {
    zh: el("button", { type: "button", lang: "zh-CN", "data-lang": "zh", text: "中文" }),
    en: el("button", { type: "button", lang: "en", "data-lang": "en", text: "English" }),
  };
  ui.langGroup.appendChild(ui.langButtons.zh);
  ui.langGroup.appendChild(ui.langButtons.en);
  ui.closeButton = el("button", { type: "button", className: "icon-button close" }, [icon(ICONS.close, 20)]);
  ui.endText = el("span", { className: "end-text" });
  ui.endButton = el("button", { type: "button", className: "end-chat" }, [icon(ICONS.end, 18), ui.endText]);
  ui.header = el("header", { className: "header" }, [
    el("div", { className: "heading" }, [ui.title, ui.subtitle]),
    el("div", { className: "header-tools" }, [ui.langGroup, ui.endButton, ui.closeButton]),
  ]);

  ui.banner = el("div", { className: "banner", hidden: true });
  ui.status = el("div", { className: "sr-only", role: "status", "aria-live": "polite" });

  ui.welcome = el("div", { className: "welcome" });
  ui.log = el("ol", { className: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  // Announced once through the status region instead (see showTyping).
  ui.typing = el("div", { className: "typing", "aria-hidden": "true", hidden: true }, [
    el("span", { className: "dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]),
    el("span", { className: "typing-text" }),
  ]);
  ui.scroller = el("div", { className: "scroller", tabindex: "-1" }, [ui.welcome, ui.log, ui.typing]);

  // End of chat: confirm, then the feedback survey, then "start a new chat".
  ui.sheet = el("div", { className: "sheet", role: "region", "aria-labelledby": "shebao-sheet-title", hidden: true });

  ui.notice = el("p", { className: "notice" });
  ui.downloadButton = el("button", { type: "button", className: "link-button download" });
  ui.printButton = el("button", { type: "button", className: "link-button print" });
  ui.website = options.websiteUrl
    ? el("a", { className: "website", href: options.websiteUrl, target: "_blank", rel: "noopener noreferrer" })
    : null;
  ui.input = el("textarea", {
    id: "shebao-input",
    className: "input",
    rows: "1",
    maxlength: "1000",
    autocomplete: "off",
    enterkeyhint: "send",
  });
  ui.inputLabel = el("label", { for: "shebao-input", className: "sr-only" });
  ui.sendButton = el("button", { type: "submit", className: "send" }, [icon(ICONS.send, 20)]);
  ui.form = el("form", { className: "composer", novalidate: true }, [ui.inputLabel, ui.input, ui.sendButton]);
  ui.footer = el("footer", { className: "footer" }, [
    ui.form,
    ui.notice,
    el("div", { className: "footer-row" }, [ui.downloadButton, ui.printButton, ui.website]),
  ]);

  ui.panel = el(
    "section",
    { id: "shebao-panel", className: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "shebao-title", hidden: true },
    [ui.header, ui.banner, ui.sheet, ui.scroller, ui.footer, ui.status]
  );
  ui.container = el("div", { className: "container", "data-position": options.position }, [ui.panel, ui.launcher]);
  root.appendChild(ui.container);

  // ------------------------------------------------------------- rendering
  function formatTime(ts) {
    var date = new Date(ts);
    var now = new Date();
    var sameDay = date.toDateString() === now.toDateString();
    var opts = sameDay
      ? { hour: "2-digit", minute: "2-digit" }
      : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    try {
      return new Intl.DateTimeFormat(t("dateFormat"), opts).format(date);
    } catch (e) {
      return date.toLocaleTimeString();
    }
  }

  function renderEntry(entry) {
    entry = state.shown[entry.id] || entry;
    var mine = entry.from === "user";
    var bubble = el("div", { className: "bubble", lang: looksChinese(entry.text) ? "zh-CN" : "en" });
    if (entry.text) {
      if (mine) bubble.appendChild(el("p", { text: entry.text }));
      else bubble.appendChild(renderMarkdown(entry.text));
    }
    if (entry.image && SAFE_URL.test(entry.image) && /^https?:/i.test(entry.image)) {
      bubble.appendChild(el("img", { src: entry.image, alt: entry.alt || t("image"), loading: "lazy" }));
    }
    var who = el("span", { className: "sr-only who", text: (mine ? t("you") : t("bot")) + ": " });
    var time = el("time", {
      className: "time",
      datetime: new Date(entry.ts).toISOString(),
      title: new Date(entry.ts).toLocaleString(t("dateFormat")),
      text: formatTime(entry.ts),
    });
    var item = el("li", { className: "message " + (mine ? "from-user" : "from-bot"), "data-id": entry.id }, [
      who,
      bubble,
      time,
    ]);
    return item;
  }

  function renderQuickReplies(entry) {
    entry = state.shown[entry.id] || entry;
    var replies = (entry.quick_replies || []).filter(function (r) {
      return r && r.title;
    });
    if (!replies.length) return null;
    // The bot's answer options: "choose one", not the welcome's common questions.
    var group = el("div", { className: "quick-replies choices", role: "group", "aria-label": t("choicesLabel") });
    replies.forEach(function (reply) {
      var button = el("button", { type: "button", className: "chip", text: reply.title });
      button.addEventListener("click", function () {
        sendMessage(reply.payload || reply.title, reply.title);
      });
      group.appendChild(button);
    });
    return group;
  }

  // Render the stored history into the log, touching only what changed, so a
  // screen reader announces new messages once (role=log) and focus is kept.
  function renderHistory() {
    var history = loadHistory();
    var keep = 0;
    while (keep < state.rendered.length && keep < history.length && state.rendered[keep] === history[keep].id) {
      keep += 1;
    }
    var changed = keep < state.rendered.length || keep < history.length || !ui.welcome.firstChild;
    if (!changed) return;
    var active = root.activeElement;
    var hadFocusInReplies = !!(active && active.classList && active.classList.contains("chip"));
    while (ui.log.children.length > keep) ui.log.removeChild(ui.log.lastChild);
    state.rendered = state.rendered.slice(0, keep);
    var oldReplies = ui.log.querySelector(".quick-replies");
    if (oldReplies) oldReplies.parentNode.removeChild(oldReplies);
    history.slice(keep).forEach(function (entry) {
      ui.log.appendChild(renderEntry(entry));
      state.rendered.push(entry.id);
    });
    var last = history[history.length - 1];
    if (last && last.from === "bot") {
      var replies = renderQuickReplies(last);
      if (replies) ui.log.lastChild.appendChild(replies);
    }
    renderWelcome(history.length === 0);
    syncEnabled();
    if (hadFocusInReplies && state.open) ui.input.focus();
    scrollToEnd();
  }

  function renderWelcome(withSuggestions) {
    while (ui.welcome.firstChild) ui.welcome.removeChild(ui.welcome.firstChild);
    ui.welcome.setAttribute("lang", state.lang === "zh" ? "zh-CN" : "en");
    ui.welcome.appendChild(el("div", { className: "bubble" }, [el("p", { text: t("welcome") })]));
    if (withSuggestions) {
      var group = el("div", { className: "quick-replies", role: "group", "aria-label": t("suggestionsLabel") });
      t("suggestions").forEach(function (text) {
        var button = el("button", { type: "button", className: "chip", text: text });
        button.addEventListener("click", function () {
          sendMessage(text, text);
        });
        group.appendChild(button);
      });
      ui.welcome.appendChild(group);
    }
  }

  function scrollToEnd() {
    window.requestAnimationFrame(function () {
      ui.scroller.scrollTop = ui.scroller.scrollHeight;
    });
  }

  function applyStrings() {
    var lang = state.lang;
    ui.container.setAttribute("lang", lang === "zh" ? "zh-CN" : "en");
    var title = options.title || t("title");
    ui.title.textContent = title;
    ui.launcherText.textContent = t("launcher");
    ui.closeButton.setAttribute("aria-label", t("closeLabel"));
    ui.closeButton.setAttribute("title", t("close"));
    ui.langGroup.setAttribute("aria-label", t("language"));
    Object.keys(ui.langButtons).forEach(function (code) {
      ui.langButtons[code].setAttribute("aria-pressed", code === lang ? "true" : "false");
    });
    ui.log.setAttribute("aria-label", t("log"));
    ui.inputLabel.textContent = t("inputLabel");
    ui.input.setAttribute("placeholder", t("placeholder"));
    ui.sendButton.setAttribute("aria-label", t("sendLabel"));
    ui.sendButton.setAttribute("title", t("send"));
    ui.notice.textContent = t("notice");
    ui.endText.textContent = t("endChat");
    ui.endButton.setAttribute("aria-label", t("endChatLabel"));
    ui.endButton.setAttribute("title", t("endChatLabel"));
    ui.downloadButton.textContent = t("download");
    ui.downloadButton.setAttribute("aria-label", t("downloadLabel"));
    ui.printButton.textContent = t("print");
    ui.printButton.setAttribute("aria-label", t("printLabel"));
    if (ui.website) ui.website.textContent = t("website");
    renderSheet(false);
    ui.typing.querySelector(".typing-text").textContent = t("typing");
    ui.badge.textContent = t("unread");
    // Labels, timestamps and the welcome follow the UI language; messages
    // keep theirs. Updated in place, so the log is not announced again.
    relabelLog();
    while (ui.welcome.firstChild) ui.welcome.removeChild(ui.welcome.firstChild);
    renderHistory();
    renderConnection();
    updateLauncherLabel();
  }

  function relabelLog() {
    var byId = {};
    loadHistory().forEach(function (entry) {
      byId[entry.id] = entry;
    });
    Array.prototype.forEach.call(ui.log.children, function (item) {
      var entry = byId[item.getAttribute("data-id")];
      if (!entry) return;
      item.querySelector(".who").textContent = (entry.from === "user" ? t("you") : t("bot")) + ": ";
      var time = item.querySelector("time");
      time.textContent = formatTime(entry.ts);
      time.setAttribute("title", new Date(entry.ts).toLocaleString(t("dateFormat")));
    });
    var replies = ui.log.querySelector(".quick-replies");
    if (replies) replies.setAttribute("aria-label", t("choicesLabel"));
  }

  function updateLauncherLabel() {
    var label = t("launcherLabel") + (state.unread ? " (" + t("unread") + ")" : "");
    ui.launcher.setAttribute("aria-label", label);
  }

  function renderConnection() {
    var c = state.connection;
    ui.container.setAttribute("data-connection", c);
    var short = { connecting: t("connecting"), online: t("online"), reconnecting: t("reconnectingShort"), offline: t("offlineShort") }[c];
    ui.statusText.textContent = short;
    var outage = c === "reconnecting" && state.outage;
    var message = outage ? t("outage") : c === "reconnecting" ? t("reconnecting") : c === "offline" ? t("offline") : "";
    while (ui.banner.firstChild) ui.banner.removeChild(ui.banner.firstChild);
    appendText(ui.banner, message); // 12333 as a tap-to-call link
    ui.banner.hidden = !message;
    ui.banner.setAttribute("data-kind", outage ? "offline" : c);
    ui.container.setAttribute("data-outage", outage ? "true" : "false");
    syncEnabled();
  }

  // Send and quick-reply buttons work only while connected (typing still does).
  function syncEnabled() {
    var ready = state.connection === "online" && state.sessionConfirmed;
    ui.sendButton.disabled = !ready;
    ui.form.setAttribute("aria-busy", ready ? "false" : "true");
    Array.prototype.forEach.call(ui.scroller.querySelectorAll(".chip"), function (chip) {
      chip.disabled = !ready;
    });
  }

  // A long outage: after options.outageSeconds of "reconnecting" the banner
  // gives the 12333 advice that otherwise shows only if never connected.
  function watchOutage(reconnecting) {
    window.clearTimeout(state.outageTimer);
    state.outageTimer = null;
    if (!reconnecting) {
      state.outage = false;
      return;
    }
    state.outageTimer = window.setTimeout(function () {
      if (state.connection !== "reconnecting") return;
      state.outage = true;
      renderConnection();
      ui.status.textContent = t("outage");
    }, options.outageSeconds * 1000);
  }

  function setConnection(next) {
    if (state.connection === next) return;
    var previous = state.connection;
    state.connection = next;
    watchOutage(next === "reconnecting");
    renderConnection();
    // Tell screen-reader users about losing and regaining the connection.
    if (next === "reconnecting" || next === "offline") ui.status.textContent = next === "offline" ? t("offline") : t("reconnecting");
    else if (next === "online" && (previous === "reconnecting" || previous === "offline")) ui.status.textContent = t("restored");
  }

  function showTyping(on) {
    window.clearTimeout(state.typingTimer);
    var was = !ui.typing.hidden;
    ui.typing.hidden = !on;
    // Screen readers hear "typing" once per answer, not the animation.
    if (on && !was) ui.status.textContent = t("typing");
    if (!on && ui.status.textContent === t("typing")) ui.status.textContent = "";
    if (on) {
      // Rasa may answer with nothing at all; never spin forever.
      state.typingTimer = window.setTimeout(function () {
        ui.typing.hidden = true;
      }, 20000);
      scrollToEnd();
    }
  }

  function setOpen(open, focus) {
    state.open = open;
    tabStore.set("open", open ? "1" : "0");
    ui.panel.hidden = !open;
    ui.container.classList.toggle("is-open", open);
    ui.launcher.setAttribute("aria-expanded", open ? "true" : "false");
    // While the panel is open its own close button closes it: the launcher
    // leaves the tab order (it is hidden altogether when full-screen).
    ui.launcher.tabIndex = open ? -1 : 0;
    if (open) {
      state.unread = false;
      ui.badge.hidden = true;
      updateLauncherLabel();
      scrollToEnd();
      if (focus) ui.input.focus();
    } else if (focus) {
      ui.launcher.focus();
    }
  }

  // ------------------------------------------------------------ messaging
  function sendMessage(payload, shownText) {
    var text = String(payload || "").trim();
    if (!text) return false;
    if (!(state.socket && state.connection === "online" && state.sessionConfirmed)) return false;
    var secret = verificationActive();
    state.socket.emit("user_uttered", {
      message: text,
      session_id: sessionId(),
      metadata: { language: state.lang },
    });
    if (shownText) {
      appendEntry({ id: randomId(), from: "user", text: String(shownText), ts: Date.now() }, secret);
    }
    showTyping(true);
    return true;
  }

  function botEntry(message) {
    if (!message || typeof message !== "object") return null;
    var entry = { id: randomId(), from: "bot", text: "", ts: Date.now() };
    if (typeof message.text === "string") entry.text = message.text;
    var replies = message.quick_replies || message.buttons || [];
    if (Array.isArray(replies) && replies.length) {
      entry.quick_replies = replies
        .filter(function (r) {
          return r && typeof r.title === "string";
        })
        .map(function (r) {
          return { title: r.title, payload: typeof r.payload === "string" ? r.payload : r.title };
        });
    }
    var attachment = message.attachment;
    if (attachment && attachment.type === "image" && attachment.payload && typeof attachment.payload.src === "string") {
      entry.image = attachment.payload.src;
    }
    if (!entry.text && !entry.image && !entry.quick_replies) return null;
    return entry;
  }

  function onBotMessage(message) {
    showTyping(false);
    var endReply = state.awaitingEndReply;
    state.awaitingEndReply = false;
    if (state.afterReply && !endReply) {
      var then = state.afterReply;
      state.afterReply = null;
      then();
      return; // the feedback thanks: the conversation is over and cleared
    }
    var entry = botEntry(message);
    if (!entry) return;
    logEntry(entry);
    renderHistory();
    if (!state.open) {
      state.unread = true;
      ui.badge.hidden = false;
      updateLauncherLabel();
    }
  }

  function setLanguage(lang) {
    if (!STRINGS[lang] || lang === state.lang) return;
    state.lang = lang;
    store.set("lang", lang);
    applyStrings();
    // The bot honours the switch and confirms it in the new language; when
    // offline, tell it as soon as the connection is back.
    state.pendingLanguage = sendLanguage(lang) ? null : lang;
  }

  function sendLanguage(lang) {
    return sendMessage('/set_language{"language":"' + lang + '"}', null);
  }

  // Ending the chat: the bot is told (/end_chat forgets the verified session
  // on the server), the resident may leave feedback for the same conversation,
  // then the local keys go and a new session id starts a new conversation.
  function isOnline() {
    return !!(state.socket && state.connection === "online" && state.sessionConfirmed);
  }

  // "End chat" without the survey (also the public clearHistory hook).
  function clearHistory() {
    var oldSession = store.get("session");
    if (oldSession) {
      if (isOnline()) sendEndChat(oldSession);
      else state.pendingEnd = oldSession;
    }
    resetConversation();
    ui.input.focus();
  }

  // Forget this conversation here. The socket reconnects so that it leaves the
  // old conversation's room and no late reply of it shows up in the new one.
  function resetConversation() {
    var socket = state.socket;
    store.keys(LOG_PREFIX).forEach(function (key) {
      store.remove(key);
    });
    store.remove("session");
    store.remove("seen");
    state.shown = {};
    state.rendered = [];
    state.afterReply = null;
    while (ui.log.firstChild) ui.log.removeChild(ui.log.firstChild);
    while (ui.welcome.firstChild) ui.welcome.removeChild(ui.welcome.firstChild);
    renderHistory();
    showTyping(false);
    // A fresh session id: the old conversation can't be continued from here.
    state.sessionConfirmed = false;
    renderConnection();
    if (socket && socket.connected) {
      state.restarting = true;
      socket.disconnect();
      socket.connect();
    }
  }

  function askToEnd() {
    state.ending = "confirm";
    renderSheet(true);
  }

  function cancelEnd() {
    state.ending = null;
    renderSheet(false);
    ui.endButton.focus();
  }

  function confirmEnd() {
    var session = store.get("session");
    state.feedback = { answered: null, rating: null, comment: "" };
    state.feedbackSent = false;
    if (session && isOnline()) {
      sendEndChat(session);
      state.awaitingEndReply = true;
      state.endedSession = session;
      state.ending = "feedback";
      showTyping(false);
    } else {
      // Not connected: /end_chat goes as soon as we are; no survey then.
      clearHistory();
      state.ending = "done";
    }
    renderSheet(true);
  }

  // /give_feedback{"feedback_answered": true, "feedback_rating": 4, "feedback_comment": "..."}
  function feedbackPayload(feedback) {
    var entities = {};
    if (feedback.answered !== null) entities.feedback_answered = feedback.answered;
    if (feedback.rating !== null) entities.feedback_rating = feedback.rating;
    var comment = String(feedback.comment || "").trim().slice(0, 500);
    if (comment) entities.feedback_comment = comment;
    if (!Object.keys(entities).length) return null;
    return "/give_feedback" + JSON.stringify(entities);
  }

  function finishEnd(sent) {
    window.clearTimeout(state.finishTimer);
    if (state.ending !== "feedback") return;
    state.feedbackSent = sent;
    state.endedSession = null;
    resetConversation();
    state.ending = "done";
    renderSheet(true);
  }

  function submitFeedback(skip) {
    readFeedbackForm();
    var payload = skip ? null : feedbackPayload(state.feedback);
    if (!payload || !isOnline() || !state.endedSession) {
      finishEnd(false);
      return;
    }
    state.socket.emit("user_uttered", {
      message: payload,
      session_id: state.endedSession,
      metadata: { language: state.lang },
    });
    // Leave the old conversation once the bot has stored the feedback (its
    // thanks arrive), or after a few seconds at most.
    state.afterReply = function () {
      finishEnd(true);
    };
    state.finishTimer = window.setTimeout(function () {
      state.afterReply = null;
      finishEnd(true);
    }, 5000);
    renderSheet(false, true);
  }

  function startNewChat() {
    state.ending = null;
    renderSheet(false);
    ui.input.focus();
  }

  function readFeedbackForm() {
    var form = ui.sheet.querySelector("form");
    if (!form) return;
    var answered = form.querySelector("input[name='answered']:checked");
    var rating = form.querySelector("input[name='rating']:checked");
    var comment = form.querySelector("textarea");
    state.feedback = {
      answered: answered ? answered.value === "yes" : null,
      rating: rating ? parseInt(rating.value, 10) : null,
      comment: comment ? comment.value : "",
    };
  }

  function sheetButton(label, className, onClick) {
    var button = el("button", { type: "button", className: className, text: label });
    button.addEventListener("click", onClick);
    return button;
  }

  function radioGroup(name, legend, choices, selected) {
    var set = el("fieldset", { className: "choice-group " + name }, [el("legend", { text: legend })]);
    var row = el("div", { className: "choice-row" });
    choices.forEach(function (choice) {
      var id = "shebao-" + name + "-" + choice.value;
      var input = el("input", { type: "radio", name: name, id: id, value: choice.value, "aria-label": choice.label });
      if (selected !== null && String(selected) === choice.value) input.checked = true;
      row.appendChild(el("label", { for: id, className: "choice" }, [input, el("span", { text: choice.text })]));
    });
    set.appendChild(row);
    return set;
  }

  // The end-of-chat sheet, in the current language (rebuilt on a switch; the
  // answers given so far are kept). It covers the conversation and composer.
  function renderSheet(focus, sending) {
    if (ui.sheet.querySelector("form") && state.ending === "feedback") readFeedbackForm();
    while (ui.sheet.firstChild) ui.sheet.removeChild(ui.sheet.firstChild);
    var step = state.ending;
    ui.sheet.hidden = !step;
    ui.scroller.hidden = !!step;
    ui.footer.hidden = !!step;
    ui.endButton.disabled = !!step;
    if (!step) return;
    var heading = el("h3", { id: "shebao-sheet-title", className: "sheet-title", tabindex: "-1" });
    ui.sheet.appendChild(heading);
    if (step === "confirm") {
      heading.textContent = t("endTitle");
      ui.sheet.appendChild(el("p", { text: t("endText") }));
      ui.sheet.appendChild(
        el("div", { className: "sheet-actions" }, [
          sheetButton(t("endConfirm"), "primary confirm-end", confirmEnd),
          sheetButton(t("endCancel"), "secondary cancel-end", cancelEnd),
        ])
      );
    } else if (step === "feedback") {
      heading.textContent = t("feedbackTitle");
      var form = el("form", { className: "feedback", novalidate: true }, [
        el("p", { text: t("feedbackIntro") }),
        radioGroup(
          "answered",
          t("answeredQuestion"),
          [
            { value: "yes", text: t("yes"), label: t("yes") },
            { value: "no", text: t("no"), label: t("no") },
          ],
          state.feedback.answered === null ? null : state.feedback.answered ? "yes" : "no"
        ),
        radioGroup(
          "rating",
          t("ratingQuestion"),
          [1, 2, 3, 4, 5].map(function (n) {
            return { value: String(n), text: String(n), label: n + " " + t("ratingLabel") };
          }),
          state.feedback.rating
        ),
      ]);
      var comment = el("textarea", {
        id: "shebao-feedback-comment",
        className: "input comment",
        rows: "3",
        maxlength: "500",
        "aria-describedby": "shebao-feedback-hint",
      });
      comment.value = state.feedback.comment || "";
      form.appendChild(el("label", { for: "shebao-feedback-comment", className: "comment-label", text: t("commentLabel") }));
      form.appendChild(comment);
      form.appendChild(el("p", { id: "shebao-feedback-hint", className: "hint", text: t("commentHint") }));
      var send = el("button", { type: "submit", className: "primary send-feedback", text: t("sendFeedback") });
      var skip = sheetButton(t("skip"), "secondary skip-feedback", function () {
        submitFeedback(true);
      });
      if (sending) {
        send.disabled = true;
        skip.disabled = true;
      }
      form.appendChild(el("div", { className: "sheet-actions" }, [send, skip]));
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        submitFeedback(false);
      });
      ui.sheet.appendChild(form);
    } else {
      heading.textContent = state.feedbackSent ? t("thanksTitle") : t("endedTitle");
      ui.sheet.appendChild(el("p", { text: t("clearedText") }));
      ui.sheet.appendChild(
        el("div", { className: "sheet-actions" }, [sheetButton(t("newChat"), "primary new-chat", startNewChat)])
      );
    }
    if (focus) heading.focus();
  }

  // ------------------------------------------------------------ transcript
  // A copy of the conversation as the resident saw it, masked like storage
  // (redact.js: ID numbers, phone numbers, codes; verification answers are
  // stars): a plain-text download and a printable page, both languages.
  function transcriptEntries() {
    return loadHistory().map(function (entry) {
      var text = plainText(redact(entry.text));
      if (entry.image) text = (text ? text + "\n" : "") + "[" + t("image") + "]";
      return {
        who: entry.from === "user" ? t("you") : t("bot"),
        when: new Date(entry.ts).toLocaleString(t("dateFormat")),
        text: text,
      };
    });
  }

  function transcriptText() {
    var lines = [t("transcriptTitle"), t("transcriptSaved") + new Date().toLocaleString(t("dateFormat")), t("transcriptNote"), ""];
    var entries = transcriptEntries();
    if (!entries.length) lines.push(t("transcriptEmpty"));
    entries.forEach(function (entry) {
      lines.push("[" + entry.when + "] " + entry.who + (state.lang === "zh" ? "：" : ": "));
      entry.text.split("\n").forEach(function (line) {
        lines.push("    " + line);
      });
      lines.push("");
    });
    return lines.join("\n");
  }

  function stamp() {
    var d = new Date();
    function two(n) {
      return ("0" + n).slice(-2);
    }
    return d.getFullYear() + two(d.getMonth() + 1) + two(d.getDate()) + "-" + two(d.getHours()) + two(d.getMinutes());
  }

  function downloadTranscript() {
    var blob = new Blob([transcriptText()], { type: "text/plain;charset=utf-8" });
    var url = URL.createObjectURL(blob);
    var anchor = el("a", { href: url, download: "shebao-chat-" + stamp() + ".txt" });
    ui.container.appendChild(anchor);
    anchor.click();
    ui.container.removeChild(anchor);
    window.setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 10000);
  }

  // A printable page in a new window, built with DOM methods only and styled
  // by the widget's stylesheet (.sb-print), so a strict CSP needs nothing new.
  function printTranscript() {
    var win = window.open("", "_blank");
    if (!win) {
      downloadTranscript(); // pop-ups blocked: the file is the copy
      return;
    }
    var doc = win.document;
    doc.documentElement.setAttribute("lang", state.lang === "zh" ? "zh-CN" : "en");
    doc.title = t("transcriptTitle");
    var sheet = doc.createElement("link");
    sheet.rel = "stylesheet";
    sheet.href = options.cssUrl;
    doc.head.appendChild(sheet);
    var body = doc.body || doc.documentElement.appendChild(doc.createElement("body"));
    body.className = "sb-print";
    function add(parent, tag, className, text) {
      var node = doc.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined) node.textContent = text;
      parent.appendChild(node);
      return node;
    }
    add(body, "h1", "", t("transcriptTitle"));
    add(body, "p", "meta", t("transcriptSaved") + new Date().toLocaleString(t("dateFormat")));
    add(body, "p", "note", t("transcriptNote"));
    var list = add(body, "ol", "entries");
    var entries = transcriptEntries();
    if (!entries.length) add(body, "p", "", t("transcriptEmpty"));
    entries.forEach(function (entry) {
      var item = add(list, "li", "entry");
      add(item, "p", "who", entry.who + " · " + entry.when);
      add(item, "p", "text", entry.text);
    });
    var printed = false;
    function go() {
      if (printed) return;
      printed = true;
      win.focus();
      win.print();
    }
    sheet.addEventListener("load", go);
    sheet.addEventListener("error", go);
    window.setTimeout(go, 1500);
  }

  function sendEndChat(id) {
    state.socket.emit("user_uttered", { message: "/end_chat", session_id: id, metadata: { language: state.lang } });
  }

  function requestSession() {
    state.sessionConfirmed = false;
    state.socket.emit("session_request", { session_id: sessionId() });
  }

  function connect(io) {
    var socket = io(options.socketUrl, {
      path: options.socketPath,
      transports: options.transports,
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      timeout: 8000,
    });
    state.socket = socket;
    socket.on("connect", function () {
      state.everConnected = true;
      if (state.pendingEnd) {
        // A chat ended while offline: rejoin it first (the server takes a
        // message only for the session its socket joined), end it, then
        // reconnect to leave its room and start the new conversation.
        state.endingSession = state.pendingEnd;
        state.pendingEnd = null;
        socket.emit("session_request", { session_id: state.endingSession });
        return;
      }
      requestSession();
    });
    socket.on("session_confirm", function (confirmed) {
      var id = confirmed && typeof confirmed === "object" ? confirmed.session_id : confirmed;
      if (state.endingSession) {
        state.endingSession = null;
        sendEndChat(id);
        state.restarting = true;
        window.setTimeout(function () {
          socket.disconnect();
          socket.connect();
        }, 300);
        return;
      }
      if (typeof id === "string" && id) store.set("session", id);
      state.sessionConfirmed = true;
      setConnection("online");
      renderConnection();
      if (state.pendingLanguage) {
        var lang = state.pendingLanguage;
        state.pendingLanguage = null;
        sendLanguage(lang);
      }
    });
    socket.on("bot_uttered", onBotMessage);
    socket.on("disconnect", function (reason) {
      state.sessionConfirmed = false;
      showTyping(false);
      if (state.restarting) {
        state.restarting = false;
        setConnection("connecting");
        return;
      }
      setConnection("reconnecting");
      if (reason === "io server disconnect") socket.connect();
    });
    socket.on("connect_error", function () {
      state.sessionConfirmed = false;
      setConnection(state.everConnected ? "reconnecting" : "offline");
    });
  }

  function loadRedactor(then) {
    if (window.ShebaoRedact) {
      then();
      return;
    }
    var tag = document.createElement("script");
    tag.src = options.redactUrl;
    tag.async = true;
    tag.addEventListener("load", then);
    tag.addEventListener("error", then); // the fallback masks every digit
    document.head.appendChild(tag);
  }

  function loadClient() {
    if (typeof window.io === "function") {
      connect(window.io);
      return;
    }
    var tag = document.createElement("script");
    tag.src = options.clientUrl;
    tag.async = true;
    tag.addEventListener("load", function () {
      if (typeof window.io === "function") connect(window.io);
      else setConnection("offline");
    });
    tag.addEventListener("error", function () {
      setConnection("offline");
    });
    document.head.appendChild(tag);
  }

  // --------------------------------------------------------------- events
  ui.launcher.addEventListener("click", function () {
    setOpen(!state.open, true);
  });
  ui.closeButton.addEventListener("click", function () {
    setOpen(false, true);
  });
  // Phones, and short windows (a landscape phone, or a desktop zoomed to
  // 200%+): the panel takes the whole viewport (the same query as the CSS).
  var phone = window.matchMedia("(max-width: 480px), (max-height: 560px)");
  function applyLayout() {
    // Full-screen on a phone: then it is modal and Tab stays inside it.
    ui.panel.setAttribute("aria-modal", phone.matches ? "true" : "false");
  }
  if (phone.addEventListener) phone.addEventListener("change", applyLayout);
  applyLayout();

  function focusables() {
    return Array.prototype.filter.call(
      ui.panel.querySelectorAll("button, textarea, input, a[href], [tabindex]:not([tabindex='-1'])"),
      function (node) {
        return !node.disabled && node.getClientRects().length > 0;
      }
    );
  }

  ui.container.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && state.open) {
      event.preventDefault();
      setOpen(false, true);
    } else if (event.key === "Tab" && phone.matches) {
      var nodes = focusables();
      if (!nodes.length) return;
      var first = nodes[0];
      var last = nodes[nodes.length - 1];
      if (event.shiftKey && root.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && root.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  Object.keys(ui.langButtons).forEach(function (code) {
    ui.langButtons[code].addEventListener("click", function () {
      setLanguage(code);
    });
  });
  ui.endButton.addEventListener("click", askToEnd);
  ui.downloadButton.addEventListener("click", downloadTranscript);
  ui.printButton.addEventListener("click", printTranscript);
  ui.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = ui.input.value.trim();
    if (!text) return;
    if (sendMessage(text, text)) {
      ui.input.value = "";
      autosize();
    }
  });
  ui.input.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter is a new line; never send while an IME
    // (pinyin) composition is open: there Enter confirms the characters.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      ui.form.requestSubmit ? ui.form.requestSubmit() : ui.form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight, 120) + "px";
  }
  ui.input.addEventListener("input", autosize);

  // Another tab of the same site changed the conversation or the language.
  window.addEventListener("storage", function (event) {
    if (!event.key || event.key.indexOf(options.storageKey + ":") !== 0) return;
    var key = event.key.slice(options.storageKey.length + 1);
    if (key.indexOf(LOG_PREFIX) === 0) {
      var history = loadHistory();
      var last = history[history.length - 1];
      showTyping(!!last && last.from === "user");
      renderHistory();
    } else if (key === "lang") {
      var lang = pickLanguage(event.newValue);
      if (lang && lang !== state.lang) {
        state.lang = lang;
        applyStrings();
      }
    } else if (key === "session" && state.socket && state.socket.connected) {
      requestSession(); // joined a new conversation elsewhere ("clear history")
    }
  });

  // ----------------------------------------------------------------- start
  function start() {
    document.body.appendChild(host);
    applyStrings();
    setOpen(state.open, false);
    loadRedactor(function () {
      pruneStorage();
      renderHistory();
      loadClient();
    });
    // Expire history in a tab that stays open, too.
    window.setInterval(function () {
      pruneStorage();
      renderHistory();
    }, 60 * 1000);
  }

  // Public hooks for the host page (and tests): open, close, switch language.
  window.ShebaoWidget = {
    open: function () {
      setOpen(true, true);
    },
    close: function () {
      setOpen(false, true);
    },
    setLanguage: setLanguage,
    clearHistory: clearHistory,
    endChat: askToEnd,
    transcript: transcriptText,
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
