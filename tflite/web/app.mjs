// kerasseg web demo: MediaPipe Tasks Vision ImageSegmenter on a kerasseg .tflite export, WASM served locally.
// URL parameters: ?model=<url of a .tflite>&image=<url of an image> (defaults: model.tflite, none).
// When done the page sets document.title to "done" (or "error: ...") and window.kerassegResult to
// {width, height, labels, mask} (mask: category indices, row-major), which the CI test reads.
import { FilesetResolver, ImageSegmenter } from "./node_modules/@mediapipe/tasks-vision/vision_bundle.mjs";

const WASM_DIR = "./node_modules/@mediapipe/tasks-vision/wasm";
const params = new URLSearchParams(window.location.search);
const statusLine = document.getElementById("status");
let segmenter = null;

function setStatus(text) {
  statusLine.textContent = text;
}

// PASCAL VOC colour map: the class index bits spread over the high bits of R, G and B.
function colour(c) {
  let r = 0, g = 0, b = 0;
  for (let shift = 7; c > 0; shift--, c >>= 3) {
    r |= (c & 1) << shift;
    g |= ((c >> 1) & 1) << shift;
    b |= ((c >> 2) & 1) << shift;
  }
  return [r, g, b];
}

async function createSegmenter(modelAsset) {
  const vision = await FilesetResolver.forVisionTasks(WASM_DIR);
  if (segmenter) segmenter.close();
  const baseOptions = typeof modelAsset === "string"
    ? { modelAssetPath: modelAsset, delegate: "CPU" }
    : { modelAssetBuffer: modelAsset, delegate: "CPU" };
  segmenter = await ImageSegmenter.createFromOptions(vision, {
    baseOptions,
    runningMode: "IMAGE",
    outputCategoryMask: true,
    outputConfidenceMasks: false,
  });
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => reject(new Error(`cannot load image ${url}`));
    image.src = url;
  });
}

function drawOverlay(image, mask, width, height, labels) {
  const canvas = document.getElementById("output");
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0, width, height);
  const pixels = context.getImageData(0, 0, width, height);
  for (let i = 0; i < mask.length; i++) {
    const [r, g, b] = colour(mask[i]);
    pixels.data[4 * i] = (pixels.data[4 * i] + r) >> 1;
    pixels.data[4 * i + 1] = (pixels.data[4 * i + 1] + g) >> 1;
    pixels.data[4 * i + 2] = (pixels.data[4 * i + 2] + b) >> 1;
  }
  context.putImageData(pixels, 0, 0);
  const present = [...new Set(mask)].sort((a, b) => a - b);
  document.getElementById("legend").innerHTML = present
    .map((c) => `<span><i style="background: rgb(${colour(c).join(",")})"></i>${labels[c] ?? c}</span>`)
    .join("");
}

async function segmentImage(image) {
  const started = performance.now();
  const result = segmenter.segment(image);
  const milliseconds = performance.now() - started;
  const categoryMask = result.categoryMask;
  const mask = Array.from(categoryMask.getAsUint8Array());
  const { width, height } = categoryMask;
  categoryMask.close();
  const labels = segmenter.getLabels();
  drawOverlay(image, mask, width, height, labels);
  setStatus(`${width}×${height} segmented in ${milliseconds.toFixed(1)} ms`);
  window.kerassegResult = { width, height, labels, mask, milliseconds };
}

async function main() {
  await createSegmenter(params.get("model") || "model.tflite");
  setStatus("model loaded: choose an image");
  if (params.get("image")) await segmentImage(await loadImage(params.get("image")));
  document.title = "done";
}

document.getElementById("model-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (file) await createSegmenter(new Uint8Array(await file.arrayBuffer()));
  setStatus(`model ${file.name} loaded`);
});
document.getElementById("image-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (file && segmenter) await segmentImage(await loadImage(URL.createObjectURL(file)));
});

main().catch((error) => {
  setStatus(`error: ${error.message}`);
  document.title = `error: ${error.message}`;
});
