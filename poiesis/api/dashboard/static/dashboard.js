// Poiesis dashboard: follow the change feed (EventSource) and update what the server rendered.
// Plain JavaScript, no dependencies. The list updates rows and counts in place; a task page
// fetches its own HTML again and swaps the detail in, so rendering stays on the server.
(function () {
  "use strict";
  var root = document.querySelector("[data-feed]");
  if (!root || !window.EventSource) return;
  var live = document.getElementById("live");
  var source = new EventSource(root.dataset.feed);

  function say(text, ok) {
    live.hidden = false;
    live.textContent = text;
    live.classList.toggle("off", !ok);
  }
  source.onopen = function () { say("Live", true); };
  source.onerror = function () { say("Reconnecting…", false); };

  var refreshCounts = debounce(function () {
    fetch(here(root.dataset.counts), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (counts) {
        if (!counts) return;
        var total = 0;
        document.querySelectorAll("[data-count]").forEach(function (el) {
          var state = el.dataset.count;
          if (state !== "ALL") { el.textContent = counts[state] || 0; total += counts[state] || 0; }
        });
        var all = document.querySelector('[data-count="ALL"]');
        if (all) all.textContent = total;
      });
  }, 400);

  function setState(el, state) {
    el.className = "state state-" + state;
    el.textContent = state;
  }

  function onListEvent(ev) {
    var row = document.getElementById("task-" + ev.id);
    if (row && Number(row.dataset.n || 0) > ev.n) return; // an older event of the task, overtaken (docs/api.md)
    if (row) {
      row.dataset.n = ev.n;
      row.dataset.state = ev.state;
      setState(row.querySelector(".state"), ev.state);
    } else if (ev.n === 1 && root.dataset.first === "true" &&
               (!root.dataset.stateFilter || root.dataset.stateFilter === ev.state)) {
      row = document.getElementById("row-template").content.firstElementChild.cloneNode(true);
      row.id = "task-" + ev.id;
      row.dataset.n = ev.n;
      row.dataset.state = ev.state;
      var link = row.querySelector("a");
      link.href = "tasks/" + encodeURIComponent(ev.id);
      link.textContent = ev.name || ev.id;
      if (ev.name) {
        var short = document.createElement("span");
        short.className = "id";
        short.textContent = ev.id.slice(0, 8);
        link.after(" ", short);
      }
      var tags = row.querySelector(".tags");
      Object.keys(ev.tags || {}).forEach(function (key) {
        var tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = ev.tags[key] ? key + "=" + ev.tags[key] : key;
        tags.append(tag, " ");
      });
      setState(row.querySelector(".state"), ev.state);
      var time = row.querySelector("time");
      time.dateTime = ev.time;
      time.textContent = ev.time.slice(0, 19).replace("T", " ") + " UTC";
      row.classList.add("fresh");
      document.getElementById("rows").prepend(row);
      document.getElementById("empty").hidden = true;
    }
    refreshCounts();
  }

  var refreshTask = debounce(function () {
    fetch(here(window.location.pathname), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("task-detail");
        var current = document.getElementById("task-detail");
        if (fresh && current) current.replaceWith(fresh);
      });
  }, 150);

  function onTaskEvent(ev) {
    if (ev.id !== root.dataset.task || Number(root.dataset.n || 0) > ev.n) return;
    root.dataset.n = ev.n;
    var badge = document.getElementById("task-state");
    if (badge) setState(badge, ev.state);
    refreshTask();
  }

  source.addEventListener("state", function (message) {
    var ev = JSON.parse(message.data);
    if (root.dataset.page === "list") onListEvent(ev); else onTaskEvent(ev);
  });
  source.addEventListener("dropped", function () { /* the browser reconnects with Last-Event-ID */ });

  // An absolute URL on this origin: fetch() refuses a relative one when the page's own URL
  // carries credentials (http://user:password@host/...), as it may with Basic authentication.
  function here(path) { return new URL(path, window.location.origin).href; }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }
})();
