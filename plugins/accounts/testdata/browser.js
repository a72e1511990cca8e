// Drives Debian's Chromium with playwright-core (never a downloaded
// browser): usage: node browser.js APP_ORIGIN EVIL_ORIGIN
// Prints a JSON report on the last line.
const { chromium } = require("playwright-core");

(async () => {
  const [app, evil] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const report = {};
  try {
    const context = await browser.newContext();
    context.setDefaultTimeout(20000);
    const step = (s) => console.error("step: " + s);
    const page = await context.newPage();
    page.on("console", (m) => console.error("page: " + m.text()));
    step("goto app");
    await page.goto(app + "/page.html");
    step("flow");
    report.app = await page.evaluate(() => window.runFlow());
    // log in again so that the browser holds a live session cookie
    step("relogin");
    report.relogin = await page.evaluate(() => window.login());
    const other = await context.newPage();
    step("goto evil");
    await other.goto(evil + "/evil.html");
    step("attack");
    report.evil = await other.evaluate((target) => window.attack(target), app);
    step("count");
    report.after = await page.evaluate(() => window.count());
    step("follow");
    report.follow = await page.evaluate(() => window.followFlow());
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
})().catch((e) => { console.error(e); process.exit(1); });
