// A bucket's history as a timeline: who changed what, when, and the
// object as the change left it. It follows the history's stream.
import { api, seg } from "./api.js";
import { h, fill, errorBox, when } from "./ui.js";
import { follow } from "./stream.js";

class History extends HTMLElement {
  async connectedCallback() {
    const bid = this.params.bucket;
    this.path = `/buckets/${seg(bid)}/history`;
    this.append(h("h1", {}, `History of ${bid}`), h("p", {}, h("a", { href: `#/buckets/${seg(bid)}` }, `Back to bucket ${bid}`)));
    this.list = h("ol", { class: "timeline" });
    this.append(h("section", { class: "card" }, this.list));
    try {
      const entries = (await api("GET", `${this.path}?_limit=50&_sort=-last_modified`)).body.data;
      fill(this.list, entries.length ? entries.map(entry) : h("li", { class: "muted" }, "No change yet (is the history plugin on?)."));
      this.stop = follow(this.path, (kind, e) => { if (kind === "create") this.list.prepend(entry(e)); });
    } catch (e) {
      fill(this.list, h("li", {}, errorBox(e)));
    }
  }

  disconnectedCallback() { if (this.stop) this.stop(); }
}

function entry(e) {
  const target = e.target || {};
  return h("li", {},
    h("p", {}, h("strong", {}, `${e.action} ${e.resource_name}`), " ", h("code", {}, e.uri), " — ", e.user_id, ", ", when(e.last_modified)),
    target.data ? h("details", {}, h("summary", {}, "What it left"), h("pre", {}, JSON.stringify(target.data, null, 2))) : null);
}

customElements.define("nb-history", History);
