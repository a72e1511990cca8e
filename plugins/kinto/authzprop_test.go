package kinto_test

// The property test of authorization: random trees of buckets, groups,
// collections and records with random ACLs, group memberships and
// *_principals settings; every caller sends every request on every object
// and list through the real HTTP server (some of them inside /batch), and
// each answer is compared with the model of authzmodel_test.go.
//
// Fixed seeds run in CI. To run longer by hand:
//
//	NIMBUS_AUTHZ_SEEDS=500 NIMBUS_AUTHZ_FIRST=1000 go test -run TestAuthorizationModel ./plugins/kinto/
//
// To check the model itself against another server (a Kinto 26 started
// with `multiauth.policies = account basicauth`, the accounts and flush
// plugins, account_create_principals = system.Everyone and the same
// settings):
//
//	NIMBUS_AUTHZ_URL=http://127.0.0.1:8888/v1 NIMBUS_AUTHZ_SECRET=<userid_hmac_secret> \
//	NIMBUS_AUTHZ_SETTINGS='bucket_read_principals=system.Authenticated' go test -run TestAuthorizationModel ./plugins/kinto/

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
)

// authUser is one caller; kind is "account", "basic" or "" (anonymous).
type authUser struct{ name, pass, kind string }

func (u authUser) header() string {
	if u.kind == "" {
		return ""
	}
	return apitest.Basic(u.name, u.pass)
}

func (u authUser) id(secret string) string {
	switch u.kind {
	case "account":
		return "account:" + u.name
	case "basic":
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(u.name + ":" + u.pass))
		return "basicauth:" + hex.EncodeToString(m.Sum(nil))
	}
	return ""
}

// authConfig is one server configuration the model runs under.
type authConfig struct {
	name     string
	settings map[string]string
	owner    authUser
	users    []authUser
}

var authConfigs = []authConfig{
	{
		name:     "account basicauth",
		settings: map[string]string{"multiauth.policies": "account basicauth", "includes": "default_bucket history accounts flush"},
		owner:    authUser{"owner", "owner-pass", "account"},
		users: []authUser{{"a1", "a1-pass", "account"}, {"a2", "a2-pass", "account"},
			{"s1", "s1-pass", "basic"}, {"s2", "s2-pass", "basic"}, {"", "", ""}},
	},
	{
		name:     "account",
		settings: map[string]string{"multiauth.policies": "account", "includes": "history accounts"},
		owner:    authUser{"owner", "owner-pass", "account"},
		users:    []authUser{{"a1", "a1-pass", "account"}, {"a2", "a2-pass", "account"}, {"a3", "a3-pass", "account"}, {"", "", ""}},
	},
	{
		name:     "basicauth",
		settings: map[string]string{"multiauth.policies": "basicauth", "includes": "history"},
		owner:    authUser{"owner", "owner-pass", "basic"},
		users:    []authUser{{"s1", "s1-pass", "basic"}, {"s2", "s2-pass", "basic"}, {"s3", "s3-pass", "basic"}, {"", "", ""}},
	},
}

// objSpec is one object the owner creates, in order.
type objSpec struct {
	uri     string
	acl     map[string][]string
	members []string // groups only
}

// worldSpec is a generated world: settings and objects.
type worldSpec struct {
	settings map[string][]string
	objects  []objSpec
	accounts []string // ids of the accounts the configuration signs up
}

var permNames = map[string][]string{
	"bucket":     {"read", "write", "collection:create", "group:create"},
	"collection": {"read", "write", "record:create"},
	"group":      {"read", "write"},
	"record":     {"read", "write"},
}

var settingKeys = func() []string {
	var out []string
	for _, r := range []string{"bucket", "collection", "group", "record"} {
		for _, p := range []string{"read", "write", "create"} {
			out = append(out, r+"_"+p+"_principals")
		}
	}
	return out
}()

