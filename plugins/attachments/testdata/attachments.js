// kinto-http.js's attachment calls against a Nimbus server, as its own
// suite makes them: addAttachment (new record, then existing record with
// a safe write), removeAttachment, and, when the server serves its files
// itself ("served"), the download of the location.
// usage: node attachments.js BASE_URL served|kinto-ini   (prints OK, or an error and exits 1)
const mod = require("kinto-http/dist/kinto-http.js");
const KintoClient = mod.default || mod;

async function main() {
  const [remote, mode] = process.argv.slice(2);
  const auth = "Basic " + Buffer.from("attuser:attpass-123").toString("base64");
  const api = new KintoClient(remote, { headers: { Authorization: auth } });
  const check = (cond, what) => { if (!cond) throw new Error("check failed: " + what); };

  const info = await api.fetchServerInfo();
  check(info.capabilities.attachments, "attachments capability " + JSON.stringify(info.capabilities));
  const base = info.capabilities.attachments.base_url;
  check(typeof base === "string" && base.endsWith("/"), "capability base_url " + base);

  await api.createBucket("attbucket");
  const coll = api.bucket("attbucket").collection("files");
  await api.bucket("attbucket").createCollection("files");

  const text = "hello from kinto-http.js";
  const dataURL = "data:text/plain;name=hello.txt;base64," + Buffer.from(text).toString("base64");
  const created = await coll.addAttachment(dataURL, { id: "rec1", title: "first" }, { safe: true });
  const att = created.data.attachment;
  check(created.data.title === "first", "record data " + JSON.stringify(created.data));
  check(att && att.filename === "hello.txt" && att.size === text.length && att.mimetype === "text/plain", "attachment " + JSON.stringify(att));
  check(/^[0-9a-f]{64}$/.test(att.hash), "hash " + att.hash);
  if (mode === "kinto-ini") {
    // Kinto's own test configuration: folder {bucket_id}/{collection_id}.
    check(att.location.includes("attbucket/files/"), "location " + att.location);
  }

  if (mode === "served") {
    const res = await fetch(att.location);
    check(res.status === 200, "download " + res.status);
    check((await res.text()) === text, "downloaded bytes");
    check(res.headers.get("content-security-policy").startsWith("sandbox"), "served with a sandbox");
  }

  // An existing record, with its timestamp (If-Match).
  const other = "data:application/json;name=data.json;base64," + Buffer.from('{"a": 1}').toString("base64");
  const updated = await coll.addAttachment(other, { id: "rec1", last_modified: created.data.last_modified, extra: 2 }, { safe: true });
  check(updated.data.title === "first" && updated.data.extra === 2, "merged record " + JSON.stringify(updated.data));
  check(updated.data.attachment.filename === "data.json" && updated.data.attachment.location !== att.location, "replaced attachment");

  // A stale timestamp is refused.
  let refused = false;
  try {
    await coll.addAttachment(other, { id: "rec1", last_modified: created.data.last_modified }, { safe: true });
  } catch (e) {
    refused = /412|modified/i.test(String(e.message || e));
  }
  check(refused, "a stale safe upload must be refused");

  // Generated id, permissions, file name option.
  const anon = "data:text/plain;base64," + Buffer.from("x").toString("base64");
  const gen = await coll.addAttachment(anon, { kind: "gen" }, { filename: "named.txt", permissions: { read: ["system.Everyone"] } });
  check(gen.data.attachment.filename === "named.txt", "filename option " + JSON.stringify(gen.data.attachment));
  check(gen.permissions.read && gen.permissions.read.includes("system.Everyone"), "permissions " + JSON.stringify(gen.permissions));

  await coll.removeAttachment("rec1");
  const after = await coll.getRecord("rec1");
  check(after.data.attachment === null, "attachment after removal " + JSON.stringify(after.data));
  if (mode === "served") {
    const res = await fetch(updated.data.attachment.location);
    check(res.status === 404, "a removed file is gone " + res.status);
  }
  console.log("OK");
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
