// Opens the demo page in headless Chromium and prints, as one JSON line, the page's title, window.kerassegResult
// (still image), window.kerassegCamera (live camera) and the console messages (used by the CI tests).
// Usage: node check_page.mjs URL [timeout_ms] [fake_camera.y4m]. Chromium: $CHROMIUM or /usr/bin/chromium.
// The camera is Chromium's fake capture device, granted without a prompt; with a .y4m file it plays that video.
import puppeteer from "puppeteer-core";

const [url, timeoutArg, fakeVideo] = process.argv.slice(2);
const timeout = Number(timeoutArg || 60000);
const args = [
  "--no-sandbox",  // CI runs as root
  // SwiftShader keeps WebGL (which MediaPipe probes, and its GPU delegate uses) working without a GPU.
  "--enable-unsafe-swiftshader",
  "--use-angle=swiftshader",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  // Offline: no background requests that could only fail.
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
if (fakeVideo) args.push(`--use-file-for-fake-video-capture=${fakeVideo}`);
const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true, args });
try {
  const page = await browser.newPage();
  const messages = [];
  page.on("console", (message) => messages.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => messages.push(`pageerror: ${error.message}`));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.title === "done" || document.title.startsWith("error"), { timeout });
  const title = await page.title();
  const { result, camera, error, status, fps } = await page.evaluate(() => ({
    result: window.kerassegResult ?? null,
    camera: window.kerassegCamera ?? null,
    error: document.getElementById("error").textContent,
    status: document.getElementById("status").textContent,
    fps: document.getElementById("fps").textContent,
  }));
  console.log(JSON.stringify({ title, result, camera, error, status, fps, messages }));
} finally {
  await browser.close();
}
