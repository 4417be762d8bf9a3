// flowjobs dashboard: live regions. Hand-written, no build step, no library.
//
// An element with data-live-src is refreshed in place: every
// FLOWJOBS_UI_REFRESH_SECONDS (data-refresh-ms on <body>) the script fetches
// that URL, an HTML fragment rendered by the server, and swaps it in when it
// changed. It stops once the fragment carries [data-live-final] (a job that
// ended), pauses while the tab is hidden, and keeps keyboard focus and open
// <details> across swaps. Without JavaScript every page still works; it just
// does not refresh by itself.
(function () {
  "use strict";

  var interval = parseInt(document.body.getAttribute("data-refresh-ms"), 10) || 1500;
  var announcer = document.getElementById("announcer");

  function announce(region) {
    var marker = region.querySelector("[data-announce]");
    if (!marker || !announcer) return;
    var text = marker.getAttribute("data-announce");
    if (region.lastAnnounced !== undefined && region.lastAnnounced !== text) {
      announcer.textContent = text;
    }
    region.lastAnnounced = text;
  }

  function openDetailIds(region) {
    var ids = [];
    region.querySelectorAll("details[open][id]").forEach(function (el) { ids.push(el.id); });
    return ids;
  }

  function swap(region, html) {
    if (region.lastHtml === html) return;
    region.lastHtml = html;
    var active = document.activeElement;
    var focusId = active && region.contains(active) && active.id ? active.id : null;
    var open = openDetailIds(region);
    region.innerHTML = html;
    open.forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.open = true;
    });
    if (focusId) {
      var again = document.getElementById(focusId);
      if (again) again.focus();
    }
    announce(region);
    if (region.querySelector("[data-live-final]")) region.setAttribute("data-live-stop", "true");
  }

  function follow(region) {
    var src = region.getAttribute("data-live-src");
    var timer = null;
    var busy = false;

    function stopped() { return region.getAttribute("data-live-stop") === "true"; }

    function schedule() {
      if (!stopped()) timer = window.setTimeout(tick, interval);
    }

    function tick() {
      timer = null;
      if (document.hidden || busy) return; // resumed by visibilitychange
      busy = true;
      fetch(src, {
        credentials: "same-origin",
        headers: { "Accept": "text/html", "X-Flowjobs-Live": "1" },
        cache: "no-store"
      }).then(function (response) {
        if (response.status === 401) { // signed out meanwhile: the reload shows sign-in
          window.location.reload();
          return null;
        }
        return response.ok ? response.text() : null; // keep what is shown; try again
      }).then(function (html) {
        busy = false;
        if (typeof html === "string") swap(region, html);
        schedule();
      }).catch(function () {
        busy = false;
        schedule();
      });
    }

    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && timer === null && !stopped()) tick();
    });
    announce(region);
    schedule();
  }

  document.querySelectorAll("[data-live-src]").forEach(function (region) {
    if (region.getAttribute("data-live-stop") !== "true") follow(region);
  });
})();
