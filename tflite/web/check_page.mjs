// Opens the demo page in headless Chromium and prints, as one JSON line, the page's title, window.kerassegResult
// (still image), window.kerassegCamera (live camera), what the page shows (error, status, frame rate, the overlay's
// pixels) and the console messages (used by the CI tests).
// Usage: node check_page.mjs URL [timeout_ms] [fake_camera.y4m] [#input-id=file ...]. Chromium: $CHROMIUM or
// /usr/bin/chromium. The camera is Chromium's fake capture device, granted without a prompt; with a .y4m file
// ("" for none) it plays that video. Each #input-id=file then picks that file in that file input, waits until the
// page has handled it, and adds what the page shows to "steps".
import puppeteer from "puppeteer-core";

const [url, timeoutArg, fakeVideo, ...uploads] = process.argv.slice(2);
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
  const finished = () => document.title === "done" || document.title.startsWith("error");
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(finished, { timeout });
  const steps = [];
  for (const upload of uploads) {
    const [selector, file] = upload.split(/=(.*)/s);
    await page.evaluate(() => {
      document.title = "working";
    });
    const input = await page.$(selector);
    await input.uploadFile(file);
    await page.waitForFunction(finished, { timeout });
    steps.push(await page.evaluate(() => ({
      title: document.title,
      error: document.getElementById("error").textContent,
      status: document.getElementById("status").textContent,
      result: window.kerassegResult ?? null,
    })));
  }
  const title = await page.title();
  const { result, camera, error, status, fps, canvas } = await page.evaluate(() => {
    const output = document.getElementById("output");
    const pixels = output.width ? output.getContext("2d").getImageData(0, 0, output.width, output.height) : null;
    return {
      result: window.kerassegResult ?? null,
      camera: window.kerassegCamera ?? null,
      error: document.getElementById("error").textContent,
      status: document.getElementById("status").textContent,
      fps: document.getElementById("fps").textContent,
      // The overlay as drawn, RGBA row-major.
      canvas: pixels && { width: pixels.width, height: pixels.height, rgba: Array.from(pixels.data) },
    };
  });
  console.log(JSON.stringify({ title, result, camera, error, status, fps, canvas, steps, messages }));
} finally {
  await browser.close();
}
