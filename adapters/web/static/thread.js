// Optional: comment times as "5 minutes ago" (the exact time stays in the title), a button on
// each comment with replies to hide and show them (with their count), and a refresh of the
// count and the first page of the thread every little while (data-refresh seconds) when the
// tab is visible. The page works the same without it.
(function () {
  "use strict";
  var section = document.getElementById("comments");
  if (!section) return;
  // The page's language: its sentences, its plural forms and its time zone (data-words).
  var words = JSON.parse(section.getAttribute("data-words") || "{}");
  var lang = document.documentElement.lang || undefined;
  var relative = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, { numeric: "auto" }) : null;
  var STEPS = [[60, "second"], [60, "minute"], [24, "hour"], [7, "day"], [4.35, "week"], [12, "month"], [Infinity, "year"]];

  function ago(iso) {
    var value = (new Date(iso).getTime() - Date.now()) / 1000;
    for (var i = 0; i < STEPS.length; i++) {
      if (Math.abs(value) < STEPS[i][0]) return relative.format(Math.round(value), STEPS[i][1]);
      value /= STEPS[i][0];
    }
    return null;
  }
  function times(root) {
    if (!relative) return;
    var found = root.querySelectorAll(".comment time[datetime]");
    for (var i = 0; i < found.length; i++) {
      if (!found[i].title) found[i].title = found[i].textContent;
      var text = ago(found[i].getAttribute("datetime"));
      if (text) found[i].textContent = text;
    }
  }
  function toggles(root) {
    var lists = root.querySelectorAll(".comment > .replies");
    for (var i = 0; i < lists.length; i++) {
      var li = lists[i].parentNode;
      var count = lists[i].querySelectorAll(".comment").length;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "toggle";
      button.setAttribute("aria-expanded", "true");
      button.setAttribute("aria-controls", lists[i].id = li.id + "-replies");
      var label = function (b, n, open) {
        b.textContent = (open ? words.hide : words.show).replace("%(num)d", n);
      };
      label(button, count, true);
      button.addEventListener("click", (function (b, item, n) {
        return function () {
          var open = item.classList.toggle("collapsed") === false;
          b.setAttribute("aria-expanded", String(open));
          label(b, n, open);
        };
      })(button, li, count));
      li.insertBefore(button, lists[i]);
    }
  }
  times(section);
  toggles(section);
  setInterval(function () { times(section); }, 60000);
  if (!window.fetch || section.hasAttribute("data-paged")) return;
  var api = section.getAttribute("data-api");
  var shown = Number(section.getAttribute("data-total"));
  var count = document.getElementById("comment-count");
  var list = section.querySelector(".thread");
  var names = { telegram: "Telegram", discord: "Discord", web: "Web" };
  var lang = document.documentElement.lang || "en";
  var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;
  var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var stamp = null;
  try {
    stamp = new Intl.DateTimeFormat(lang, {
      day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZone: words.zone || "UTC", timeZoneName: "short"
    });
  } catch (e) { stamp = null; }
  var MAX_DEPTH = 5;

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function counted(n) {
    var forms = words.counts || {};
    var form = forms[plural ? plural.select(n) : (n === 1 ? "one" : "other")] || forms.other;
    return form ? form.replace("{n}", n) : (n === 1 ? "1 Comment" : n + " Comments");
  }
  function when(iso) {
    var d = new Date(iso);
    if (stamp) return stamp.format(d);
    return d.getUTCDate() + " " + months[d.getUTCMonth()] + " " + d.getUTCFullYear() + ", " +
      two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + " UTC";
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }
  function item(c, depth, parent) {
    var li = el("li", "comment d" + Math.min(depth, MAX_DEPTH));
    li.id = "comment-" + c.id;
    if (c.status !== "visible") {
      li.appendChild(el("p", "removed", words.removed));
      return li;
    }
    var meta = el("p", "meta");
    var name = el("b", "name");
    name.appendChild(el("bdi", "", c.author.name));
    meta.appendChild(name);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(el("span", "badge " + c.author.platform, names[c.author.platform] || c.author.platform));
    if (c.author.vouched_by) {
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(el("span", "badge vouched " + c.author.vouched_by, "✓ " + (names[c.author.vouched_by] || c.author.vouched_by)));
    }
    meta.appendChild(document.createTextNode(" "));
    var link = el("a", "when");
    link.href = "/comments/" + c.id;
    var time = el("time", "", when(c.created_at));
    time.setAttribute("datetime", c.created_at);
    time.title = when(c.created_at);
    link.appendChild(time);
    meta.appendChild(link);
    if (depth > MAX_DEPTH && parent) {
      var to = el("a", "to", "\u21a9 " + (parent.author ? "" : words.removedParent));
      if (parent.author) to.appendChild(el("bdi", "", parent.author.name));
      to.href = "#comment-" + parent.id;
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(to);
    }
    li.appendChild(meta);
    li.appendChild(linked(c.text));
    var bar = bars[c.id] || freshBar(c.id);
    if (bar) li.appendChild(bar);
    var reply = el("a", "reply", words.reply);
    var who = el("span", "vh", " " + words.to + " ");
    who.appendChild(el("bdi", "", c.author.name));
    reply.appendChild(who);
    reply.href = "?reply=" + c.id + "#comment-form";
    li.appendChild(reply);
    return li;
  }
  // As the server's linkify: text nodes, and http(s) addresses as links.
  var URL = /\bhttps?:\/\/[^\s<>"'`]+/gi;
  function linked(text) {
    var p = el("p", "text");
    var last = 0, m;
    URL.lastIndex = 0;
    while ((m = URL.exec(text))) {
      var url = m[0].replace(/[.,;:!?*'"]+$/, "");
      while (url.slice(-1) === ")" && url.split(")").length > url.split("(").length) url = url.slice(0, -1);
      if (url.length <= 8) continue;
      p.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el("a", "", url);
      a.href = url;
      a.rel = "nofollow ugc noopener";
      p.appendChild(a);
      last = m.index + url.length;
      URL.lastIndex = last;
    }
    p.appendChild(document.createTextNode(text.slice(last)));
    return p;
  }
  var bars = {};  // each comment's reactions (counts or form), kept across rebuilds
  function freshBar(id) {  // a new comment's: no reactions yet, and the link to add one
    var p = el("p", "reacted");
    var react = el("a", "react", words.react);
    react.href = "?react=" + id + "#comment-" + id;
    p.appendChild(react);
    return p;
  }
  function rebuild(comments) {
    bars = {};
    list.querySelectorAll("li.comment > .reacted, li.comment > form.reactions").forEach(function (f) {
      bars[f.parentNode.id.slice(8)] = f;
    });
    var fresh = el("ol", "thread");
    var seen = {};  // the deepest replies are listed under an ancestor: name their parent
    var stack = comments.slice().reverse().map(function (c) { return [c, 0, fresh]; });
    while (stack.length) {
      var top = stack.pop();
      seen[top[0].id] = top[0];
      var li = item(top[0], top[1], seen[top[0].parent_id] || null);
      top[2].appendChild(li);
      if (!top[0].replies.length) continue;
      // Past MAX_DEPTH replies stay in their ancestor's list, as on the server.
      var into = top[2];
      if (top[1] < MAX_DEPTH) {
        into = el("ol", "replies");
        li.appendChild(into);
      }
      for (var i = top[0].replies.length - 1; i >= 0; i--) stack.push([top[0].replies[i], top[1] + 1, into]);
    }
    list.replaceWith(fresh);
    list = fresh;
    times(fresh);
    toggles(fresh);
  }
  function refresh() {
    if (document.hidden) return;
    fetch(api + "?limit=100", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data || data.total === shown) return;
        shown = data.total;
        count.textContent = counted(shown);
        if (!data.next_cursor) rebuild(data.comments);
      })
      .catch(function () { /* offline or restarting: try again next time */ });
  }
  setInterval(refresh, (Number(section.getAttribute("data-refresh")) || 30) * 1000);
  document.addEventListener("visibilitychange", refresh);
})();
// Optional too: send a reaction without reloading the page, and show the new counts.
// Without this the form posts and the page comes back with them.
(function () {
  "use strict";
  if (!window.fetch || !window.URLSearchParams) return;
  function plain(form, value) {  // the script failed: post the form as if it were not here
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "emoji";
    input.value = value;
    form.appendChild(input);
    form.submit();
  }
  // "React" under a comment: its buttons in place (the article's form, for the comment).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.react");
    var model = document.getElementById("reactions");
    if (!link || !model) return;
    event.preventDefault();
    var shown = link.parentNode.className === "reacted" ? link.parentNode : link;
    var form = model.cloneNode(true);
    form.removeAttribute("id");
    form.querySelectorAll(".other").forEach(function (o) { o.remove(); });
    form.querySelectorAll(".n").forEach(function (n) { n.textContent = "0"; });
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = "comment";
    input.value = link.getAttribute("href").match(/react=(\d+)/)[1];
    form.insertBefore(input, form.firstChild);
    shown.querySelectorAll(".other").forEach(function (o) {
      var button = form.querySelector("button[value='" + o.getAttribute("data-emoji") + "']");
      if (button) button.querySelector(".n").textContent = o.querySelector(".n").textContent;
      else form.appendChild(o);
    });
    shown.replaceWith(form);
    form.querySelector("button").focus();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var button = event.submitter;
    if (!form.classList || !form.classList.contains("reactions") || !button) return;
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    body.set("emoji", button.value);
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { plain(form, button.value); return; }
        var counts = data.counts.by_emoji;
        form.querySelectorAll("button").forEach(function (b) {
          b.querySelector(".n").textContent = counts[b.value] || 0;
          b.setAttribute("aria-pressed", b.value === data.chosen ? "true" : "false");
        });
      })
      .catch(function () { plain(form, button.value); });
  });
})();
