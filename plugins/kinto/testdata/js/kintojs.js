// Runs the kinto.js offline-first client (real IndexedDB, in Debian's
// Chromium driven by playwright-core) against a Nimbus server.
// usage: node kintojs.js APP_URL[?signup=1]   (prints a JSON report on the last line)
const { chromium } = require("playwright-core");

(async () => {
  const app = process.argv[2];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(30000);
    page.on("console", (m) => console.error("page: " + m.text()));
    const u = new URL(app);
    await page.goto(u.origin + "/kinto-page.html" + u.search);
    const report = await page.evaluate(() => window.run());
    console.log(JSON.stringify(report));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