// generate builds a random world for the callers of cfg.
func generate(rng *rand.Rand, cfg authConfig, secret string) worldSpec {
	var ids []string
	for _, u := range cfg.users {
		if u.kind != "" {
			ids = append(ids, u.id(secret))
		}
	}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	people := append([]string{"system.Authenticated", "system.Everyone"}, ids...)
	groups := []string{"/buckets/b0/groups/g0", "/buckets/b0/groups/g1", "/buckets/b1/groups/g0", "/buckets/b1/groups/g1"}
	pool := append(append([]string{"fxa:nobody"}, people...), groups...)
	acl := func(resource string) map[string][]string {
		out := map[string][]string{}
		for _, p := range permNames[resource] {
			if rng.IntN(4) == 0 {
				out[p] = []string{pick(pool)}
			}
		}
		return out
	}
	w := worldSpec{settings: map[string][]string{}}
	for _, k := range settingKeys {
		if rng.IntN(8) == 0 {
			w.settings[k] = []string{pick(people)}
		}
	}
	// The owner must be able to build the world.
	w.settings["bucket_create_principals"] = append(w.settings["bucket_create_principals"], cfg.owner.id(secret))
	for _, u := range append([]authUser{cfg.owner}, cfg.users...) {
		if u.kind == "account" {
			w.accounts = append(w.accounts, u.name)
		}
	}
	if len(w.accounts) > 0 {
		// Account administrators and viewers among the callers.
		for _, k := range []string{"account_write_principals", "account_read_principals"} {
			if rng.IntN(2) == 0 {
				w.settings[k] = []string{pick(people)}
			}
		}
	}
	for b := 0; b < 2; b++ {
		bu := fmt.Sprintf("/buckets/b%d", b)
		w.objects = append(w.objects, objSpec{uri: bu, acl: acl("bucket")})
		for g := 0; g < 2; g++ {
			var members []string
			for n := rng.IntN(3); n > 0; n-- {
				members = append(members, pick(append([]string{"system.Authenticated"}, ids...))) // system.Everyone is no member
			}
			w.objects = append(w.objects, objSpec{uri: fmt.Sprintf("%s/groups/g%d", bu, g), acl: acl("group"), members: members})
		}
		for c := 0; c < 2; c++ {
			co := fmt.Sprintf("%s/collections/c%d", bu, c)
			w.objects = append(w.objects, objSpec{uri: co, acl: acl("collection")})
			for r := 0; r < 3; r++ {
				w.objects = append(w.objects, objSpec{uri: fmt.Sprintf("%s/records/r%d", co, r), acl: acl("record")})
			}
		}
	}
	return w
}

// model returns the model world of a spec built by owner.
func (w worldSpec) model(ownerID string) *modelWorld {
	m := &modelWorld{settings: w.settings, acls: map[string]map[string][]string{}, objects: map[string]bool{}, members: map[string][]string{},
		accounts: map[string]bool{}}
	for _, id := range w.accounts {
		m.accounts[id] = true
	}
	for _, o := range w.objects {
		m.objects[o.uri] = true
		acl := map[string][]string{}
		for k, v := range o.acl {
			acl[k] = v
		}
		acl["write"] = append(acl["write"], ownerID)
		m.acls[o.uri] = acl
		if strings.Contains(o.uri, "/groups/") {
			m.members[o.uri] = o.members
		}
	}
	return m
}

// accountRequests are the requests on the accounts plugin's resource.
func accountRequests(ids []string) []modelReq {
	out := []modelReq{{method: "GET", uri: "/accounts", plural: true}}
	for _, id := range append(ids, "ghost") {
		u := "/accounts/" + id
		out = append(out, modelReq{method: "GET", uri: u}, modelReq{method: "PATCH", uri: u, precond: "match"},
			modelReq{method: "DELETE", uri: u, precond: "match"})
	}
	return out
}

