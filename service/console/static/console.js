// Running clocks: every element with data-since (an ISO time) shows the minutes and seconds since then.
function hcTick() {
  document.querySelectorAll("[data-since]").forEach(function (el) {
    var s = Math.max(0, Math.floor((Date.now() - Date.parse(el.dataset.since)) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    el.textContent = (h ? h + ":" + String(m).padStart(2, "0") : m) + ":" + String(r).padStart(2, "0");
  });
}
setInterval(hcTick, 1000);
document.addEventListener("htmx:afterSwap", hcTick);
document.addEventListener("DOMContentLoaded", hcTick);
// A button or form with data-confirm asks first.
document.addEventListener("submit", function (e) {
  var msg = e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) { e.preventDefault(); }
}, true);
// Keyboard: "/" focuses the search box from anywhere on the seat.
document.addEventListener("keydown", function (e) {
  var box = document.getElementById("search");
  if (e.key === "/" && box && document.activeElement !== box && !/INPUT|TEXTAREA|SELECT/.test(document.activeElement.tagName)) {
    e.preventDefault(); box.focus(); box.select();
  }
});
// A new request in the escalation queue: a short beep (WebAudio; silent until the page has had a click or key,
// as browsers require). The first draw of the board only remembers what is there.
var hcSeen = null;
function hcBeep() {
  try {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    var ctx = hcBeep.ctx || (hcBeep.ctx = new Ctx());
    var osc = ctx.createOscillator(), gain = ctx.createGain();
    osc.frequency.value = 880; gain.gain.value = 0.2;
    osc.connect(gain); gain.connect(ctx.destination);
    osc.start(); osc.stop(ctx.currentTime + 0.25);
  } catch (err) { /* no audio: the red queue still shows it */ }
}
document.addEventListener("htmx:afterSwap", function () {
  var ids = Array.prototype.map.call(document.querySelectorAll("[data-escalation]"), function (el) {
    return el.dataset.escalation;
  });
  if (hcSeen !== null && ids.some(function (id) { return hcSeen.indexOf(id) < 0; })) { hcBeep(); }
  if (document.getElementById("escalations")) { hcSeen = ids; }
});
