// Drives Debian's Chromium (playwright-core, never a downloaded browser)
// through an OpenID Connect login as Kinto Admin makes it: the app sends
// the browser to Nimbus's /openid/{provider}/login with a callback of its
// own, the user signs in on the provider's page, and the app reads the
// base64 token answer from its URL and calls Nimbus with the access token.
// usage: node login.js APP_URL   (prints a JSON report on the last line)
const { chromium } = require("playwright-core");

(async () => {
  const [app] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const report = {};
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(20000);
    page.on("console", (m) => console.error("page: " + m.text()));
    await page.goto(app);
    await Promise.all([page.waitForURL(/\/login\/username/), page.click("#signin")]);
    report.providerPage = new URL(page.url()).pathname;
    await page.fill("#username", "test-user2");
    await page.fill("#password", "verysecure");
    await Promise.all([page.waitForFunction(() => document.title.startsWith("done")), page.click("button[type=submit]")]);
    report.result = await page.evaluate(() => window.result);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
})().catch((e) => { console.error(e); process.exit(1); });
