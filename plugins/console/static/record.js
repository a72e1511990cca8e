// The record editor: a form built from the collection's JSON schema when
// it has one (simple properties), otherwise the record as JSON. Saving is
// a safe write (If-Match, or If-None-Match for a new record); a conflict
// shows the server's version beside the edited one, and schema errors
// show at the field they concern.
import { api, seg, etag, ApiError } from "./api.js";
import { h, fill, errorBox, notice, confirmed, describe } from "./ui.js";
import { permissionsEditor } from "./perms.js";

const simple = ["string", "number", "integer", "boolean"];

class Record extends HTMLElement {
  async connectedCallback() {
    const { bucket: bid, collection: cid, record: rid } = this.params;
    this.cpath = `/buckets/${seg(bid)}/collections/${seg(cid)}`;
    this.isNew = rid === "+new";
    this.path = `${this.cpath}/records/${seg(rid)}`;
    this.append(h("h1", {}, this.isNew ? `New record in ${cid}` : `Record ${rid}`),
      h("p", {}, h("a", { href: `#${this.cpath}` }, `Back to collection ${cid}`)));
    this.body = h("div");
    this.out = h("div", { "aria-live": "polite" });
    this.append(this.body, this.out);
    try {
      this.schema = ((await api("GET", this.cpath)).body.data || {}).schema;
      if (!this.isNew) {
        const res = (await api("GET", this.path)).body;
        this.record = res.data;
        this.acl = res.permissions || {};
      } else {
        this.record = null;
      }
    } catch (e) {
      fill(this.body, errorBox(e));
      return;
    }
    this.draw();
  }

  /** The schema's properties the form can show, or null for JSON. */
  props() {
    const p = this.schema && this.schema.properties;
    if (!p) return null;
    const list = Object.entries(p).filter(([, s]) => s && simple.includes(s.type));
    return list.length ? list : null;
  }

  draw() {
    const data = this.record ? { ...this.record } : {};
    delete data.last_modified;
    const props = this.props();
    this.inputs = {};
    this.errors = {};
    let editor;
    if (props) {
      editor = h("div", { class: "form-grid" }, props.map(([name, s]) => {
        const label = s.title || name;
        let input;
        if (s.type === "boolean") input = h("input", { type: "checkbox", name, checked: data[name] === true });
        else if (Array.isArray(s.enum)) input = h("select", { name }, h("option", { value: "" }, "—"), s.enum.map((v) => h("option", { value: v, selected: data[name] === v }, String(v))));
        else input = h("input", { name, type: s.type === "string" ? "text" : "number", step: s.type === "integer" ? "1" : "any", value: data[name] ?? "" });
        this.inputs[name] = { input, s };
        this.errors[name] = h("span", { class: "field-error", id: "err-" + name });
        input.setAttribute("aria-describedby", "err-" + name);
        return h("label", { class: s.type === "boolean" ? "check" : "" }, label, input, this.errors[name]);
      }));
      this.extra = Object.fromEntries(Object.entries(data).filter(([k]) => !this.inputs[k]));
    } else {
      this.json = h("textarea", { "aria-label": "Record data (JSON)", spellcheck: "false" }, JSON.stringify(data, null, 2));
      editor = h("label", {}, "Record data (JSON)", this.json);
    }
    const id = this.isNew ? h("input", { "aria-label": "Record id (empty: generated)", placeholder: "id (empty: generated)" }) : null;
    this.idInput = id;
    fill(this.body, h("section", { class: "card" }, id ? h("label", {}, "Record id", id) : null, editor,
      h("div", { class: "row" }, h("button", { type: "button", onclick: () => this.save(false) }, "Save"),
        this.isNew ? null : h("button", { type: "button", class: "danger", onclick: () => this.remove() }, "Delete"))));
    if (!this.isNew) this.body.append(permissionsEditor(this.path, "record", this.record, this.acl, (res) => { this.record = res.data; }));
  }

  /** The edited data, or an Error saying what is wrong. */
  edited() {
    if (this.json) {
      try {
        const v = JSON.parse(this.json.value);
        if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("the data must be a JSON object");
        return v;
      } catch (e) { return new Error("The JSON cannot be read: " + e.message); }
    }
    const data = { ...this.extra };
    for (const [name, { input, s }] of Object.entries(this.inputs)) {
      if (s.type === "boolean") data[name] = input.checked;
      else if (input.value === "") delete data[name];
      else if (s.type === "string" || Array.isArray(s.enum) && s.type === "string") data[name] = input.value;
      else data[name] = Number(input.value);
    }
    return data;
  }

  async save(force) {
    fill(this.out);
    for (const e of Object.values(this.errors || {})) e.textContent = "";
    const data = this.edited();
    if (data instanceof Error) { fill(this.out, h("p", { class: "error", role: "alert" }, data.message)); return; }
    delete data.last_modified;
    try {
      if (this.isNew) {
        const id = this.idInput.value.trim();
        const res = id
          ? await api("PUT", `${this.cpath}/records/${seg(id)}`, { body: { data }, headers: { "If-None-Match": "*" } })
          : await api("POST", `${this.cpath}/records`, { body: { data } });
        location.hash = `#${this.cpath}/records/${seg(res.body.data.id)}`;
        return;
      }
      delete data.id;
      const headers = force ? {} : { "If-Match": etag(this.record) };
      const res = await api("PUT", this.path, { body: { data }, headers });
      this.record = res.body.data;
      this.draw();
      fill(this.out, notice("Saved."));
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) return this.conflict(data, e);
      const fields = e instanceof ApiError ? e.fields() : {};
      let shown = false;
      for (const [name, text] of Object.entries(fields)) {
        const key = name.split(".")[0];
        if (this.errors && this.errors[key]) { this.errors[key].textContent = text; shown = true; }
      }
      fill(this.out, shown ? h("p", { class: "error", role: "alert" }, "Some fields are not valid: " + describe(e)) : errorBox(e));
    }
  }

  /** A stale edit: both versions side by side, and what to do. */
  conflict(mine, err) {
    const theirs = (err.body.details && err.body.details.existing) || null;
    fill(this.out, h("section", { class: "card", role: "alert" },
      h("h2", {}, "Conflict: this record was changed meanwhile"),
      h("div", { class: "conflict" },
        h("div", {}, h("h3", {}, "Your version"), h("pre", {}, JSON.stringify(mine, null, 2))),
        h("div", {}, h("h3", {}, "The server's version"), h("pre", {}, theirs ? JSON.stringify(theirs, null, 2) : "(deleted, or not readable)"))),
      h("div", { class: "row" },
        h("button", { type: "button", onclick: () => this.save(true) }, "Overwrite with mine"),
        h("button", { type: "button", class: "secondary", onclick: async () => {
          try { this.record = (await api("GET", this.path)).body.data; this.draw(); fill(this.out, notice("The server's version is loaded.")); } catch (e) { fill(this.out, errorBox(e)); }
        } }, "Take the server's version"))));
  }

  async remove() {
    if (!confirmed(`Delete the record ${this.record.id}?`)) return;
    try {
      await api("DELETE", this.path, { headers: { "If-Match": etag(this.record) } });
      location.hash = "#" + this.cpath;
    } catch (e) {
      fill(this.out, errorBox(e));
    }
  }
}

customElements.define("nb-record", Record);
