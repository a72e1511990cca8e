package accounts

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Administrator ids are reserved when account_admin_reserved is on (the
// zero-configuration start): with open sign-up, whoever signed up first
// as "admin" would manage every account. A reserved id is created only
// by an administrator, by "nimbus create-user", or once through the
// first-run link the server logs at start while no administrator
// exists.

// reservedIDs are the account ids the *_principals settings name for
// this policy ("account:admin" in account_write_principals).
func reservedIDs(s *config.Settings, policy string) []string {
	seen := map[string]bool{}
	for _, k := range s.Keys() {
		if !strings.HasSuffix(k, "_principals") {
			continue
		}
		for _, pr := range s.List(k) {
			if id, ok := strings.CutPrefix(pr, policy+":"); ok && IDPattern.MatchString(id) {
				seen[id] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// firstRun is the one-time link's token: valid until used or the
// server stops.
type firstRun struct {
	mu    sync.Mutex
	token string
}

// valid tells whether tok is the unused token.
func (f *firstRun) valid(tok string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.matches(tok)
}

func (f *firstRun) matches(tok string) bool {
	return f.token != "" && subtle.ConstantTimeCompare([]byte(f.token), []byte(tok)) == 1
}

// take consumes the token if tok is it; give puts it back after a
// failed creation.
func (f *firstRun) take(tok string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.matches(tok) {
		return false
	}
	f.token = ""
	return true
}

func (f *firstRun) give(tok string) {
	f.mu.Lock()
	f.token = tok
	f.mu.Unlock()
}

// setupFirstRun reserves the administrator ids and, when none exists
// yet, logs the first-run link.
func (p *Plugin) setupFirstRun(r *resource.Registry) error {
	s := r.Settings()
	p.reserved = reservedIDs(s, p.policy)
	if len(p.reserved) == 0 {
		return nil
	}
	p.first = &firstRun{}
	var exists bool
	err := r.Storage().View(context.Background(), func(tx storage.Tx) error {
		for _, id := range p.reserved {
			ok, err := tx.Exists(AccountRef, id)
			if err != nil || ok {
				exists = ok
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("accounts: looking for an administrator: %w", err)
	}
	if !exists {
		p.first.token = randomSecret()
		r.Logger().Warn("no administrator account yet: create one (once) at this link, or with \"nimbus create-user -u "+p.reserved[0]+"\"",
			"url", firstRunBase(s)+firstRunPath(s, p.first.token))
	}
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		rt := resource.Route{Method: m, Path: "/__first_run__/:token", Handler: p.firstRunPage, Write: m == http.MethodPost,
			Summary:  "Create the first administrator account with the one-time link the server logged.",
			Produces: []string{"text/html"}}
		if m == http.MethodPost {
			rt.Consumes = []string{"application/x-www-form-urlencoded"}
		}
		if err := r.AddRoute(rt); err != nil {
			return err
		}
	}
	return nil
}

// firstRunBase is the server's address as a person reaches it.
// firstRunPath is the path of the first-run link: the web console's
// screen when the console is served, else the plain form.
func firstRunPath(s *config.Settings, token string) string {
	// console_enabled is the console's setting (default true), which it
	// declares when it registers, after this plugin.
	if v, set := s.Lookup("console_enabled"); slices.Contains(s.List("includes"), "console") && (!set || v == "" || s.Bool("console_enabled")) {
		return "/v1/console/#/first-run/" + token
	}
	return "/v1/__first_run__/" + token
}

func firstRunBase(s *config.Settings) string {
	scheme := s.String("http_scheme")
	if scheme == "" {
		scheme = "http"
	}
	if h := s.String("http_host"); h != "" {
		return scheme + "://" + h
	}
	host := s.String("bind_host")
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, s.String("bind_port"))
}

// reservedID tells whether id is an administrator id of this server.
func (p *Plugin) reservedID(id string) bool { return slices.Contains(p.reserved, id) }

// errReserved is the answer to anyone else creating a reserved id.
func errReserved(id string) error {
	return &resource.Error{Status: http.StatusForbidden, Errno: resource.ErrnoForbidden,
		Message: fmt.Sprintf("The account id %q is reserved for an administrator: create it with \"nimbus create-user\" "+
			"or the first-run link the server logged at start.", id)}
}

// firstRunPage shows (GET) and handles (POST, a form or JSON) the
// one-time creation of an administrator account.
func (p *Plugin) firstRunPage(r *resource.Request) error {
	tok := r.Param("token")
	if !p.first.valid(tok) {
		return &resource.Error{Status: http.StatusNotFound, Errno: resource.ErrnoMissingResource,
			Message: "This first-run link is not valid: it was used already, or the server restarted (use \"nimbus create-user\")."}
	}
	if r.Method() == http.MethodGet || r.Method() == http.MethodHead {
		return p.firstRunForm(r)
	}
	id, pw, form, err := firstRunInput(r)
	if err != nil {
		return err
	}
	if !p.reservedID(id) {
		return resource.Invalid("body", "data.id", fmt.Sprintf("id must be one of the administrator ids: %s", strings.Join(p.reserved, ", ")))
	}
	if err := p.hasher.checkPassword(pw); err != nil {
		return resource.Invalid("body", "data.password", err.Error())
	}
	if !p.first.take(tok) {
		return &resource.Error{Status: http.StatusNotFound, Errno: resource.ErrnoMissingResource, Message: "This first-run link was used already."}
	}
	hash, err := p.hash(pw)
	if err == nil {
		err = r.Update(func(tx storage.Tx) error {
			if _, err := tx.Create(AccountRef, storage.Object{"id": id, "password": hash}); err != nil {
				return err
			}
			return tx.SetACL("/accounts/"+id, storage.ACL{"write": {p.policy + ":" + id}})
		})
	}
	var unique *storage.UnicityError
	if errors.As(err, &unique) {
		return &resource.Error{Status: http.StatusConflict, Errno: resource.ErrnoConflict, Message: fmt.Sprintf("The account %q exists already.", id)}
	}
	if err != nil {
		p.first.give(tok)
		return err
	}
	p.cache.forget(id)
	r.Logger().Info("administrator account created through the first-run link", "id", id)
	if form {
		return p.firstRunDone(r, id)
	}
	return r.JSON(http.StatusCreated, map[string]any{"data": map[string]any{"id": id}, "permissions": map[string]any{"write": []string{p.policy + ":" + id}}})
}

// firstRunInput reads id and password from a form or a JSON body
// ({"data": {"id", "password"}}).
func firstRunInput(r *resource.Request) (id, pw string, form bool, err error) {
	ct := strings.ToLower(r.Header().Get("Content-Type"))
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		// The engine has read the body already (with its size limit).
		form, perr := url.ParseQuery(string(r.Body()))
		if perr != nil {
			return "", "", true, resource.Invalid("body", "", "The form could not be read.")
		}
		return form.Get("id"), form.Get("password"), true, nil
	}
	body, berr := r.BodyObject()
	if berr != nil {
		return "", "", false, berr
	}
	data, _ := body["data"].(map[string]any)
	id, _ = data["id"].(string)
	pw, _ = data["password"].(string)
	if pw == "" {
		return "", "", false, resource.Invalid("body", "data.password", "password is required")
	}
	return id, pw, false, nil
}

// firstRunForm answers the HTML form: no script, no inline style.
func (p *Plugin) firstRunForm(r *resource.Request) error {
	var opts strings.Builder
	for _, id := range p.reserved {
		fmt.Fprintf(&opts, `<option>%s</option>`, html.EscapeString(id))
	}
	page := `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
		`<title>Nimbus: create the administrator</title><h1>Create the administrator</h1>` +
		`<p>This link works once. The account you create here manages every other account.</p>` +
		`<form method="post"><p><label for="id">Username</label> <select id="id" name="id">` + opts.String() + `</select></p>` +
		`<p><label for="password">Password</label> <input id="password" name="password" type="password" required autocomplete="new-password"></p>` +
		`<p><button type="submit">Create administrator</button></p></form>`
	return writeHTML(r, http.StatusOK, page)
}

func (p *Plugin) firstRunDone(r *resource.Request, id string) error {
	return writeHTML(r, http.StatusCreated, `<!doctype html><html lang="en"><meta charset="utf-8"><title>Nimbus: administrator created</title>`+
		`<h1>Administrator created</h1><p>The account <strong>`+html.EscapeString(id)+`</strong> exists. This link no longer works.</p>`)
}

func writeHTML(r *resource.Request, status int, page string) error {
	h := r.ResponseHeader()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w := r.ResponseWriter()
	w.WriteHeader(status)
	_, err := w.Write([]byte(page))
	return err
}
