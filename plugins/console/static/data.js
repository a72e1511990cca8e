// Data: buckets, a bucket's collections and groups, a collection's
// records (filters, sort, pages, and the list following its change
// stream), a group's members. Every edit is a safe write (If-Match).
import { api, seg, etag } from "./api.js";
import { h, field, fill, errorBox, notice, when, table, confirmed, turns } from "./ui.js";
import { permissionsEditor } from "./perms.js";
import { follow } from "./stream.js";

const pageSize = 20;

/** A paged list of path with columns; returns {el, reload}. */
function pagedList(path, cols, empty) {
  const el = h("div");
  const pager = h("div", { class: "pager" });
  const turn = turns();
  const load = async (next) => {
    const mine = turn();
    try {
      const res = await api("GET", next || path);
      if (!mine()) return;
      const rows = res.body.data;
      fill(el, rows.length ? table(rows, cols, `${res.headers.get("Total-Records") ?? rows.length} in all`) : h("p", { class: "muted" }, empty));
      const nextPage = res.headers.get("Next-Page");
      fill(pager, nextPage ? h("button", { type: "button", class: "secondary", onclick: () => load(nextPage.replace(/^https?:\/\/[^/]+\/v1/, "")) }, "Next page") : null,
        next ? h("button", { type: "button", class: "secondary", onclick: () => load(null) }, "First page") : null);
    } catch (e) { if (mine()) fill(el, errorBox(e)); }
  };
  load(null);
  return { el: h("div", {}, el, pager), reload: () => load(null) };
}

/** A form creating a child object by id (and an optional JSON field). */
function createForm(label, onCreate, extra) {
  const id = field(`New ${label} id`, { required: true, autocomplete: "off", pattern: "[a-zA-Z0-9_\\-]+" });
  const out = h("div", { "aria-live": "polite" });
  return h("div", {}, h("form", { class: "inline", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await onCreate(id.input.value.trim(), extra && extra.input.value);
      id.input.value = "";
      if (extra) extra.input.value = "";
      fill(out);
    } catch (err) { fill(out, errorBox(err)); }
  } }, id.label, extra ? extra.label : null, h("button", { type: "submit" }, `Create ${label}`)), out);
}

class Buckets extends HTMLElement {
  connectedCallback() {
    const list = pagedList(`/buckets?_limit=${pageSize}&_sort=id`, [
      ["Bucket", (b) => h("a", { href: "#/buckets/" + seg(b.id) }, b.id)],
      ["Last change", (b) => when(b.last_modified)],
    ], "No bucket you may read.");
    this.append(h("h1", {}, "Buckets"), h("section", { class: "card" }, list.el),
      h("section", { class: "card" }, h("h2", {}, "Create a bucket"), createForm("bucket", async (id) => {
        await api("PUT", "/buckets/" + seg(id), { body: { data: {} }, headers: { "If-None-Match": "*" } });
        list.reload();
      })));
    this.stop = follow("/buckets", () => { clearTimeout(this.later); this.later = setTimeout(list.reload, 300); });
  }

  disconnectedCallback() { if (this.stop) this.stop(); }
}

class Bucket extends HTMLElement {
  async connectedCallback() {
    const bid = this.params.bucket;
    const path = "/buckets/" + seg(bid);
    this.append(h("h1", {}, `Bucket ${bid}`), h("p", {}, h("a", { href: `#${path}/history` }, "History of this bucket")));
    const collections = pagedList(`${path}/collections?_limit=${pageSize}&_sort=id`, [
      ["Collection", (c) => h("a", { href: `#${path}/collections/${seg(c.id)}` }, c.id)],
      ["Schema", (c) => (c.schema ? "yes" : "no")],
      ["Last change", (c) => when(c.last_modified)],
    ], "No collection.");
    const schema = field("JSON schema of its records (optional)", { multiline: true, rows: 6, placeholder: '{"type": "object", "properties": {"title": {"type": "string"}}}' });
    const groups = pagedList(`${path}/groups?_limit=${pageSize}&_sort=id`, [
      ["Group", (g) => h("a", { href: `#${path}/groups/${seg(g.id)}` }, g.id)],
      ["Members", (g) => (g.members || []).join(", ")],
    ], "No group.");
    this.append(h("section", { class: "card" }, h("h2", {}, "Collections"), collections.el,
      createForm("collection", async (id, text) => {
        const data = {};
        if (text && text.trim()) {
          try { data.schema = JSON.parse(text); } catch (e) { throw new Error("The schema is not valid JSON: " + e.message); }
        }
        await api("PUT", `${path}/collections/${seg(id)}`, { body: { data }, headers: { "If-None-Match": "*" } });
        collections.reload();
      }, schema)),
    h("section", { class: "card" }, h("h2", {}, "Groups"), groups.el, createForm("group", async (id) => {
      await api("PUT", `${path}/groups/${seg(id)}`, { body: { data: { members: [] } }, headers: { "If-None-Match": "*" } });
      groups.reload();
    })));
    try {
      const res = (await api("GET", path)).body;
      this.append(permissionsEditor(path, "bucket", res.data, res.permissions || {}), this.deleteCard(path, bid, res.data));
    } catch (e) { this.append(errorBox(e)); }
  }

