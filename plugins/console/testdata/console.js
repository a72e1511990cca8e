// Drives Debian's Chromium (playwright-core) through the console's flows.
// usage: node console.js SERVER FIRST_RUN_TOKEN SCREENSHOT_DIR
// Prints a JSON report on its last line; each step records what it saw.
const { chromium } = require("playwright-core");

(async () => {
  const [server, token, shots] = process.argv.slice(2);
  const consoleURL = server + "/v1/console/";
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const report = { errors: [] };
  const basic = (u, p) => "Basic " + Buffer.from(u + ":" + p).toString("base64");
  const apiCall = async (method, path, auth, body, headers = {}) => {
    const r = await fetch(server + "/v1" + path, { method, headers: { Authorization: auth, "Content-Type": "application/json", ...headers },
      body: body ? JSON.stringify(body) : undefined });
    return { status: r.status, body: await r.json().catch(() => null) };
  };
  const step = (s) => console.error("step: " + s);
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    context.setDefaultTimeout(15000);
    const page = await context.newPage();
    page.on("pageerror", (e) => report.errors.push("pageerror: " + e.message));
    // A refused request is logged by the browser itself ("Failed to load
    // resource"); every other error (a script error, a CSP violation) counts.
    page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) report.errors.push("console: " + m.text()); });
    page.on("dialog", (d) => d.accept(d.type() === "prompt" ? "alice-reset-pw-1" : undefined));
    const visible = (text) => page.getByText(text, { exact: false }).first().waitFor();

    step("first run");
    await page.goto(consoleURL + "#/first-run/" + token);
    await page.getByLabel("Administrator id").fill("admin");
    await page.getByLabel("Password").fill("admin-pw-123");
    await page.getByRole("button", { name: "Create the administrator" }).click();
    await visible("The administrator account is created");
    await page.getByLabel("Password").fill("admin-pw-456");
    await page.getByRole("button", { name: "Create the administrator" }).click();
    await page.getByRole("alert").first().waitFor();
    report.firstRunAgain = await page.getByRole("alert").first().textContent();

    step("sign in");
    await page.goto(consoleURL + "#/signin");
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("admin-pw-123");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "Accounts" }).waitFor();
    report.nav = await page.getByRole("navigation").textContent();

    step("accounts");
    await page.getByRole("link", { name: "Accounts" }).click();
    for (const [id, pw] of [["alice", "alice-pw-123"], ["bob", "bob-pw-123"], ["carol", "carol-pw-123"]]) {
      await page.getByLabel("New account id").fill(id);
      await page.getByLabel("Its password").fill(pw);
      await page.getByRole("button", { name: "Create account" }).click();
      await visible(`Account ${id} created`);
    }
    await page.getByLabel("Search accounts").fill("ali");
    await page.waitForFunction(() => !document.querySelector("main table")?.textContent.includes("bob"));
    report.search = await page.locator("main table").first().textContent();
    if (shots) await page.screenshot({ path: shots + "/console-accounts.png" });
    await page.getByRole("button", { name: "Reset the password of alice" }).click();
    await visible("Password of alice reset");
    report.aliceNewPassword = (await apiCall("GET", "/account", basic("alice", "alice-reset-pw-1"))).status;
    await page.getByLabel("Search accounts").fill("");
    await page.getByRole("button", { name: "Delete bob" }).click();
    await visible("Account bob deleted");
    report.bobAfterDelete = (await apiCall("GET", "/account", basic("bob", "bob-pw-123"))).status;

    step("buckets and a collection with a schema");
    await page.getByRole("link", { name: "Buckets" }).click();
    await page.getByLabel("New bucket id").fill("shop");
    await page.getByRole("button", { name: "Create bucket" }).click();
    await page.getByRole("link", { name: "shop" }).click();
    await page.getByLabel("New collection id").fill("items");
    await page.getByLabel("JSON schema of its records (optional)").fill(JSON.stringify({ type: "object",
      properties: { title: { type: "string" }, price: { type: "number", minimum: 0 } }, required: ["title"] }));
    await page.getByRole("button", { name: "Create collection" }).click();
    await page.getByRole("link", { name: "items" }).click();
    await page.getByRole("link", { name: "New record" }).click();
    await page.getByLabel("Record id").fill("lamp");
    await page.getByLabel("title").fill("Desk lamp");
    await page.getByLabel("price").fill("-3");
    await page.getByRole("button", { name: "Save" }).click();
    await page.getByRole("alert").first().waitFor();
    report.schemaError = await page.locator(".field-error").allTextContents();
    await page.getByLabel("price").fill("25");
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/records\/lamp$/);
    await page.getByRole("button", { name: "Update permissions" }).waitFor();
    report.created = (await apiCall("GET", "/buckets/shop/collections/items/records/lamp", basic("admin", "admin-pw-123"))).body.data;

    step("conflict on a stale edit");
    await apiCall("PATCH", "/buckets/shop/collections/items/records/lamp", basic("admin", "admin-pw-123"), { data: { price: 30 } });
    await page.getByLabel("title").fill("Desk lamp, blue");
    await page.getByRole("button", { name: "Save" }).click();
    await visible("Conflict: this record was changed meanwhile");
    report.conflict = await page.locator(".conflict").textContent();
    await page.getByRole("button", { name: "Overwrite with mine" }).click();
    await visible("Saved.");

    step("sharing through the permissions editor");
    report.aliceBefore = (await apiCall("GET", "/buckets/shop/collections/items/records/lamp", basic("alice", "alice-reset-pw-1"))).status;
    await page.getByLabel("Principal to add").fill("account:alice");
    await page.getByLabel("Permission to give").selectOption("read");
    await page.getByRole("button", { name: "Add principal" }).click();
    await page.getByRole("button", { name: "Update permissions" }).click();
    await visible("Permissions saved.");
    report.aliceAfter = (await apiCall("GET", "/buckets/shop/collections/items/records/lamp", basic("alice", "alice-reset-pw-1"))).status;

    step("an account's principals and groups");
    await apiCall("PUT", "/buckets/shop/groups/staff", basic("admin", "admin-pw-123"), { data: { members: ["account:alice"] } });
    await page.goto(consoleURL + "#/accounts/alice");
    await visible("/buckets/shop/groups/staff");
    report.accountGroups = true;

    step("a live list");
    await page.goto(consoleURL + "#/buckets/shop/collections/items");
    await visible("Live: changes appear as they happen.");
    await apiCall("PUT", "/buckets/shop/collections/items/records/chair", basic("admin", "admin-pw-123"), { data: { title: "Chair", price: 40 } });
    await page.getByRole("link", { name: "chair" }).waitFor();
    report.liveRows = await page.locator("main table tbody tr").count();
    if (shots) await page.screenshot({ path: shots + "/console-records.png" });

    step("history");
    await page.goto(consoleURL + "#/buckets/shop/history");
    await visible("/buckets/shop/collections/items/records/chair");
    report.history = await page.locator("ol.timeline li").count();

    step("server and narrow screens");
    await page.getByRole("link", { name: "Server" }).click();
    await visible("Capabilities");
    await page.setViewportSize({ width: 375, height: 800 });
    report.narrow = {};
    for (const hash of ["#/accounts", "#/buckets", "#/buckets/shop/collections/items", "#/buckets/shop/collections/items/records/lamp", "#/server"]) {
      await page.goto(consoleURL + hash);
      await page.locator("main h1").waitFor();
      await page.waitForTimeout(200);
      report.narrow[hash] = await page.evaluate(() => document.documentElement.scrollWidth);
    }
    await page.setViewportSize({ width: 1100, height: 900 });

    step("a user: password change and session revoke");
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Username").waitFor();
    await page.getByLabel("Username").fill("alice");
    await page.getByLabel("Password").fill("alice-reset-pw-1");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("link", { name: "My account" }).click();
    await page.getByLabel("Current password").fill("alice-reset-pw-1");
    await page.getByLabel("New password").fill("alice-final-pw-2");
    await page.getByRole("button", { name: "Change password" }).click();
    await visible("Password changed");
    report.aliceFinal = (await apiCall("GET", "/account", basic("alice", "alice-final-pw-2"))).status;
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "nimbus_session");
    await page.getByRole("button", { name: "Revoke this session" }).click();
    await page.getByLabel("Username").waitFor();
    const after = await fetch(server + "/v1/account/session", { headers: { Cookie: "nimbus_session=" + (session && session.value) } });
    report.revokedSession = after.status;
    report.csp = (await fetch(consoleURL)).headers.get("content-security-policy");
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(report));
})().catch((e) => { console.error(e); process.exit(1); });
