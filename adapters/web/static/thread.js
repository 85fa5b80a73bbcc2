// Optional: refresh the comment count and the first page of the thread every little while
// (data-refresh seconds) when the tab is visible. The page works the same without it.
(function () {
  "use strict";
  var section = document.getElementById("comments");
  if (!section || !window.fetch || section.hasAttribute("data-paged")) return;
  var api = section.getAttribute("data-api");
  var shown = Number(section.getAttribute("data-total"));
  var count = document.getElementById("comment-count");
  var list = section.querySelector(".thread");
  var names = { telegram: "Telegram", discord: "Discord", web: "Web" };
  // The page's language: its sentences, its plural forms and its time zone (data-words).
  var words = JSON.parse(section.getAttribute("data-words") || "{}");
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
      li.appendChild(el("p", "removed", words.removed || "This comment was removed."));
      return li;
    }
    var meta = el("p", "meta");
    var name = el("b", "name");
    name.appendChild(el("bdi", "", c.author.name));
    meta.appendChild(name);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(el("span", "badge " + c.author.platform, names[c.author.platform] || c.author.platform));
    meta.appendChild(document.createTextNode(" "));
    var link = el("a", "when");
    link.href = "#comment-" + c.id;
    var time = el("time", "", when(c.created_at));
    time.setAttribute("datetime", c.created_at);
    link.appendChild(time);
    meta.appendChild(link);
    if (depth > MAX_DEPTH && parent) {
      var to = el("a", "to", "\u21a9 " + (parent.author ? "" : words.removedParent || "a removed comment"));
      if (parent.author) to.appendChild(el("bdi", "", parent.author.name));
      to.href = "#comment-" + parent.id;
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(to);
    }
    li.appendChild(meta);
    li.appendChild(el("p", "text", c.text));
    var reply = el("a", "reply", words.reply || "Reply");
    reply.href = "?reply=" + c.id + "#comment-form";
    li.appendChild(reply);
    return li;
  }
  function rebuild(comments) {
    var fresh = el("ol", "thread");
    var seen = {};  // the deepest replies are listed under an ancestor: name their parent
    var stack = comments.slice().reverse().map(function (c) { return [c, 0]; });
    while (stack.length) {
      var top = stack.pop();
      seen[top[0].id] = top[0];
      fresh.appendChild(item(top[0], top[1], seen[top[0].parent_id] || null));
      for (var i = top[0].replies.length - 1; i >= 0; i--) stack.push([top[0].replies[i], top[1] + 1]);
    }
    list.replaceWith(fresh);
    list = fresh;
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