  deleteCard(path, bid, data) {
    const out = h("div", { "aria-live": "polite" });
    return h("section", { class: "card" }, h("h2", {}, "Delete"), h("button", { type: "button", class: "danger", onclick: async () => {
      if (!confirmed(`Delete the bucket ${bid} and everything in it?`)) return;
      try { await api("DELETE", path, { headers: { "If-Match": etag(data) } }); location.hash = "#/buckets"; } catch (e) { fill(out, errorBox(e)); }
    } }, `Delete bucket ${bid}`), out);
  }
}

class Collection extends HTMLElement {
  async connectedCallback() {
    const { bucket: bid, collection: cid } = this.params;
    const cpath = `/buckets/${seg(bid)}/collections/${seg(cid)}`;
    this.base = cpath + "/records";
    this.append(h("h1", {}, `Collection ${cid}`), h("p", {}, h("a", { href: `#/buckets/${seg(bid)}` }, `Back to bucket ${bid}`)));
    const filter = field("Filter (querystring)", { placeholder: "status=active&min_n=3", autocomplete: "off" });
    const sort = field("Sort", { value: "-last_modified", autocomplete: "off" });
    this.live = h("span", { class: "live", "aria-live": "polite" });
    this.list = h("div");
    this.pager = h("div", { class: "pager" });
    const apply = () => { this.filter = filter.input.value.trim(); this.sort = sort.input.value.trim() || "-last_modified"; this.load(null); };
    this.append(h("section", { class: "card" },
      h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); apply(); } }, filter.label, sort.label, h("button", { type: "submit" }, "Apply")),
      h("p", {}, h("a", { href: `#${cpath}/records/${encodeURIComponent("+new")}` }, "New record"), " ", this.live),
      this.list, this.pager));
    apply();
    // The list follows its stream: a change made elsewhere shows at once.
    this.stop = follow(this.base, (kind, obj) => this.changed(kind, obj), (state) => {
      this.live.textContent = state === "live" ? "Live: changes appear as they happen." : state === "off" ? "" : "Reconnecting…";
    });
    try {
      const res = (await api("GET", cpath)).body;
      this.append(permissionsEditor(cpath, "collection", res.data, res.permissions || {}));
    } catch (e) { this.append(errorBox(e)); }
  }

  disconnectedCallback() { if (this.stop) this.stop(); }

  async load(next) {
    const params = new URLSearchParams(this.filter || "");
    params.set("_limit", pageSize);
    params.set("_sort", this.sort);
    this.turn ??= turns();
    const mine = this.turn();
    try {
      const res = await api("GET", next || `${this.base}?${params}`);
      if (!mine()) return;
      this.rows = res.body.data;
      this.total = res.headers.get("Total-Records");
      this.draw();
      const nextPage = res.headers.get("Next-Page");
      fill(this.pager, nextPage ? h("button", { type: "button", class: "secondary", onclick: () => this.load(nextPage.replace(/^https?:\/\/[^/]+\/v1/, "")) }, "Next page") : null,
        next ? h("button", { type: "button", class: "secondary", onclick: () => this.load(null) }, "First page") : null);
    } catch (e) { if (mine()) fill(this.list, errorBox(e)); }
  }

  draw() {
    fill(this.list, this.rows.length ? table(this.rows, [
      ["Record", (r) => h("a", { href: `#${this.base}/${seg(r.id)}` }, r.id)],
      ["Data", (r) => h("code", {}, preview(r))],
      ["Last change", (r) => when(r.last_modified)],
    ], `${this.total ?? this.rows.length} records`) : h("p", { class: "muted" }, "No record matches."));
  }

  /** A change from the stream: updated in place, added on top, removed. */
  changed(kind, obj) {
    if (!this.rows) return;
    const i = this.rows.findIndex((r) => r.id === obj.id);
    if (kind === "delete") { if (i >= 0) this.rows.splice(i, 1); }
    else if (i >= 0) this.rows[i] = obj;
    else if (!this.filter && this.sort === "-last_modified") this.rows.unshift(obj);
    else return;
    this.draw();
  }
}

function preview(r) {
  const { id, last_modified, ...rest } = r;
  const text = JSON.stringify(rest);
  return text.length > 120 ? text.slice(0, 117) + "…" : text;
}

class Group extends HTMLElement {
  async connectedCallback() {
    const { bucket: bid, group: gid } = this.params;
    const path = `/buckets/${seg(bid)}/groups/${seg(gid)}`;
    this.append(h("h1", {}, `Group ${gid}`), h("p", {}, h("a", { href: `#/buckets/${seg(bid)}` }, `Back to bucket ${bid}`)));
    try {
      let res = (await api("GET", path)).body;
      const members = h("textarea", { rows: 6, "aria-label": "Members, one principal per line" }, (res.data.members || []).join("\n"));
      const out = h("div", { "aria-live": "polite" });
      this.append(h("section", { class: "card" }, h("h2", {}, "Members"), members, h("div", {}, h("button", { type: "button", onclick: async () => {
        try {
          res = (await api("PATCH", path, { body: { data: { members: members.value.split("\n").map((s) => s.trim()).filter(Boolean) } },
            headers: { "If-Match": etag(res.data) } })).body;
          fill(out, notice("Members saved."));
        } catch (e) { fill(out, errorBox(e)); }
      } }, "Update members")), out), permissionsEditor(path, "group", res.data, res.permissions || {}));
    } catch (e) { this.append(errorBox(e)); }
  }
}

customElements.define("nb-buckets", Buckets);
customElements.define("nb-bucket", Bucket);
customElements.define("nb-collection", Collection);
customElements.define("nb-group", Group);
