package resource

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
)

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)

// openAPIPath turns an echo route into an OpenAPI path and its parameters.
func openAPIPath(p string) (string, []map[string]any) {
	var params []map[string]any
	for _, m := range echoParam.FindAllStringSubmatch(p, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "type": "string"})
	}
	p = echoParam.ReplaceAllString(p, "{$1}")
	p = strings.ReplaceAll(p, "*", "{path}")
	if strings.Contains(p, "{path}") {
		params = append(params, map[string]any{"name": "path", "in": "path", "required": true, "type": "string"})
	}
	return p, params
}

// openAPIHandler serves GET /__api__: an OpenAPI 2.0 document generated
// from the declared resources and routes, so it cannot go stale (CORE-05).
func (a *App) openAPIHandler(r *Request) error {
	paths := map[string]map[string]any{}
	security := []map[string][]string{}
	secDefs := map[string]any{}
	for _, p := range a.policies {
		def := map[string]any{"type": "basic"}
		if d, ok := p.method.(OpenAPIDescriber); ok {
			def = d.OpenAPI()
		}
		secDefs[p.name] = def
		security = append(security, map[string][]string{p.name: {}})
		if x, ok := p.method.(SecurityDefiner); ok {
			for name, d := range x.SecurityDefinitions() {
				secDefs[name] = d
				security = append(security, map[string][]string{name: {}})
			}
		}
	}
	op := func(path, method, summary, tag string, body bool, okStatus string) {
		oaPath, params := openAPIPath(path)
		if paths[oaPath] == nil {
			paths[oaPath] = map[string]any{}
		}
		o := map[string]any{
			"summary": summary, "tags": []string{tag}, "produces": []string{"application/json"},
			"operationId": strings.ToLower(method) + strings.NewReplacer("/", "_", "{", "", "}", "", ":", "").Replace(oaPath),
			"responses": map[string]any{okStatus: map[string]any{"description": "Success"},
				"default": map[string]any{"description": "Kinto error object", "schema": map[string]any{"$ref": "#/definitions/Error"}}},
			"security": security,
		}
		ps := append([]map[string]any{}, params...)
		if body {
			ps = append(ps, map[string]any{"name": "body", "in": "body", "required": false, "schema": map[string]any{"$ref": "#/definitions/Payload"}})
			o["consumes"] = []string{"application/json"}
		}
		if len(ps) > 0 {
			o["parameters"] = ps
		}
		paths[oaPath][strings.ToLower(method)] = o
	}
	for _, res := range a.resourceOrder {
		plural, object := res.pluralPath(), res.objectPath()
		for _, m := range []struct {
			method, path, summary, ok string
			body                      bool
			allowed                   []string
		}{
			{"GET", plural, "List " + res.Plural, "200", false, res.PluralMethods},
			{"HEAD", plural, "Count " + res.Plural, "200", false, res.PluralMethods},
			{"POST", plural, "Create a " + res.Name, "201", true, res.PluralMethods},
			{"DELETE", plural, "Delete " + res.Plural, "200", false, res.PluralMethods},
			{"GET", object, "Read a " + res.Name, "200", false, res.ObjectMethods},
			{"HEAD", object, "Check a " + res.Name, "200", false, res.ObjectMethods},
			{"PUT", object, "Create or replace a " + res.Name, "200", true, res.ObjectMethods},
			{"PATCH", object, "Update a " + res.Name, "200", true, res.ObjectMethods},
			{"DELETE", object, "Delete a " + res.Name, "200", false, res.ObjectMethods},
		} {
			if methodAllowed(m.allowed, m.method) && a.enabled(map[bool]string{true: "plural", false: "object"}[m.path == plural], res.Name, lower(m.method)) {
				op(m.path, m.method, m.summary, res.Plural, m.body, m.ok)
			}
			if m.method == "GET" && m.path == plural && a.streamer != nil {
				// The same GET, with Accept: text/event-stream, follows
				// the list live (PLUG-RT).
				oaPath, _ := openAPIPath(plural)
				if o, ok := paths[oaPath]["get"].(map[string]any); ok {
					o["produces"] = []string{"application/json", "text/event-stream"}
					o["description"] = "With Accept: text/event-stream, a Server-Sent Events stream of the list's changes: " +
						"the changes after _since or Last-Event-ID, a ready event, then each change as it commits " +
						"(events create, update, delete, error; filters and _fields apply)."
				}
			}
		}
	}
	for _, rt := range a.routes {
		op(rt.Path, rt.Method, rt.Summary, "plugins", rt.Method != http.MethodGet && rt.Method != http.MethodDelete, "200")
	}
	for path, summary := range map[string]string{"/": "Server information", "/__heartbeat__": "Health of the backends",
		"/__lbheartbeat__": "Liveness", "/__version__": "Build information", "/__api__": "This document"} {
		op(path, "GET", summary, "utilities", false, "200")
	}
	op("/batch", "POST", "Send several requests at once", "batch", true, "200")
	tags := []map[string]string{}
	seen := map[string]bool{}
	for _, p := range paths {
		for _, o := range p {
			for _, t := range o.(map[string]any)["tags"].([]string) {
				if !seen[t] {
					seen[t] = true
					tags = append(tags, map[string]string{"name": t})
				}
			}
		}
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i]["name"] < tags[j]["name"] })
	scheme := "http"
	if strings.HasPrefix(r.BaseURL(), "https") {
		scheme = "https"
	}
	host := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(r.BaseURL(), "/v1"), "http://"), "https://")
	doc := map[string]any{
		"swagger":             "2.0",
		"info":                map[string]any{"title": a.Settings.String("project_name"), "version": HTTPAPIVersion},
		"basePath":            "/v1",
		"host":                host,
		"schemes":             []string{scheme},
		"paths":               paths,
		"tags":                tags,
		"securityDefinitions": secDefs,
		"definitions": map[string]any{
			"Payload": map[string]any{"type": "object", "properties": map[string]any{
				"data": map[string]any{"type": "object"}, "permissions": map[string]any{"type": "object",
					"additionalProperties": map[string]any{"type": "array", "items": map[string]any{"type": "string"}}}}},
			"Error": map[string]any{"type": "object", "required": []string{"code", "errno", "error"}, "properties": map[string]any{
				"code": map[string]any{"type": "integer"}, "errno": map[string]any{"type": "integer"}, "error": map[string]any{"type": "string"},
				"message": map[string]any{"type": "string"}, "info": map[string]any{"type": "string"}, "details": map[string]any{}}},
		},
	}
	return r.JSON(http.StatusOK, doc)
}
