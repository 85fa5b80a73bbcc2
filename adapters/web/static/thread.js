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
  var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var MAX_DEPTH = 5;

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function when(iso) {
    var d = new Date(iso);
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
      li.appendChild(el("p", "removed", "This comment was removed."));
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
    link.href = "#comment-" + c.id;
    var time = el("time", "", when(c.created_at));
    time.setAttribute("datetime", c.created_at);
    link.appendChild(time);
    meta.appendChild(link);
    if (depth > MAX_DEPTH && parent) {
      var to = el("a", "to", "\u21a9 " + (parent.author ? "" : "a removed comment"));
      if (parent.author) to.appendChild(el("bdi", "", parent.author.name));
      to.href = "#comment-" + parent.id;
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(to);
    }
    li.appendChild(meta);
    li.appendChild(el("p", "text", c.text));
    var bar = bars[c.id] || freshBar(c.id);
    if (bar) li.appendChild(bar);
    var reply = el("a", "reply", "Reply");
    reply.href = "?reply=" + c.id + "#comment-form";
    li.appendChild(reply);
    return li;
  }
  var bars = {};  // each comment's reactions (counts or form), kept across rebuilds
  function freshBar(id) {  // a new comment's: no reactions yet, and the link to add one
    var p = el("p", "reacted");
    var react = el("a", "react", "React");
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
        count.textContent = shown === 1 ? "1 Comment" : shown + " Comments";
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
    var shown = link.parentNode;
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
