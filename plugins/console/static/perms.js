// The permissions editor of one object: the principals of each of its
// permissions, one per line, with suggestions (system principals, the
// bucket's groups, accounts the caller may list). Saved as a PATCH of the
// permissions with If-Match, like every edit.
import { api, seg, etag } from "./api.js";
import { h, fill, errorBox, notice } from "./ui.js";

/** Permissions each kind of object has. */
const kinds = {
  bucket: ["read", "write", "collection:create", "group:create"],
  collection: ["read", "write", "record:create"],
  group: ["read", "write"],
  record: ["read", "write"],
};

let listId = 0;

/**
 * permissionsEditor(path, kind, object, acl, onSaved) returns a card.
 * path is the object's path under /v1, object its data (for If-Match).
 */
export function permissionsEditor(path, kind, object, acl, onSaved = () => {}) {
  const datalist = h("datalist", { id: "principals-" + ++listId });
  suggestions(path).then((list) => datalist.append(...list.map((p) => h("option", { value: p }))));
  const areas = {};
  const rows = kinds[kind].map((perm) => {
    const area = h("textarea", { rows: 2, class: "principals", "aria-label": `Principals with ${perm}`, list: datalist.id },
      (acl[perm] || []).join("\n"));
    areas[perm] = area;
    return h("label", {}, `${perm} (one principal per line)`, area);
  });
  const add = h("input", { list: datalist.id, "aria-label": "Principal to add", placeholder: "account:bob, system.Authenticated…" });
  const which = h("select", { "aria-label": "Permission to give" }, kinds[kind].map((p) => h("option", { value: p }, p)));
  const out = h("div", { "aria-live": "polite" });
  let current = object;
  return h("section", { class: "card" }, h("h2", {}, "Permissions"), datalist,
    h("div", { class: "form-grid" }, rows),
    h("div", { class: "row" }, add, which, h("button", { type: "button", class: "secondary", onclick: () => {
      const v = add.value.trim();
      if (!v) return;
      const area = areas[which.value];
      const lines = area.value.split("\n").map((s) => s.trim()).filter(Boolean);
      if (!lines.includes(v)) area.value = [...lines, v].join("\n");
      add.value = "";
    } }, "Add principal")),
    h("div", {}, h("button", { type: "button", onclick: async () => {
      const permissions = {};
      for (const [perm, area] of Object.entries(areas)) {
        permissions[perm] = area.value.split("\n").map((s) => s.trim()).filter(Boolean);
      }
      try {
        const res = await api("PATCH", path, { body: { permissions }, headers: { "If-Match": etag(current) } });
        current = res.body.data;
        for (const [perm, area] of Object.entries(areas)) area.value = (res.body.permissions[perm] || []).join("\n");
        fill(out, notice("Permissions saved."));
        onSaved(res.body);
      } catch (e) {
        fill(out, errorBox(e));
      }
    } }, "Update permissions")), out);
}

/** Principals to suggest: system ones, the bucket's groups, accounts. */
async function suggestions(path) {
  const out = ["system.Everyone", "system.Authenticated"];
  const bucket = path.match(/^\/buckets\/([^/]+)/);
  if (bucket) {
    try {
      const groups = (await api("GET", `/buckets/${bucket[1]}/groups?_limit=100`)).body.data;
      out.push(...groups.map((g) => `/buckets/${decodeURIComponent(bucket[1])}/groups/${g.id}`));
    } catch { /* no groups to suggest */ }
  }
  try {
    const accounts = (await api("GET", "/accounts?_limit=100&_fields=id")).body.data;
    out.push(...accounts.map((a) => "account:" + a.id));
  } catch { /* not an administrator */ }
  return out;
}

export { seg };
