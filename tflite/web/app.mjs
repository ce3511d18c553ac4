// kerasseg web demo: MediaPipe Tasks Vision ImageSegmenter on a kerasseg .tflite export, WASM served locally.
//
// Two sources: a still image (running mode IMAGE, `segment`) and the live camera (running mode VIDEO,
// `segmentForVideo` once per new video frame). The delegate (CPU or GPU) is chosen in the page; changing it, or
// the model, builds a new segmenter and swaps it in only once it has loaded (a model that fails to load leaves
// the old one running). Errors are shown on the page.
//
// URL parameters (all optional): model=<url of a .tflite> (default model.tflite), delegate=CPU|GPU (default CPU),
// image=<url of an image> (segmented once loaded), camera=1 (starts the camera), frames=<n> (with camera=1: set the
// title to "done" after n segmented frames; the CI test uses it).
// For the CI test the page sets document.title to "done" (or "error: ...") and exposes window.kerassegResult
// (the last still image: {width, height, labels, mask, milliseconds}) and window.kerassegCamera
// (the live run: {frames, fps, milliseconds, width, height, labels, present, mask, delegate}).
import { FilesetResolver, ImageSegmenter } from "./node_modules/@mediapipe/tasks-vision/vision_bundle.mjs";

const WASM_DIR = "./node_modules/@mediapipe/tasks-vision/wasm";
const params = new URLSearchParams(window.location.search);
const $ = (id) => document.getElementById(id);

// The overlay colours, the same in the Android app (Palette.kt) and the desktop runner (tflite/runner.py): the
// PASCAL VOC colour map (class index bits spread over the high bits of R, G and B) blended at half opacity, and
// class 0 (the background of VOC and CamVid exports) not drawn.
function vocColour(c) {
  let r = 0, g = 0, b = 0;
  for (let shift = 7; c > 0; shift--, c >>= 3) {
    r |= (c & 1) << shift;
    g |= ((c >> 1) & 1) << shift;
    b |= ((c >> 2) & 1) << shift;
  }
  return [r, g, b];
}
const PALETTE = Array.from({ length: 256 }, (_, c) => vocColour(c));
const ALPHA = 0.5;

let vision = null;           // the WASM fileset, resolved once
let task = null;             // { segmenter, delegate, mode, source }
let loading = Promise.resolve();
let camera = null;           // { video, stream, frames, times, lastTimestamp }

function setStatus(text) {
  $("status").textContent = text;
}

function showError(error) {
  const message = error instanceof Error ? error.message : String(error);
  $("error").textContent = message;
  $("error").hidden = false;
  document.title = `error: ${message}`;
  console.error(error);
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

// Builds a segmenter for `source` (a URL or the bytes of a .tflite) on `delegate`; the current one keeps working
// until the new one has loaded, and is closed only then. A failure leaves the current one in place.
function loadSegmenter(source, delegate) {
  // One load at a time, in order; an earlier failure (already reported) does not stop the next.
  const attempt = loading.catch(() => {}).then(async () => {
    const name = typeof source === "string" ? source : "the chosen file";
    setStatus(`loading ${name} (${delegate})…`);
    vision ??= await FilesetResolver.forVisionTasks(WASM_DIR);
    const mode = camera ? "VIDEO" : "IMAGE";
    const baseOptions = typeof source === "string"
      ? { modelAssetPath: source, delegate }
      : { modelAssetBuffer: source, delegate };
    let segmenter;
    try {
      segmenter = await ImageSegmenter.createFromOptions(vision, {
        baseOptions,
        runningMode: mode,
        outputCategoryMask: true,
        outputConfidenceMasks: false,
      });
    } catch (error) {
      if (task) $("delegate").value = task.delegate;  // the page shows what still runs
      throw new Error(`cannot load ${name} with the ${delegate} delegate: ${error.message ?? error}`);
    }
    const previous = task;
    task = { segmenter, delegate, mode, source };
    previous?.segmenter.close();
    $("delegate").value = delegate;
    clearError();
    setStatus(`model loaded (${delegate}, ${segmenter.getLabels().length} classes): choose an image or start the camera`);
  });
  loading = attempt;
  return attempt;
}

async function useMode(mode) {
  await loading.catch(() => {});
  if (!task) throw new Error("no model is loaded");
  if (task.mode !== mode) {
    await task.segmenter.setOptions({ runningMode: mode });
    task.mode = mode;
  }
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`cannot load the image ${url}`));
    image.src = url;
  });
}

// Draws `source` with the mask over it and the legend of the classes present; returns those classes.
function drawOverlay(source, mask, width, height, labels) {
  const canvas = $("output");
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, 0, 0, width, height);
  const pixels = context.getImageData(0, 0, width, height);
  const data = pixels.data;
  const seen = new Uint8Array(256);
  for (let i = 0; i < mask.length; i++) {
    const c = mask[i];
    seen[c] = 1;
    if (c === 0) continue;
    const colour = PALETTE[c];
    for (let k = 0; k < 3; k++) data[4 * i + k] = Math.round((1 - ALPHA) * data[4 * i + k] + ALPHA * colour[k]);
  }
  context.putImageData(pixels, 0, 0);
  const present = [];
  for (let c = 0; c < 256; c++) if (seen[c]) present.push(c);
  drawLegend(present, labels);
  return present;
}

function drawLegend(present, labels) {
  const legend = $("legend");
  legend.replaceChildren(...present.map((c) => {
    const entry = document.createElement("span");
    const swatch = document.createElement("i");
    if (c === 0) {
      swatch.className = "undrawn";
      swatch.title = "class 0 is not drawn";
    }
    else swatch.style.background = `rgb(${PALETTE[c].join(",")})`;
    entry.append(swatch, labels[c] ?? String(c));
    return entry;
  }));
}

