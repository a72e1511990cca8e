package kinto_test

// The servers the authorization property test (authzprop_test.go) runs
// against: a Nimbus started for each world on a backend, or an external
// server (a Kinto 26) given by NIMBUS_AUTHZ_URL; how a world is built
// on one and how its answers are read.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-server/nimbus/plugins/internal/apitest"
	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/bolt"
	"github.com/nimbus-server/nimbus/storage/memory"
	"github.com/nimbus-server/nimbus/storage/postgres"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// target is a server the world is built on.
type target struct {
	t       testing.TB
	base    string // ends with /v1
	secret  string
	cleanup func()
}

type answer struct {
	status int
	ids    []string
	raw    string
}

func (tg *target) send(method, path, auth string, headers map[string]string, body any) answer {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tg.base+path, rd)
	if err != nil {
		tg.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tg.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return decodeAnswer(res.StatusCode, raw)
}

func decodeAnswer(status int, raw []byte) answer {
	a := answer{status: status, raw: string(raw)}
	var body struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Data) > 0 && body.Data[0] == '[' {
		var items []map[string]any
		json.Unmarshal(body.Data, &items)
		a.ids = []string{}
		for _, it := range items {
			a.ids = append(a.ids, fmt.Sprint(it["id"]))
		}
		sort.Strings(a.ids)
	}
	return a
}

func reqHeaders(q modelReq) map[string]string {
	switch q.precond {
	case "match":
		return map[string]string{"If-Match": `"1"`}
	case "none":
		return map[string]string{"If-None-Match": "*"}
	}
	return nil
}

func reqBody(q modelReq) any {
	if q.method == "GET" || q.method == "DELETE" {
		return nil
	}
	return map[string]any{"data": map[string]any{}}
}

// build creates the accounts and the objects of w on tg.
func (tg *target) build(cfg authConfig, w worldSpec) {
	for _, u := range append([]authUser{cfg.owner}, cfg.users...) {
		if u.kind != "account" {
			continue
		}
		if a := tg.send("POST", "/accounts", "", nil, map[string]any{"data": map[string]any{"id": u.name, "password": u.pass}}); a.status != 201 {
			tg.t.Fatalf("creating account %s: %d %s", u.name, a.status, a.raw)
		}
	}
	for _, u := range append([]authUser{cfg.owner}, cfg.users...) {
		a := tg.send("GET", "/", u.header(), nil, nil)
		var root struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		}
		json.Unmarshal([]byte(a.raw), &root)
		if root.User.ID != u.id(tg.secret) {
			tg.t.Fatalf("%s is %q on the server, %q in the model", u.name, root.User.ID, u.id(tg.secret))
		}
	}
	for _, o := range w.objects {
		data := map[string]any{}
		if o.members != nil {
			data["members"] = o.members
		} else if strings.Contains(o.uri, "/groups/") {
			data["members"] = []string{}
		}
		if a := tg.send("PUT", o.uri, cfg.owner.header(), nil, map[string]any{"data": data, "permissions": o.acl}); a.status != 201 {
			tg.t.Fatalf("creating %s: %d %s", o.uri, a.status, a.raw)
		}
	}
}

// run sends qs as u, a third of them through /batch, and returns the
// answers in order.
func (tg *target) run(u authUser, qs []modelReq, rng *rand.Rand) []answer {
	out := make([]answer, len(qs))
	var batched []int
	for i, q := range qs {
		if rng != nil && rng.IntN(3) == 0 {
			batched = append(batched, i)
			continue
		}
		out[i] = tg.send(q.method, q.uri, u.header(), reqHeaders(q), reqBody(q))
	}
	for len(batched) > 0 {
		n := min(len(batched), 25)
		chunk := batched[:n]
		batched = batched[n:]
		var subs []map[string]any
		for _, i := range chunk {
			s := map[string]any{"method": qs[i].method, "path": "/v1" + qs[i].uri}
			if h := reqHeaders(qs[i]); h != nil {
				s["headers"] = h
			}
			if b := reqBody(qs[i]); b != nil {
				s["body"] = b
			}
			subs = append(subs, s)
		}
		a := tg.send("POST", "/batch", u.header(), nil, map[string]any{"requests": subs})
		var res struct {
			Responses []struct {
				Status int             `json:"status"`
				Body   json.RawMessage `json:"body"`
			} `json:"responses"`
		}
		if a.status != 200 || json.Unmarshal([]byte(a.raw), &res) != nil || len(res.Responses) != n {
			tg.t.Fatalf("batch as %s: %d %s", u.name, a.status, a.raw)
		}
		for k, i := range chunk {
			out[i] = decodeAnswer(res.Responses[k].Status, res.Responses[k].Body)
			out[i].raw = "(in a batch) " + out[i].raw
		}
	}
	return out
}

// matches compares an answer with the model's.
func matches(want modelAnswer, got answer) bool {
	if want.status != got.status {
		return false
	}
	return want.ids == nil || fmt.Sprint(want.ids) == fmt.Sprint(got.ids)
}

// newTarget starts a Nimbus server for cfg and w on the backend, or
// resets the external server of NIMBUS_AUTHZ_URL.
func newTarget(t testing.TB, backend string, cfg authConfig, w worldSpec) *target {
	if url := os.Getenv("NIMBUS_AUTHZ_URL"); url != "" {
		tg := &target{t: t, base: strings.TrimRight(url, "/"), secret: os.Getenv("NIMBUS_AUTHZ_SECRET")}
		tg.send("POST", "/__flush__", "", nil, nil)
		return tg
	}
	settings := map[string]string{"account_create_principals": "system.Everyone", "account_bcrypt_cost": "4"}
	for k, v := range cfg.settings {
		settings[k] = v
	}
	for k, v := range w.settings {
		settings[k] = strings.Join(v, " ")
	}
	var b storage.Backend = memory.New()
	switch backend {
	case "bolt":
		var err error
		if b, err = bolt.Open(filepath.Join(t.TempDir(), fmt.Sprintf("authz-%d.db", rand.Int64())), bolt.Options{}); err != nil {
			t.Fatal(err)
		}
	case "postgresql":
		pg := pgtest.Start(t)
		pb, err := postgres.Open(context.Background(), pg.NewDatabase(t), postgres.Options{MaxConns: 10})
		if err != nil {
			t.Fatal(err)
		}
		pgtest.WaitCache(t, pb)
		b = pb
		settings["storage_backend"] = "postgresql"
	}
	s := apitest.NewWithBackend(t, b, settings)
	return &target{t: t, base: s.URL + "/v1", secret: apitest.Defaults["userid_hmac_secret"], cleanup: s.Close}
}

// externalSettings reads NIMBUS_AUTHZ_SETTINGS ("key=p1 p2;key2=p3").
func externalSettings() map[string][]string {
	out := map[string][]string{}
	for _, kv := range strings.Split(os.Getenv("NIMBUS_AUTHZ_SETTINGS"), ";") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[strings.TrimSpace(k)] = strings.Fields(v)
		}
	}
	return out
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}