// requests lists every request the callers send in a world.
func requests() []modelReq {
	objects := []string{"/buckets/bx", "/buckets/bx/groups/gx", "/buckets/bx/collections/cx", "/buckets/bx/collections/cx/records/rx"}
	lists := []string{"/buckets", "/buckets/bx/collections", "/buckets/bx/groups", "/buckets/bx/collections/cx/records"}
	for b := 0; b < 2; b++ {
		bu := fmt.Sprintf("/buckets/b%d", b)
		objects = append(objects, bu, bu+"/groups/g0", bu+"/groups/g1", bu+"/groups/gx", bu+"/collections/cx", bu+"/collections/cx/records/rx")
		lists = append(lists, bu+"/collections", bu+"/groups", bu+"/collections/cx/records")
		for c := 0; c < 2; c++ {
			co := fmt.Sprintf("%s/collections/c%d", bu, c)
			objects = append(objects, co, co+"/records/r0", co+"/records/r1", co+"/records/r2", co+"/records/rx")
			lists = append(lists, co+"/records")
		}
	}
	var out []modelReq
	for _, o := range objects {
		out = append(out, modelReq{method: "GET", uri: o}, modelReq{method: "PATCH", uri: o, precond: "match"},
			modelReq{method: "DELETE", uri: o, precond: "match"}, modelReq{method: "PUT", uri: o, precond: "match"})
		if !strings.HasSuffix(o, "x") {
			// If-None-Match: * on a missing object would create it.
			out = append(out, modelReq{method: "PUT", uri: o, precond: "none"})
		}
	}
	for _, l := range lists {
		out = append(out, modelReq{method: "GET", uri: l, plural: true}, modelReq{method: "POST", uri: l, plural: true, precond: "match"},
			modelReq{method: "DELETE", uri: l, plural: true, precond: "match"})
	}
	return out
}

// TestAuthorizationModel compares the server's answers with the model
// for random worlds under each configuration, on memory and bolt (and
// PostgreSQL, fewer worlds, Kinto's client-suite configuration only).
func TestAuthorizationModel(t *testing.T) {
	external := os.Getenv("NIMBUS_AUTHZ_URL") != ""
	seeds, first := envInt("NIMBUS_AUTHZ_SEEDS", 6), envInt("NIMBUS_AUTHZ_FIRST", 1)
	backends := []string{"memory", "bolt", "postgresql"}
	configs := authConfigs
	if external {
		backends, configs = []string{"external"}, authConfigs[:1]
	}
	qs := requests()
	for _, backend := range backends {
		for _, cfg := range configs {
			if backend == "postgresql" && cfg.name != authConfigs[0].name {
				continue // each world is a new database: one configuration is enough
			}
			t.Run(backend+"/"+cfg.name, func(t *testing.T) {
				n := seeds
				switch {
				case external:
				case backend == "bolt":
					n = max(1, seeds/2)
				case backend == "postgresql":
					n = max(1, seeds/3)
				}
				for seed := first; seed < first+n; seed++ {
					checkWorld(t, backend, cfg, uint64(seed), qs, external)
				}
			})
		}
	}
}

// checkWorld builds one world, runs every request of every caller and, on
// the first disagreement with the model, shrinks the world to a small
// reproduction and fails with it.
func checkWorld(t *testing.T, backend string, cfg authConfig, seed uint64, qs []modelReq, external bool) {
	secret := apitest.Defaults["userid_hmac_secret"]
	if external {
		secret = os.Getenv("NIMBUS_AUTHZ_SECRET")
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e696d627573))
	w := generate(rng, cfg, secret)
	if external {
		w.settings = externalSettings()
	}
	tg := newTarget(t, backend, cfg, w)
	tg.build(cfg, w)
	m := w.model(cfg.owner.id(secret))
	m.kintoLeak = external
	if len(w.accounts) > 0 && !external {
		qs = append(append([]modelReq{}, qs...), accountRequests(w.accounts)...)
	}
	for _, u := range cfg.users {
		got := tg.run(u, qs, rng)
		for i, q := range qs {
			want := m.expect(u.id(secret), q)
			if matches(want, got[i]) {
				continue
			}
			if tg.cleanup != nil {
				tg.cleanup()
			}
			small := shrink(t, backend, cfg, w, u, q, secret, external)
			sm := small.model(cfg.owner.id(secret))
			t.Fatalf("seed %d, %s as %s: %s %s (%s) answered %d %v, the model says %d %v\n%s\nsmallest reproduction:\n%s",
				seed, cfg.name, userLabel(u), q.method, q.uri, q.precond, got[i].status, got[i].ids, want.status, want.ids, got[i].raw,
				describe(small, cfg, u, q, sm.expect(u.id(secret), q)))
		}
	}
	if tg.cleanup != nil {
		tg.cleanup()
	}
}

