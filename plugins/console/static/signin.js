// Sign-in: an account id and password open a cookie session (the page
// keeps no password); each OpenID provider of the server has its button.
import { signIn, base } from "./api.js";
import { h, field, fill, errorBox } from "./ui.js";

class SignIn extends HTMLElement {
  connectedCallback() {
    const user = field("Username", { name: "username", autocomplete: "username", required: true });
    const pass = field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const out = h("div", { "aria-live": "polite" });
    const form = h("form", { class: "form-grid", onsubmit: async (e) => {
      e.preventDefault();
      fill(out);
      try {
        await signIn(user.input.value.trim(), pass.input.value);
        pass.input.value = "";
        document.dispatchEvent(new Event("nb-signed-in"));
      } catch (err) {
        pass.input.value = "";
        fill(out, errorBox(err));
      }
    } }, user.label, pass.label, h("div", {}, h("button", { type: "submit" }, "Sign in")));
    const providers = ((this.info && this.info.capabilities.openid) || {}).providers || [];
    const oidc = providers.map((p) => h("button", { type: "button", class: "secondary", onclick: () => {
      const callback = location.origin + location.pathname + "#/oidc/" + encodeURIComponent(p.name) + "/";
      location.href = base + p.auth_path + "?" + new URLSearchParams({ callback, scope: "openid email profile" });
    } }, `Sign in with ${p.name}`));
    this.append(h("h1", {}, "Sign in"), h("section", { class: "card" }, form, out,
      oidc.length ? h("div", { class: "row" }, h("span", { class: "muted" }, "Or:"), oidc) : null,
      h("p", { class: "muted" }, "No account yet? Ask an administrator, or sign up with the API (PUT /v1/accounts/{id}).")));
  }
}

customElements.define("nb-signin", SignIn);
