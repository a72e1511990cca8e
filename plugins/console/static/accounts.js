// Accounts, for administrators (account_write_principals /
// account_read_principals): the list with search by id, sort and pages;
// creating an account; resetting a password; deleting; one account's
// details and principals.
import { api, seg, etag } from "./api.js";
import { h, field, fill, errorBox, notice, when, table, confirmed, turns } from "./ui.js";
import { follow } from "./stream.js";

const pageSize = 20;

class Accounts extends HTMLElement {
  connectedCallback() {
    this.out = h("div", { "aria-live": "polite" });
    this.list = h("div");
    this.pager = h("div", { class: "pager" });
    const search = field("Search accounts", { type: "search", placeholder: "id contains…" });
    const sort = h("select", { "aria-label": "Sort accounts" },
      h("option", { value: "-last_modified" }, "Last changed first"), h("option", { value: "id" }, "Id, A to Z"),
      h("option", { value: "-id" }, "Id, Z to A"));
    const reload = () => { this.query = { q: search.input.value.trim(), sort: sort.value }; this.load(null); };
    search.input.addEventListener("input", () => { clearTimeout(this.timer); this.timer = setTimeout(reload, 250); });
    sort.addEventListener("change", reload);
    this.append(h("h1", {}, "Accounts"),
      h("section", { class: "card" }, h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); reload(); } }, search.label,
        h("label", {}, "Sort", sort)), this.list, this.pager),
      this.createCard(), this.out);
    reload();
    // Accounts created or deleted elsewhere show without a reload.
    this.stop = follow("/accounts", () => { clearTimeout(this.later); this.later = setTimeout(() => this.load(this.shown), 300); });
  }

  disconnectedCallback() { if (this.stop) this.stop(); }

  async load(next) {
    this.shown = next;
    const params = new URLSearchParams({ _limit: pageSize, _sort: this.query.sort });
    if (this.query.q) params.set("like_id", `*${this.query.q}*`);
    this.turn ??= turns();
    const mine = this.turn();
    try {
      const res = next ? await api("GET", next) : await api("GET", "/accounts?" + params);
      if (!mine()) return;
      const rows = res.body.data;
      fill(this.list, rows.length ? table(rows, [
        ["Account", (a) => h("a", { href: "#/accounts/" + seg(a.id) }, a.id)],
        ["Last change", (a) => when(a.last_modified)],
        ["", (a) => h("td", { class: "actions" }, this.resetButton(a), h("button", { type: "button", class: "danger", "aria-label": `Delete ${a.id}`,
          onclick: () => this.remove(a) }, "Delete"))],
      ], `${res.headers.get("Total-Records") || rows.length} accounts`) : h("p", { class: "muted" }, "No account matches."));
      const nextPage = res.headers.get("Next-Page");
      fill(this.pager, nextPage ? h("button", { type: "button", class: "secondary", onclick: () => {
        this.load(nextPage.replace(/^https?:\/\/[^/]+\/v1/, ""));
      } }, "Next page") : null, next ? h("button", { type: "button", class: "secondary", onclick: () => this.load(null) }, "First page") : null);
    } catch (e) {
      if (mine()) fill(this.list, errorBox(e));
    }
  }

  resetButton(account) {
    return h("button", { type: "button", class: "secondary", "aria-label": `Reset the password of ${account.id}`, onclick: async () => {
      const pw = window.prompt(`New password for ${account.id}:`);
      if (!pw) return;
      try {
        await api("PATCH", "/accounts/" + seg(account.id), { body: { data: { password: pw } } });
        fill(this.out, notice(`Password of ${account.id} reset; its sessions and tokens were revoked.`));
      } catch (e) { fill(this.out, errorBox(e)); }
    } }, "Reset password");
  }

  async remove(account) {
    if (!confirmed(`Delete the account ${account.id}?`)) return;
    try {
      await api("DELETE", "/accounts/" + seg(account.id), { headers: { "If-Match": etag(account) } });
      fill(this.out, notice(`Account ${account.id} deleted.`));
      this.load(null);
    } catch (e) { fill(this.out, errorBox(e)); }
  }

  createCard() {
    const id = field("New account id", { required: true, autocomplete: "off" });
    const pw = field("Its password", { type: "password", autocomplete: "new-password", required: true });
    return h("section", { class: "card" }, h("h2", {}, "Create an account"),
      h("form", { class: "inline", onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api("PUT", "/accounts/" + seg(id.input.value.trim()), { body: { data: { password: pw.input.value } }, headers: { "If-None-Match": "*" } });
          fill(this.out, notice(`Account ${id.input.value.trim()} created.`));
          id.input.value = pw.input.value = "";
          this.load(null);
        } catch (err) { fill(this.out, errorBox(err)); }
      } }, id.label, pw.label, h("button", { type: "submit" }, "Create account")));
  }
}

class Account extends HTMLElement {
  async connectedCallback() {
    const id = this.params.account;
    this.append(h("h1", {}, `Account ${id}`));
    const body = h("div");
    this.append(body);
    try {
      const res = (await api("GET", "/accounts/" + seg(id))).body;
      const principals = [`account:${id}`, "system.Authenticated", "system.Everyone", ...await groupsOf(`account:${id}`)];
      fill(body, h("section", { class: "card" },
        h("p", {}, "Last change: " + when(res.data.last_modified)),
        h("h2", {}, "Data"), h("pre", {}, JSON.stringify({ ...res.data, password: undefined }, null, 2)),
        h("h2", {}, "Principals"), h("ul", {}, principals.map((p) => h("li", {}, p))),
        h("h2", {}, "Who may change it"), h("pre", {}, JSON.stringify(res.permissions || {}, null, 2))),
        h("p", {}, h("a", { href: "#/accounts" }, "Back to the accounts")));
    } catch (e) {
      fill(body, errorBox(e));
    }
  }
}

/** The groups, in the buckets the caller may read, that name principal. */
async function groupsOf(principal) {
  const out = [];
  try {
    const buckets = (await api("GET", "/buckets?_limit=100&_fields=id")).body.data;
    for (const b of buckets) {
      try {
        const groups = (await api("GET", `/buckets/${seg(b.id)}/groups?` + new URLSearchParams({ contains_members: JSON.stringify([principal]), _fields: "id" }))).body.data;
        out.push(...groups.map((g) => `/buckets/${b.id}/groups/${g.id}`));
      } catch { /* groups of this bucket are not readable */ }
    }
  } catch { /* no bucket readable */ }
  return out;
}

customElements.define("nb-accounts", Accounts);
customElements.define("nb-account", Account);
