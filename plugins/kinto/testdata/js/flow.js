// The usual kinto-http.js flow against a Nimbus server: create a bucket, a
// collection and records in a batch, list with _since, read the history.
// usage: node flow.js BASE_URL   (prints OK, or an error and exits 1)
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

  console.log("OK");
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
