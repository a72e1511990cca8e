package accounts_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHeaders sends arbitrary credentials, preconditions, content types,
// origins and cookies: nothing may answer 5xx or leave Kinto's error
// format.
func FuzzHeaders(f *testing.F) {
	f.Add("Basic cm9zYTpyb3NhLXB3", `"123"`, "*", "application/json", "http://x", "nimbus_session=abc", "GET", "/v1/buckets/b")
	f.Add("Bearer nbt_0123456789abcdef0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "", "", "", "", "", "PUT", "/v1/account/password")
	f.Add("Bearer nbe_x.y", "*", `"1"`, "text/html", "null", "nimbus_session=", "POST", "/v1/batch")
	f.Add("Basic Og==", "", "", "application/merge-patch+json;charset=x", "", "", "PATCH", "/v1/accounts/rosa")
	s := server(f, nil)
	for _, u := range []string{"rosa"} {
		r := s.Do(R{Method: "PUT", Path: "/v1/accounts/" + u, Body: `{"data":{"password":"rosa-pw"}}`})
		if r.Status != 201 {
			f.Fatal(r.Status)
		}
	}
	f.Fuzz(func(t *testing.T, auth, ifMatch, ifNone, ctype, origin, cookie, method, path string) {
		switch method {
		case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		default:
			method = "GET"
		}
		if !strings.HasPrefix(path, "/") {
			path = "/v1/" + path
		}
		req, err := http.NewRequest(method, "http://nimbus.test/", strings.NewReader(`{"data":{"password":"x","current_password":"y","username":"rosa"}}`))
		if err != nil {
			return
		}
		req.URL.Path = path
		for k, v := range map[string]string{"Authorization": auth, "If-Match": ifMatch, "If-None-Match": ifNone,
			"Content-Type": ctype, "Origin": origin, "Cookie": cookie, "Access-Control-Request-Method": "GET"} {
			if v != "" && !strings.ContainsAny(v, "\r\n\x00") {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		s.App.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.Bytes())
		}
		if rec.Code >= 400 && method != "HEAD" {
			var e map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["errno"] == nil {
				t.Fatalf("%d answer is not Kinto's error JSON: %s", rec.Code, rec.Body.Bytes())
			}
		}
	})
}
