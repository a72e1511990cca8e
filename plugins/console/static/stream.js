// Follows a list's change stream (PLUG-RT) with EventSource, which sends
// the session cookie: onChange receives each create, update and delete.
// The stream reconnects by itself with Last-Event-ID; follow returns a
// function that stops it.
import { base, bearer } from "./api.js";

export function follow(path, onChange, onState = () => {}) {
  if (bearer() || typeof EventSource === "undefined") {
    onState("off");
    return () => {};
  }
  const es = new EventSource(base + path);
  const handle = (kind) => (e) => {
    try { onChange(kind, JSON.parse(e.data).data); } catch { /* a malformed event is ignored */ }
  };
  for (const kind of ["create", "update", "delete"]) es.addEventListener(kind, handle(kind));
  es.addEventListener("ready", () => onState("live"));
  es.addEventListener("error", () => onState(es.readyState === EventSource.CLOSED ? "closed" : "reconnecting"));
  return () => es.close();
}
