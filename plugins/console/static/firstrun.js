// The first run: the one-time link the server logs while no
// administrator exists opens this screen, which creates the
// administrator account. A second use is refused by the server.
import { api, seg } from "./api.js";
import { h, field, fill, errorBox, notice } from "./ui.js";

class FirstRun extends HTMLElement {
  connectedCallback() {
    const id = field("Administrator id", { value: "admin", required: true, autocomplete: "username" });
    const pw = field("Password", { type: "password", required: true, autocomplete: "new-password" });
    const out = h("div", { "aria-live": "polite" });
    this.append(h("h1", {}, "Create the administrator"), h("section", { class: "card" },
      h("p", {}, "This link works once, until the server restarts. The account it creates manages every account."),
      h("form", { class: "form-grid", onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api("POST", "/__first_run__/" + seg(this.params.token), { body: { data: { id: id.input.value.trim(), password: pw.input.value } } });
          pw.input.value = "";
          fill(out, notice("The administrator account is created. Sign in with it."), h("p", {}, h("a", { href: "#/signin" }, "Sign in")));
        } catch (err) {
          pw.input.value = "";
          fill(out, errorBox(err));
        }
      } }, id.label, pw.label, h("div", {}, h("button", { type: "submit" }, "Create the administrator"))), out));
  }
}

customElements.define("nb-firstrun", FirstRun);
