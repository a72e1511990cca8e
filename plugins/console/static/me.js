// My account: who I am, my password, my session and login tokens (with
// revoke), the terms of service, and deleting the account.
import { api, seg, signOut } from "./api.js";
import { h, field, fill, errorBox, notice, when, table, confirmed } from "./ui.js";

class Me extends HTMLElement {
  async connectedCallback() {
    this.append(h("h1", {}, "My account"));
    this.body = h("div");
    this.append(this.body);
    let me;
    try {
      me = (await api("GET", "/account")).body.data;
    } catch (e) {
      fill(this.body, errorBox(e));
      return;
    }
    this.me = me;
    const who = h("section", { class: "card" },
      h("p", {}, "Signed in as ", h("strong", {}, me.user_id), ` (${me.auth_method})`),
      me.expires ? h("p", { class: "muted" }, "This sign-in ends on " + when(me.expires) + ".") : null,
      h("p", { class: "muted" }, "Principals: " + (me.principals || []).join(", ")));
    this.body.append(who);
    if (me.id) {
      this.body.append(this.passwordCard(), this.sessionCard(), await this.tokensCard(), await this.termsCard(), this.deleteCard());
    }
  }

  passwordCard() {
    const current = field("Current password", { type: "password", autocomplete: "current-password", required: true });
    const next = field("New password", { type: "password", autocomplete: "new-password", required: true });
    const out = h("div", { "aria-live": "polite" });
    return h("section", { class: "card" }, h("h2", {}, "Password"),
      h("form", { class: "form-grid", onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api("PUT", "/account/password", { body: { data: { current_password: current.input.value, password: next.input.value } } });
          fill(out, notice("Password changed. Your other sessions and tokens were signed out."));
        } catch (err) {
          fill(out, errorBox(err));
        }
        current.input.value = next.input.value = "";
      } }, current.label, next.label, h("div", {}, h("button", { type: "submit" }, "Change password"))), out);
  }

  sessionCard() {
    return h("section", { class: "card" }, h("h2", {}, "This session"),
      h("p", { class: "muted" }, "Signing out revokes this browser's session at once."),
      h("button", { type: "button", class: "danger", onclick: async () => {
        await signOut();
        document.dispatchEvent(new Event("nb-signed-out"));
      } }, "Revoke this session"));
  }

  async tokensCard() {
    const card = h("section", { class: "card" }, h("h2", {}, "Login tokens"));
    const list = h("div");
    card.append(list);
    const load = async () => {
      try {
        const tokens = (await api("GET", "/account/tokens")).body.data;
        fill(list, tokens.length ? table(tokens, [
          ["Label", (t) => t.label || h("span", { class: "muted" }, "(none)")],
          ["Key", (t) => h("code", {}, t.key)],
          ["Created", (t) => when(t.created)],
          ["Expires", (t) => when(t.expires)],
          ["Read-only", (t) => (t.read_only ? "yes" : "no")],
          ["", (t) => h("td", { class: "actions" }, h("button", { type: "button", class: "danger", "aria-label": `Revoke token ${t.label || t.key}`,
            onclick: async () => { try { await api("DELETE", "/account/tokens/" + seg(t.key)); load(); } catch (e) { list.append(errorBox(e)); } } }, "Revoke"))],
        ]) : h("p", { class: "muted" }, "No login tokens."));
      } catch (e) {
        fill(list, errorBox(e));
      }
    };
    await load();
    return card;
  }

  async termsCard() {
    let terms;
    try {
      terms = (await api("GET", "/account/terms")).body.data;
    } catch {
      return null; // no terms on this server
    }
    const out = h("div", { "aria-live": "polite" });
    return h("section", { class: "card" }, h("h2", {}, "Terms of service"),
      h("p", {}, "Current version: ", terms.url ? h("a", { href: terms.url, rel: "noopener" }, terms.version) : terms.version),
      h("p", {}, terms.valid ? "You accepted this version." : "You have not accepted this version."),
      terms.valid ? null : h("button", { type: "button", onclick: async () => {
        try { await api("PUT", "/account/terms"); fill(out, notice("Accepted.")); } catch (e) { fill(out, errorBox(e)); }
      } }, "Accept the terms"), out);
  }

  deleteCard() {
    const out = h("div", { "aria-live": "polite" });
    return h("section", { class: "card" }, h("h2", {}, "Delete my account"),
      h("p", { class: "muted" }, "Your account, its tokens and sessions go for good."),
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!confirmed(`Delete the account ${this.me.id}? This cannot be undone.`)) return;
        try {
          await api("DELETE", "/account");
          document.dispatchEvent(new Event("nb-signed-out"));
        } catch (e) { fill(out, errorBox(e)); }
      } }, "Delete my account"), out);
  }
}

customElements.define("nb-me", Me);
