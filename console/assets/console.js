// Legion console: state selection on the graph, and live updates (the page polls itself while
// the execution or map run it shows is running, and swaps in the new content).
(function () {
  "use strict";
  var selected = null;

  function select(name) {
    selected = name;
    document.querySelectorAll(".legion-graph .state").forEach(function (g) {
      g.classList.toggle("selected", g.dataset.state === name);
    });
    var shown = false;
    document.querySelectorAll(".state-detail").forEach(function (d) {
      var match = d.dataset.state === name;
      d.hidden = !match;
      shown = shown || match;
    });
    var hint = document.getElementById("detail-hint");
    if (hint) hint.hidden = shown;
  }

  document.addEventListener("click", function (e) {
    var g = e.target.closest && e.target.closest(".legion-graph .state");
    if (g) select(g.dataset.state);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" && e.key !== " ") return;
    var g = e.target.closest && e.target.closest(".legion-graph .state");
    if (g) { e.preventDefault(); select(g.dataset.state); }
  });

  function refresh() {
    var main = document.getElementById("live");
    if (!main || !main.dataset.live) return;
    fetch(location.href, { cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("live");
        if (!next) return;
        var open = [];
        main.querySelectorAll("details[open][id]").forEach(function (d) { open.push(d.id); });
        var scroll = main.querySelector(".graph-wrap");
        var pos = scroll ? [scroll.scrollLeft, scroll.scrollTop] : null;
        main.innerHTML = next.innerHTML;
        if (next.dataset.live) main.dataset.live = "1"; else delete main.dataset.live;
        open.forEach(function (id) { var d = document.getElementById(id); if (d) d.open = true; });
        var wrap = main.querySelector(".graph-wrap");
        if (wrap && pos) { wrap.scrollLeft = pos[0]; wrap.scrollTop = pos[1]; }
        if (selected !== null) select(selected);
        var ind = document.getElementById("live-indicator");
        if (ind) ind.hidden = !main.dataset.live;
        document.dispatchEvent(new CustomEvent("legion:refreshed"));
      })
      .catch(function () {})
      .then(function () { schedule(); });
  }

  function schedule() {
    var main = document.getElementById("live");
    if (main && main.dataset.live) setTimeout(refresh, 1000);
  }
  schedule();
})();
