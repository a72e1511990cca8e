// The console's shell: the header with its navigation, the router (the
// screen is named in the URL's fragment, "#/buckets/b"), and who is
// signed in. Each screen is a custom element of its own module.
import { root, signOut, setBearer } from "./api.js";
import { h, fill, errorBox } from "./ui.js";
import "./signin.js";
import "./me.js";
import "./accounts.js";
import "./data.js";
import "./record.js";
import "./history.js";
import "./server.js";
import "./firstrun.js";

/** The routes: a pattern of the fragment and the element showing it. */
const routes = [
  [/^\/first-run\/([^/]+)$/, "nb-firstrun", ["token"], { open: true }],
  [/^\/signin$/, "nb-signin", [], { open: true }],
  [/^\/me$/, "nb-me", []],
  [/^\/accounts$/, "nb-accounts", []],
  [/^\/accounts\/([^/]+)$/, "nb-account", ["account"]],
  [/^\/buckets$/, "nb-buckets", []],
  [/^\/buckets\/([^/]+)$/, "nb-bucket", ["bucket"]],
  [/^\/buckets\/([^/]+)\/history$/, "nb-history", ["bucket"]],
  [/^\/buckets\/([^/]+)\/groups\/([^/]+)$/, "nb-group", ["bucket", "group"]],
  [/^\/buckets\/([^/]+)\/collections\/([^/]+)$/, "nb-collection", ["bucket", "collection"]],
  [/^\/buckets\/([^/]+)\/collections\/([^/]+)\/records\/([^/]+)$/, "nb-record", ["bucket", "collection", "record"]],
  [/^\/server$/, "nb-server", []],
];

class App extends HTMLElement {
  connectedCallback() {
    this.info = null;
    this.nav = h("nav", { "aria-label": "Main" });
    this.main = h("main", { id: "main", tabindex: "-1" });
    this.append(h("header", {}, h("a", { class: "brand", href: "#/buckets" }, "Nimbus"), this.nav), this.main);
    window.addEventListener("hashchange", () => this.route());
    document.addEventListener("nb-signed-in", () => this.refresh(true));
    document.addEventListener("nb-signed-out", () => {
      this.info = null;
      history.replaceState(null, "", location.pathname + "#/signin");
      this.refresh(false);
    });
    this.refresh(false);
  }

  /** Reads who is signed in, then shows the screen the URL names. */
  async refresh(moved) {
    const hash = location.hash;
    // Back from an OpenID provider: the token answer follows the marker.
    const oidc = hash.match(/^#\/oidc\/([^/]+)\/(.+)$/);
    if (oidc) {
      try {
        const tokens = JSON.parse(atob(decodeURIComponent(oidc[2])));
        if (tokens.access_token) setBearer(tokens.access_token);
      } catch { /* shown as signed out */ }
      history.replaceState(null, "", location.pathname + "#/buckets");
    }
    try {
      this.info = await root();
    } catch (e) {
      fill(this.main, errorBox(e));
      return;
    }
    this.drawNav();
    if (moved && this.user()) location.hash = "#/buckets";
    this.route();
  }

  user() { return this.info && this.info.user; }

  drawNav() {
    const user = this.user();
    const links = user
      ? [["#/accounts", "Accounts"], ["#/buckets", "Buckets"], ["#/server", "Server"], ["#/me", "My account"]]
      : [["#/signin", "Sign in"], ["#/server", "Server"]];
    fill(this.nav, links.map(([href, text]) => h("a", { href }, text)),
      user ? h("button", { class: "secondary", type: "button", onclick: async () => {
        await signOut();
        document.dispatchEvent(new Event("nb-signed-out"));
      } }, "Sign out") : null);
  }

  route() {
    const path = (location.hash || "#/").slice(1);
    for (const a of this.nav.querySelectorAll("a")) {
      if (path.startsWith(a.getAttribute("href").slice(1))) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    let found = null;
    for (const [re, tag, names, opts] of routes) {
      const m = path.match(re);
      if (m) { found = { tag, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])), opts: opts || {} }; break; }
    }
    if (!found) found = { tag: this.user() ? "nb-buckets" : "nb-signin", params: {}, opts: {} };
    if (!this.user() && !found.opts.open && found.tag !== "nb-server") found = { tag: "nb-signin", params: {}, opts: {} };
    const screen = document.createElement(found.tag);
    screen.params = found.params;
    screen.info = this.info;
    fill(this.main, screen);
    this.main.focus({ preventScroll: true });
  }
}

customElements.define("nb-app", App);