func userLabel(u authUser) string {
	if u.kind == "" {
		return "anonymous"
	}
	return u.kind + " user " + u.name
}

// fails tells whether q as u still disagrees with the model in world w.
func fails(t testing.TB, backend string, cfg authConfig, w worldSpec, u authUser, q modelReq, secret string) bool {
	tg := newTarget(t, backend, cfg, w)
	defer func() {
		if tg.cleanup != nil {
			tg.cleanup()
		}
	}()
	tg.build(cfg, w)
	got := tg.run(u, []modelReq{q}, nil)[0]
	return !matches(w.model(cfg.owner.id(secret)).expect(u.id(secret), q), got)
}

// shrink removes settings, ACL entries, members and objects one at a
// time while the disagreement remains.
func shrink(t testing.TB, backend string, cfg authConfig, w worldSpec, u authUser, q modelReq, secret string, external bool) worldSpec {
	if !fails(t, backend, cfg, w, u, q, secret) {
		return w // only shows with the other requests; keep it whole
	}
	var candidates []func(worldSpec) (worldSpec, bool)
	if !external {
		for k, v := range w.settings {
			if k == "bucket_create_principals" {
				continue
			}
			k, n := k, len(v)
			candidates = append(candidates, func(w worldSpec) (worldSpec, bool) {
				c := w.clone()
				if len(c.settings[k]) < n {
					return c, false
				}
				delete(c.settings, k)
				return c, true
			})
		}
	}
	for i := len(w.objects) - 1; i >= 0; i-- {
		uri := w.objects[i].uri
		candidates = append(candidates, func(w worldSpec) (worldSpec, bool) {
			c := w.clone()
			kept := c.objects[:0]
			for _, o := range c.objects {
				if o.uri != uri && !strings.HasPrefix(o.uri, uri+"/") {
					kept = append(kept, o)
				}
			}
			changed := len(kept) != len(c.objects)
			c.objects = kept
			return c, changed
		})
		for _, p := range []string{"read", "write", "collection:create", "group:create", "record:create"} {
			p := p
			candidates = append(candidates, func(w worldSpec) (worldSpec, bool) {
				c := w.clone()
				for j := range c.objects {
					if c.objects[j].uri == uri && len(c.objects[j].acl[p]) > 0 {
						delete(c.objects[j].acl, p)
						return c, true
					}
				}
				return c, false
			})
		}
		candidates = append(candidates, func(w worldSpec) (worldSpec, bool) {
			c := w.clone()
			for j := range c.objects {
				if c.objects[j].uri == uri && len(c.objects[j].members) > 0 {
					c.objects[j].members = nil
					return c, true
				}
			}
			return c, false
		})
	}
	for _, cand := range candidates {
		if next, changed := cand(w); changed && fails(t, backend, cfg, next, u, q, secret) {
			w = next
		}
	}
	return w
}

func (w worldSpec) clone() worldSpec {
	c := worldSpec{settings: map[string][]string{}, accounts: w.accounts}
	for k, v := range w.settings {
		c.settings[k] = v
	}
	for _, o := range w.objects {
		acl := map[string][]string{}
		for k, v := range o.acl {
			acl[k] = v
		}
		c.objects = append(c.objects, objSpec{uri: o.uri, acl: acl, members: o.members})
	}
	return c
}

// describe writes a world and a request as steps a person can replay.
func describe(w worldSpec, cfg authConfig, u authUser, q modelReq, want modelAnswer) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  settings: multiauth.policies = %s\n", cfg.settings["multiauth.policies"])
	keys := make([]string, 0, len(w.settings))
	for k := range w.settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  settings: %s = %s\n", k, strings.Join(w.settings[k], " "))
	}
	for _, o := range w.objects {
		body, _ := json.Marshal(map[string]any{"permissions": o.acl, "members": o.members})
		fmt.Fprintf(&b, "  as %s: PUT /v1%s %s\n", cfg.owner.name, o.uri, body)
	}
	fmt.Fprintf(&b, "  as %s: %s /v1%s %v -> model: %d %v", userLabel(u), q.method, q.uri, reqHeaders(q), want.status, want.ids)
	return b.String()
}
