// Streamlit's component protocol by hand (no build step): ready, render, frame height.
const video = document.getElementById("video");
const where = document.getElementById("where");
const playButton = document.getElementById("play");
let shown = null;        // the case whose review copy is loaded
let fps = 25, firstFrame = 0;

function send(type, data) {
  window.parent.postMessage(Object.assign({isStreamlitMessage: true, type: type}, data), "*");
}

function frameAt(t) { return Math.floor(t * fps + 1e-3); }

function show(t = video.currentTime) {
  const n = frameAt(t);
  where.textContent = `frame ${n + 1} of the copy · footage frame ${firstFrame + n} · ${t.toFixed(2)} s`;
  playButton.textContent = video.paused ? "Play" : "Pause";
  document.body.dataset.frame = String(n);
}

// While playing: the time of the frame on screen (currentTime runs ahead of it).
function tick(_, frame) { show(frame.mediaTime); video.requestVideoFrameCallback(tick); }

function toggle() { if (video.paused) { video.play(); } else { video.pause(); } show(); }

function step(by) {
  video.pause();
  const n = Math.max(0, frameAt(video.currentTime) + by);
  video.currentTime = (n + 0.5) / fps;  // the middle of the frame, clear of rounding at its edges
}

// The keys work wherever the focus is: on the page (the parent document) or in this frame. Keys
// typed into a text box are left alone.
function typing(target) {
  return target && (target.isContentEditable || target.tagName === "TEXTAREA" ||
    (target.tagName === "INPUT" && !["radio", "checkbox", "button"].includes(target.type)));
}

function onKey(e) {
  if (e.ctrlKey || e.altKey || e.metaKey || typing(e.target)) return false;
  if (e.key === " ") { toggle(); } else if (e.key === "ArrowLeft") { step(-1); }
  else if (e.key === "ArrowRight") { step(1); } else { return false; }
  e.preventDefault();
  e.stopPropagation();
  return true;
}

const parentDoc = window.parent.document;
if (window.parent.__buslanePlayerKeys) parentDoc.removeEventListener("keydown", window.parent.__buslanePlayerKeys, true);
window.parent.__buslanePlayerKeys = onKey;
parentDoc.addEventListener("keydown", onKey, true);
window.addEventListener("unload", () => parentDoc.removeEventListener("keydown", onKey, true));
// Other keys pressed while the player has the focus go on to the page's shortcuts.
document.addEventListener("keydown", (e) => {
  if (!onKey(e)) parentDoc.body.dispatchEvent(new KeyboardEvent("keydown", {key: e.key, bubbles: true}));
});

document.getElementById("back").onclick = () => step(-1);
document.getElementById("fwd").onclick = () => step(1);
playButton.onclick = toggle;
for (const event of ["seeked", "pause", "play"]) video.addEventListener(event, () => show());

window.addEventListener("message", (event) => {
  if (event.data.type !== "streamlit:render") return;
  const args = event.data.args;
  fps = args.fps; firstFrame = args.first_frame;
  if (shown !== args.case_id) {  // a new case: load its copy; the same case: leave it playing
    shown = args.case_id;
    if (video.src) URL.revokeObjectURL(video.src);
    video.src = URL.createObjectURL(new Blob([args.video], {type: "video/mp4"}));
    video.play().catch(() => show());
  }
  const height = Math.ceil(document.body.clientWidth * args.aspect) + 40;
  send("streamlit:setFrameHeight", {height: height});
});

video.requestVideoFrameCallback(tick);
send("streamlit:componentReady", {apiVersion: 1});
