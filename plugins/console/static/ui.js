// Small helpers every screen uses: building elements, showing errors in
// words, times.

/** h("button", {class: "x", onclick}, "text", child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A labelled input: h("label", {}, text, input). */
export function field(label, attrs = {}) {
  const input = h(attrs.multiline ? "textarea" : "input", { ...attrs, multiline: undefined });
  return { label: h("label", {}, label, input), input };
}

/** Words for an error of the API or of the network. */
export function describe(err) {
  if (!err) return "";
  if (err.status === 401) return "You are not signed in, or your session has ended. Sign in again.";
  if (err.status === 403) return "You are not allowed to do this. " + (err.body && err.body.message ? `(${err.body.message})` : "");
  if (err.status === 404) {
    const m = err.body && err.body.message;
    return m && !/could not be found/.test(m) ? m : "This does not exist (any more), or you may not see it.";
  }
  if (err.status === 412) return "Someone changed this meanwhile.";
  if (err.status === 429) return "Too many attempts: wait a little and try again.";
  if (err.status >= 500) return "The server could not do this right now. Try again later.";
  const details = err.body && Array.isArray(err.body.details)
    ? err.body.details.map((d) => d && d.description ? `${d.name ? d.name + ": " : ""}${d.description}` : "").filter(Boolean) : [];
  const msg = err.message || String(err);
  return details.length && !details.some((d) => msg.includes(d)) ? `${msg} (${details.join("; ")})` : msg;
}

/** Shows an error (or nothing) in a box with role=alert. */
export function errorBox(err) {
  return err ? h("p", { class: "error", role: "alert" }, describe(err)) : null;
}

export function notice(text) { return h("p", { class: "notice", role: "status" }, text); }

export function when(ms) {
  if (!ms) return "";
  return new Date(Number(ms)).toLocaleString();
}

/** Replaces the children of el. */
export function fill(el, ...children) { el.replaceChildren(); el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false)); return el; }

/** A table of rows: cols are [header, (row) => cell]. */
export function table(rows, cols, caption) {
  return h("table", {},
    caption ? h("caption", { class: "muted" }, caption) : null,
    h("thead", {}, h("tr", {}, cols.map(([title]) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, cols.map(([, cell]) => {
      const c = cell(r);
      return c instanceof Node && c.tagName === "TD" ? c : h("td", {}, c);
    })))));
}

/** Asks for a confirmation with the browser's own dialog. */
export function confirmed(text) { return window.confirm(text); }

/**
 * Turns for the loads of one list: `const mine = turns();` before a
 * request, `mine()` after it tells whether it is still the newest load.
 * A list reloaded twice (a search typed while a change stream asks for a
 * refresh) would otherwise show whichever answer arrives last.
 */
export function turns() {
  let n = 0;
  return () => { const mine = ++n; return () => mine === n; };
}
