// Opens the demo page in headless Chromium and prints window.kerassegResult as JSON (used by the CI test).
// Usage: node check_page.mjs URL [timeout_ms]. Chromium: $CHROMIUM or /usr/bin/chromium.
import puppeteer from "puppeteer-core";

const url = process.argv[2];
const timeout = Number(process.argv[3] || 60000);
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  // --no-sandbox: CI runs as root; SwiftShader keeps WebGL (which MediaPipe probes) working without a GPU.
  args: ["--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
});
try {
  const page = await browser.newPage();
  const messages = [];
  page.on("console", (message) => messages.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => messages.push(`pageerror: ${error.message}`));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => document.title === "done" || document.title.startsWith("error"), { timeout });
  const title = await page.title();
  const result = await page.evaluate(() => window.kerassegResult ?? null);
  console.log(JSON.stringify({ title, result, messages }));
} finally {
  await browser.close();
}