async function segmentImage(url) {
  stopCamera();
  const image = await loadImage(url);
  await useMode("IMAGE");
  const { segmenter } = task;
  const started = performance.now();
  const result = segmenter.segment(image);
  const milliseconds = performance.now() - started;
  const categoryMask = result.categoryMask;
  const mask = Array.from(categoryMask.getAsUint8Array());
  const { width, height } = categoryMask;
  categoryMask.close();
  const labels = segmenter.getLabels();
  drawOverlay(image, mask, width, height, labels);
  setStatus(`${width}×${height} segmented in ${milliseconds.toFixed(1)} ms (${task.delegate})`);
  window.kerassegResult = { width, height, labels, mask, milliseconds };
}

async function startCamera() {
  if (camera) return;
  if (!navigator.mediaDevices?.getUserMedia) {
    throw new Error("this browser gives no camera access to this page (it needs https or localhost)");
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (error) {
    throw new Error(`cannot open the camera: ${error.message || error.name}`);
  }
  const video = $("video");
  video.srcObject = stream;
  await video.play();
  const target = Number(params.get("frames") || 0);
  camera = { video, stream, target, frames: 0, times: [], lastTimestamp: -1, lastVideoTime: -1 };
  $("camera").textContent = "Stop camera";
  await useMode("VIDEO");
  scheduleFrame(camera);
}

function stopCamera() {
  if (!camera) return;
  camera.stream.getTracks().forEach((track) => track.stop());
  camera.video.srcObject = null;
  camera = null;
  $("camera").textContent = "Start camera";
  $("fps").textContent = "";
}

// Once per display frame, skipping a video frame already segmented: this works whether or not the <video> is shown.
function scheduleFrame(run) {
  requestAnimationFrame(() => segmentFrame(run));
}

function segmentFrame(run) {
  if (camera !== run) return;  // stopped, or restarted
  try {
    const videoTime = run.video.currentTime;
    if (task?.mode === "VIDEO" && run.video.readyState >= 2 && videoTime !== run.lastVideoTime) {
      run.lastVideoTime = videoTime;
      // segmentForVideo wants strictly increasing timestamps (ms).
      const timestamp = Math.max(performance.now(), run.lastTimestamp + 1);
      run.lastTimestamp = timestamp;
      const { segmenter, delegate } = task;
      const started = performance.now();
      segmenter.segmentForVideo(run.video, timestamp, (result) => {
        const categoryMask = result.categoryMask;
        const mask = categoryMask.getAsUint8Array();
        const milliseconds = performance.now() - started;
        const { width, height } = categoryMask;
        const labels = segmenter.getLabels();
        const present = drawOverlay(run.video, mask, width, height, labels);
        reportFrame(run, { milliseconds, width, height, labels, present, delegate, mask: Array.from(mask) });
      });
    }
  } catch (error) {
    showError(error);
  }
  scheduleFrame(run);
}

function reportFrame(run, frame) {
  const now = performance.now();
  run.frames += 1;
  run.times.push(now);
  while (run.times.length > 1 && now - run.times[0] > 2000) run.times.shift();
  const span = (run.times[run.times.length - 1] - run.times[0]) / 1000;
  const fps = span > 0 ? (run.times.length - 1) / span : 0;
  $("fps").textContent =
    `${fps.toFixed(1)} fps · ${frame.milliseconds.toFixed(1)} ms per frame · ${frame.width}×${frame.height} · ${frame.delegate}`;
  window.kerassegCamera = { frames: run.frames, fps, ...frame };
  if (run.target && run.frames === run.target && !document.title.startsWith("error")) document.title = "done";
}

// Wraps an event handler so that whatever it throws ends up on the page; the title tells a test it has finished.
function guarded(handler) {
  return (event) => {
    document.title = "working";
    return Promise.resolve()
      .then(() => handler(event))
      .then(() => {
        document.title = "done";
      })
      .catch(showError);
  };
}

$("model-file").addEventListener("change", guarded(async (event) => {
  const file = event.target.files?.[0];
  if (!file) return;  // the dialog was cancelled
  await loadSegmenter(new Uint8Array(await file.arrayBuffer()), $("delegate").value);
  setStatus(`model ${file.name} loaded (${task.delegate})`);
}));
$("image-file").addEventListener("change", guarded(async (event) => {
  const file = event.target.files?.[0];
  if (!file) return;
  const url = URL.createObjectURL(file);
  try {
    await segmentImage(url);
  } finally {
    URL.revokeObjectURL(url);
  }
}));
$("delegate").addEventListener("change", guarded(async (event) => {
  if (task && task.delegate !== event.target.value) await loadSegmenter(task.source, event.target.value);
}));
$("camera").addEventListener("click", guarded(async () => {
  if (camera) stopCamera();
  else await startCamera();
}));
window.addEventListener("unhandledrejection", (event) => showError(event.reason));

async function main() {
  const delegate = (params.get("delegate") || "CPU").toUpperCase();
  if (delegate !== "CPU" && delegate !== "GPU") throw new Error(`delegate=${delegate}: use CPU or GPU`);
  $("delegate").value = delegate;
  await loadSegmenter(params.get("model") || "model.tflite", delegate);
  if (params.get("image")) {
    await segmentImage(params.get("image"));
    document.title = "done";
  } else if (params.get("camera") === "1") {
    await startCamera();
    if (!camera.target) document.title = "done";
  } else {
    document.title = "done";
  }
}

main().catch(showError);
