// The server: version, capabilities, public settings, counters and
// heartbeat.
import { api, root } from "./api.js";
import { h, fill, errorBox } from "./ui.js";

class Server extends HTMLElement {
  async connectedCallback() {
    this.append(h("h1", {}, "Server"));
    const body = h("div");
    this.append(body);
    try {
      const info = await root();
      const caps = Object.entries(info.capabilities || {});
      fill(body, h("section", { class: "card" },
        h("p", {}, `${info.project_name} ${info.project_version}, HTTP API ${info.http_api_version}`),
        h("p", { class: "muted" }, info.user ? `Signed in as ${info.user.id}` : "Not signed in")),
      h("section", { class: "card" }, h("h2", {}, "Capabilities"),
        h("ul", {}, caps.map(([name, c]) => h("li", {}, h("strong", {}, name), " — ", c.description || "")))),
      h("section", { class: "card" }, h("h2", {}, "Settings"), h("pre", {}, JSON.stringify(info.settings, null, 2))));
    } catch (e) {
      fill(body, errorBox(e));
      return;
    }
    const hb = h("section", { class: "card" }, h("h2", {}, "Heartbeat"));
    body.append(hb);
    try {
      const res = await fetch(location.pathname.replace(/\/console(\/.*)?$/, "") + "/__heartbeat__");
      const checks = await res.json();
      hb.append(h("ul", {}, Object.entries(checks).map(([k, v]) => h("li", {}, `${k}: ${v === true ? "ok" : v === false ? "failing" : "not checked"}`))));
    } catch (e) { hb.append(errorBox(e)); }
    try {
      const counters = (await api("GET", "/__counters__")).body;
      body.append(h("section", { class: "card" }, h("h2", {}, "Counters"),
        h("ul", {}, Object.entries(counters.objects || {}).map(([k, v]) => h("li", {}, `${k}: ${v}`)))));
    } catch { /* the counters plugin is off, or not for this user */ }
  }
}

customElements.define("nb-server", Server);
