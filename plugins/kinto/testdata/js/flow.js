// The usual kinto-http.js flow against a Nimbus server: create a bucket, a
// collection and records in a batch, list with _since, read the history.
// usage: node flow.js BASE_URL [fallback]   (prints OK, or an error and exits 1)
// With "fallback" (multiauth.policies = account basicauth, as Kinto's own
// client suites run), a Basic user without an account also works through
// the default bucket, far more often than the login throttle allows.
// The self-contained browser build runs on Node 18+ (global fetch), without
// the node build's extra dependencies.
const mod = require("kinto-http/dist/kinto-http.js");
const KintoClient = mod.default || mod;

async function main() {
  const remote = process.argv[2];
  const auth = "Basic " + Buffer.from("jsuser:jspass-123").toString("base64");
  const api = new KintoClient(remote, { headers: { Authorization: auth } });
  const check = (cond, what) => { if (!cond) throw new Error("check failed: " + what); };

  // sign up through the accounts endpoint, then check who we are
  const signup = await fetch(remote + "/accounts/jsuser", {
    method: "PUT", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ data: { password: "jspass-123" } }),
  });
  check(signup.status === 201, "sign-up " + signup.status);
  const info = await api.fetchServerInfo();
  check(info.user && info.user.id === "account:jsuser", "user id " + JSON.stringify(info.user));
  check(info.capabilities.history, "history capability");

  await api.createBucket("jsbucket");
  const bucket = api.bucket("jsbucket");
  await bucket.createCollection("tasks");
  const coll = bucket.collection("tasks");
  const first = await coll.listRecords();
  const since = first.last_modified;

  const results = await api.batch((batch) => {
    for (let i = 0; i < 5; i++) {
      batch.bucket("jsbucket").collection("tasks").createRecord({ title: "task " + i, done: i % 2 === 0 });
    }
  });
  check(results.length === 5, "batch size");
  for (const r of results) check(r.status === 201, "batch status " + r.status);

  const all = await coll.listRecords({ sort: "title" });
  check(all.data.length === 5 && all.data[0].title === "task 0", "list " + JSON.stringify(all.data.map((r) => r.title)));
  const done = await coll.listRecords({ filters: { done: true } });
  check(done.data.length === 3, "filter");

  const toDelete = all.data[4];
  await coll.deleteRecord(toDelete.id);
  const changes = await coll.listRecords({ since: String(since) });
  check(changes.data.length === 5, "_since " + changes.data.length);
  check(changes.data.some((r) => r.id === toDelete.id && r.deleted), "tombstone in _since");

  const paged = await coll.listRecords({ limit: 2, pages: Infinity });
  check(paged.data.length === 4, "pagination " + paged.data.length);

  const rec = await coll.getRecord(all.data[0].id);
  const updated = await coll.updateRecord({ ...rec.data, title: "renamed" }, { safe: true, last_modified: rec.data.last_modified });
  check(updated.data.title === "renamed", "safe update");
  let conflict = false;
  try {
    await coll.updateRecord({ ...rec.data, title: "stale" }, { safe: true, last_modified: rec.data.last_modified });
  } catch (e) {
    conflict = /412|modified/i.test(String(e.message || e));
  }
  check(conflict, "412 on a stale write");

  const history = await bucket.listHistory();
  check(history.data.length >= 8, "history entries " + history.data.length);
  check(history.data.some((e) => e.action === "delete" && e.resource_name === "record"), "delete in history");

  await coll.setPermissions({ read: ["system.Authenticated"] }, { patch: true });
  const perms = await coll.getPermissions();
  check(perms.read.includes("system.Authenticated") && perms.write.includes("account:jsuser"), "permissions " + JSON.stringify(perms));

  const eq = await coll.listRecords({ filters: { eq_done: true } });
  check(eq.data.length === 2, "eq_ filter " + eq.data.length);

  if (process.argv[3] === "fallback") {
    const legacyAuth = "Basic " + Buffer.from("legacy:legacy-pass").toString("base64");
    const legacy = new KintoClient(remote, { headers: { Authorization: legacyAuth } });
    const who = await legacy.fetchServerInfo();
    check(who.user && who.user.id.startsWith("basicauth:"), "basicauth user " + JSON.stringify(who.user));
    const notes = legacy.bucket("default").collection("notes");
    for (let i = 0; i < 15; i++) await notes.createRecord({ n: i % 3 });
    const mine = await notes.listRecords();
    check(mine.data.length === 15, "basicauth records " + mine.data.length);
    const threes = await notes.listRecords({ filters: { eq_n: 2 } });
    check(threes.data.length === 5, "basicauth eq_ " + threes.data.length);
    // The account's bucket is readable (bucket_read_principals), its
    // collections are not.
    await bucket.createCollection("private");
    await legacy.bucket("jsbucket").getData();
    let denied = false;
    try { await legacy.bucket("jsbucket").collection("private").listRecords(); } catch (e) { denied = /403/.test(String(e.message || e)); }
    check(denied, "a collection below a readable bucket stays private");
  }

  console.log("OK");
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
