package resource

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/storage"
)

// maxSortFields bounds _sort (Kinto has no bound): objects equal on
// the first fields compare on every next one, and 8,000 fields (a
// 47 kB querystring) made one list of 5,000 records cost 14 s of CPU.
const maxSortFields = 20

// maxFilters bounds the filters of one list request (Kinto has no bound):
// each is checked against every object a list reads, and on PostgreSQL
// each narrows the query's SQL, so 3,000 filters (a 32 kB querystring)
// made one list of 40 records cost 4 s of the database's CPU.
const maxFilters = 100

var (
	// Kinto's patterns are Python's, whose \w is any letter or digit
	// of Unicode (and "_"), not only ASCII's.
	fieldPattern = regexp.MustCompile(`^[\p{L}\p{N}_.]+$`)
	sortPattern  = regexp.MustCompile(`^[-+]?[\p{L}\p{N}_.]+$`)
)

// operators by prefix, longest first so contains_any_ wins over contains_.
var opPrefixes = []struct {
	prefix string
	op     storage.Op
}{
	{"contains_any_", storage.OpContainsAny}, {"contains_", storage.OpContains}, {"exclude_", storage.OpExclude},
	{"not_", storage.OpNot}, {"lt_", storage.OpLt}, {"gt_", storage.OpGt}, {"min_", storage.OpMin},
	{"max_", storage.OpMax}, {"in_", storage.OpIn}, {"like_", storage.OpLike}, {"has_", storage.OpHas},
	{"eq_", storage.OpEq},
}

// singleParams are the querystring parameters that take one value.
var singleParams = []string{"_limit", "_since", "_before", "_to", "_token"}

// listParam tells the querystring parameters whose value is a
// comma-separated list.
func listParam(key string) bool {
	return key == "_sort" || key == "_fields" || strings.HasPrefix(key, "in_") || strings.HasPrefix(key, "exclude_")
}

// listQuery is a parsed plural querystring.
type listQuery struct {
	q         storage.Query
	pageSize  int
	fields    *projection
	token     *pageToken
	hasTimeFq bool
}

// parseValue decodes a filter value: JSON when valid, the raw string
// otherwise.
func parseValue(raw string) any {
	if v, err := storage.DecodeJSON([]byte(raw)); err == nil {
		return v
	}
	return raw
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && !strings.EqualFold(x, "false")
	case json.Number:
		f, _ := x.Float64()
		return f != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// parseTimestamp reads a last_modified value: an integer or a quoted one,
// between 0 and now + 24 h. As in Kinto, the value is JSON first, so
// whitespace around it is allowed (" 12" is 12) but none inside the
// quotes, and a sign other than the minus of "-0" is not (Kinto reads
// "+12" as a string of something other than digits).
func parseTimestamp(raw string) (int64, bool) {
	s := strings.Trim(raw, " \t\r\n")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	} else if rest, negative := strings.CutPrefix(s, "-"); negative {
		if rest != "" && strings.Trim(rest, "0") == "" {
			return 0, true // "-0"
		}
		return 0, false
	}
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > Now()+24*3600*1000 {
		return 0, false
	}
	return n, true
}

func (a *App) knownField(res *Resource, field string) bool {
	root := strings.SplitN(field, ".", 2)[0]
	if slices.Contains(res.Hidden, root) {
		return false
	}
	if res.Fields == nil {
		return true
	}
	return slices.Contains(res.Fields, root) || root == "id" || root == "last_modified"
}

// parseList reads filters, sorting, pagination and field selection
// (querying.md). del marks a plural DELETE, whose tokens are single-use.
func (a *App) parseList(r *Request, res *Resource, del bool) (*listQuery, *Error) {
	lq := &listQuery{}
	params := r.QueryParams()
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	explicit := 0
	for _, key := range keys {
		values := params[key]
		if len(values) > 1 && slices.Contains(singleParams, key) {
			// Kinto refuses a list there too.
			return nil, Invalid("querystring", key, key+" is given more than once")
		}
		if len(values) > 1 && listParam(key) {
			// As in Kinto, the values of a repeated list parameter are
			// one list: _sort=a&_sort=b sorts by a then b, and
			// in_x=1&in_x=2 is in_x=1,2.
			values = []string{strings.Join(values, ",")}
		}
		// Each value of another repeated filter is a filter of its own,
		// combined with the others by AND (QRY-01): ?tag=a&tag=b
		// matches nothing rather than its last value.
		for _, raw := range values {
			if strings.ContainsRune(key, 0) || strings.ContainsRune(raw, 0) {
				return nil, Invalid("querystring", key, "Invalid character 0x00")
			}
			invalid := func(desc string) *Error {
				if desc == "" {
					desc = "Invalid value for " + key
				}
				return Invalid("querystring", key, desc)
			}
			switch key {
			case "_limit":
				n, err := strconv.Atoi(raw)
				if err != nil || n < 0 {
					return nil, invalid("_limit should be a positive integer")
				}
				explicit = n
				continue
			case "_sort":
				for _, item := range strings.Split(raw, ",") {
					item = strings.TrimSpace(item)
					if !sortPattern.MatchString(item) {
						continue
					}
					s := storage.Sort{Field: strings.TrimLeft(item, "+-"), Desc: strings.HasPrefix(item, "-")}
					if !a.knownField(res, s.Field) {
						return nil, invalid(fmt.Sprintf("Unknown sort field '%s'", s.Field))
					}
					lq.q.Sort = append(lq.q.Sort, s)
					if len(lq.q.Sort) > maxSortFields {
						return nil, invalid(fmt.Sprintf("_sort accepts at most %d fields", maxSortFields))
					}
				}
				continue
			case "_fields":
				for _, f := range strings.Split(raw, ",") {
					if f = strings.TrimSpace(f); f == "" {
						continue
					}
					if !a.knownField(res, f) {
						return nil, invalid(fmt.Sprintf("Unknown field '%s'", f))
					}
					lq.fields = lq.fields.with(f)
				}
				continue
			case "_token":
				if raw == "" {
					continue // no token: the first page, as Kinto reads it
				}
				t, err := a.decodeToken(raw, del)
				if err != nil {
					return nil, err
				}
				lq.token = t
				continue
			case "_since", "_before", "_to":
				if raw == "null" {
					continue
				}
				ts, ok := parseTimestamp(raw)
				if !ok {
					return nil, invalid("")
				}
				op := storage.OpGt
				if key != "_since" {
					op = storage.OpLt
				}
				if key == "_to" {
					alert, _ := EncodeJSON(map[string]any{"code": "soft-eol", "message": "_to is now deprecated, you should use _before instead",
						"url": "https://kinto.readthedocs.io/en/stable/api/1.x/filtering.html"})
					r.ResponseHeader().Set("Alert", string(alert))
				}
				lq.q.Filters = append(lq.q.Filters, storage.Filter{Field: "last_modified", Op: op, Value: ts})
				lq.hasTimeFq = true
				continue
			}
			if strings.HasPrefix(key, "_") {
				continue
			}
			// An operator applies to a name of word characters and dots;
			// any other parameter, as in Kinto, is an equality filter on
			// the field of its whole name ("first-name=x", "like_x y=z").
			op, field := storage.OpEq, key
			for _, p := range opPrefixes {
				if strings.HasPrefix(key, p.prefix) && fieldPattern.MatchString(key[len(p.prefix):]) {
					op, field = p.op, key[len(p.prefix):]
					break
				}
			}
			if !a.knownField(res, field) {
				return nil, invalid(fmt.Sprintf("Unknown filter field '%s'", key))
			}
			f := storage.Filter{Field: field, Op: op}
			switch op {
			case storage.OpIn, storage.OpExclude:
				var items []any
				for _, it := range strings.Split(raw, ",") {
					if it == "" {
						// Kinto drops empty items: in_a=1,,2 is in_a=1,2, and
						// in_a= matches nothing (exclude_a= excludes nothing).
						continue
					}
					v := parseValue(it)
					if field == "id" {
						if _, ok := v.(string); !ok {
							return nil, invalid("")
						}
					}
					if field == "last_modified" {
						ts, ok := parseTimestamp(strings.TrimSpace(it))
						if !ok {
							return nil, invalid("")
						}
						v = ts
					}
					items = append(items, v)
				}
				f.Value = items
			case storage.OpHas:
				v := parseValue(raw)
				if field == "last_modified" {
					// A timestamp like any last_modified filter's (Kinto
					// takes true and false for the integers they are in
					// Python).
					if _, isBool := v.(bool); !isBool {
						if _, ok := parseTimestamp(raw); !ok {
							return nil, invalid("")
						}
					}
				}
				f.Value = truthy(v)
			case storage.OpLike:
				v := parseValue(raw)
				s, ok := v.(string)
				if !ok {
					return nil, invalid("")
				}
				if field == "last_modified" {
					// A last_modified filter's value is a timestamp
					// (QRY-03), which like_ can only take quoted.
					if _, ok := parseTimestamp(raw); !ok {
						return nil, invalid("")
					}
				}
				f.Value = s
			case storage.OpContains, storage.OpContainsAny:
				if field == "id" || field == "last_modified" {
					return nil, invalid(fmt.Sprintf("Field '%s' is not an array", field))
				}
				v := parseValue(raw)
				if _, ok := v.([]any); !ok {
					v = []any{v}
				}
				f.Value = v
			default:
				v := parseValue(raw)
				if field == "last_modified" {
					ts, ok := parseTimestamp(raw)
					if !ok {
						return nil, invalid("")
					}
					v = ts
				} else if field == "id" || res.Fields != nil && strings.HasSuffix(field, "_id") {
					// Ids are strings: ?record_id=12 means "12".
					if n, ok := v.(json.Number); ok {
						v = string(n)
					}
				}
				f.Value = v
			}
			if field == "last_modified" {
				lq.hasTimeFq = true
			}
			lq.q.Filters = append(lq.q.Filters, f)
			if len(lq.q.Filters) > maxFilters {
				return nil, invalid(fmt.Sprintf("A list accepts at most %d filters", maxFilters))
			}
		}
	}
	lq.q.IncludeDeleted = lq.hasTimeFq
	size := a.opts.maxFetch
	if a.opts.paginateBy > 0 && a.opts.paginateBy < size {
		size = a.opts.paginateBy
	}
	if explicit > 0 && explicit < size {
		size = explicit
	}
	lq.pageSize = size
	if lq.token != nil && lq.token.Ref == "" {
		lq.q.After = lq.token.Last
	}
	return lq, nil
}

// maxTokenValues bounds the sort values a _token carries. A list sorted by
// a field holding large values (long texts, objects) would otherwise get a
// Next-Page link longer than a request line may be (64 KiB here, as in
// Python's http.client and most proxies), which no client could follow.
// Past it, the token names the page's last object by its id instead, and
// the next page reads that object's values from storage (resolveTokenRef).
const maxTokenValues = 4 << 10

// pageToken is the content of a _token.
type pageToken struct {
	// Last holds the sort values of the previous page's last object, or
	// nothing when Ref names that object instead.
	Last   map[string]any `json:"last_object"`
	Ref    string         `json:"ref,omitempty"`
	Offset int            `json:"offset"`
	Nonce  string         `json:"nonce"`
	Issued int64          `json:"iat"`
	Delete bool           `json:"del,omitempty"`
}

func (a *App) sign(payload []byte) string {
	var buf [sha256.Size]byte
	return hex.EncodeToString(a.tokenMAC.Sum(buf[:0], payload))[:32]
}

// encodeToken makes the _token of the page after last: base64url of
// {"payload": {...}, "sig": "<HMAC of the payload bytes>"}, so that any
// change to the payload is detected. byRef allows a token naming last by
// its id when its sort values are too large to carry (maxTokenValues): the
// list it is for must then be read with resolveTokenRef.
func (a *App) encodeToken(last storage.Object, sorts []storage.Sort, offset int, del, byRef bool) string {
	lastObj := sortValues(last, sorts)
	// The nonce only makes tokens differ; the signature protects them.
	var nonce [8]byte
	binary.LittleEndian.PutUint64(nonce[:], mrand.Uint64())
	p := map[string]any{"last_object": lastObj, "offset": offset, "nonce": hex.EncodeToString(nonce[:]), "iat": Now()}
	if id := storage.ID(last); byRef && id != "" {
		if values, err := storage.AppendJSON(nil, lastObj); err == nil && len(values) > maxTokenValues {
			p["last_object"], p["ref"] = map[string]any{}, id
		}
	}
	if del {
		p["del"] = true
	}
	payload, _ := storage.AppendJSON(make([]byte, 0, 256), p)
	b := make([]byte, 0, len(payload)+64)
	b = append(append(append(b, `{"payload":`...), payload...), `,"sig":"`...)
	b = append(append(b, a.sign(payload)...), `"}`...)
	return base64.URLEncoding.EncodeToString(b)
}

func (a *App) decodeToken(raw string, del bool) (*pageToken, *Error) {
	bad := Invalid("querystring", "_token", "_token has invalid content")
	b, err := base64.URLEncoding.DecodeString(raw)
	if err != nil {
		if b, err = base64.StdEncoding.DecodeString(raw); err != nil {
			return nil, bad
		}
	}
	var env struct {
		Payload json.RawMessage `json:"payload"`
		Sig     string          `json:"sig"`
	}
	if err := json.Unmarshal(b, &env); err != nil || len(env.Payload) == 0 || !hmac.Equal([]byte(env.Sig), []byte(a.sign(env.Payload))) {
		return nil, bad
	}
	d := json.NewDecoder(strings.NewReader(string(env.Payload)))
	d.UseNumber()
	var t pageToken
	if err := d.Decode(&t); err != nil || t.Last == nil {
		return nil, bad
	}
	// The flat keys of last_object are dotted paths; rebuild nested
	// objects so that lookups by path find them.
	t.Last = nestPaths(t.Last)
	if del || t.Delete {
		if time.Since(time.UnixMilli(t.Issued)) > a.opts.tokenValidity {
			return nil, Invalid("querystring", "_token", "_token was already used or has expired.")
		}
		if _, used := a.usedTokens.LoadOrStore(t.Nonce, t.Issued); used {
			return nil, Invalid("querystring", "_token", "_token was already used or has expired.")
		}
		a.forgetOldTokens()
	}
	return &t, nil
}

// resolveTokenRef sets the position a token naming the previous page's
// last object by id (encodeToken) resumes after: that object's sort values
// as stored now. An object changed since has moved in the list's order, as
// a record edited between two pages always may; one deleted since leaves no
// values to resume from, and the client is told to read the list again.
func resolveTokenRef(tx storage.Tx, ref storage.Ref, lq *listQuery) error {
	if lq.token == nil || lq.token.Ref == "" {
		return nil
	}
	obj, err := tx.Get(ref, lq.token.Ref)
	if errors.Is(err, storage.ErrNotFound) {
		return Invalid("querystring", "_token", "_token has expired: the last object of the previous page was deleted since; read the list again from its first page.")
	}
	if err != nil {
		return err
	}
	lq.q.After = nestPaths(sortValues(obj, lq.q.Sort))
	return nil
}

// sortValues are the values of obj that place it in a list sorted by
// sorts (the id and last_modified tie-breakers included), keyed by their
// dotted paths, as a _token carries them.
func sortValues(obj storage.Object, sorts []storage.Sort) map[string]any {
	values := map[string]any{}
	for _, s := range storage.FullSort(sorts) {
		if v, ok := storage.Lookup(obj, s.Field); ok {
			values[s.Field] = v
		}
	}
	return values
}

func (a *App) forgetOldTokens() {
	limit := Now() - a.opts.tokenValidity.Milliseconds()
	a.usedTokens.Range(func(k, v any) bool {
		if v.(int64) < limit {
			a.usedTokens.Delete(k)
		}
		return true
	})
}

// nestPaths turns {"a.b": 1} into {"a": {"b": 1}} while keeping keys that
// are plain.
func nestPaths(flat map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range flat {
		parts := strings.Split(k, ".")
		cur := out
		for i, p := range parts {
			if i == len(parts)-1 {
				cur[p] = v
				break
			}
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
	}
	return out
}

// nextPageURL builds the Next-Page header value.
func (a *App) nextPageURL(r *Request, token string, limit int) string {
	q := url.Values{}
	for k, v := range r.QueryParams() {
		q[k] = v
	}
	q.Set("_token", token)
	q.Set("_limit", strconv.Itoa(limit))
	path := strings.TrimPrefix(r.c.Request().URL.Path, "/v1")
	return r.AbsoluteURL(path, q)
}

// parseFields reads _fields for object GETs.
func parseFields(r *Request, res *Resource) (*projection, *Error) {
	raw := strings.Join(r.QueryParams()["_fields"], ",")
	if raw == "" {
		return nil, nil
	}
	var p *projection
	for _, f := range strings.Split(raw, ",") {
		if f = strings.TrimSpace(f); f != "" {
			p = p.with(f)
		}
	}
	return p, nil
}

// projection is a parsed _fields: a tree of the requested paths, split
// once per request rather than once per object. A node a path ends at
// takes its whole value (Kinto's dict_subset: "a" with "a.b" keeps all
// of a); below it, only the named keys. nil selects everything.
type projection struct {
	whole bool
	keys  map[string]*projection
}

// with adds the dotted path f and returns the tree (a new one when p is
// nil).
func (p *projection) with(f string) *projection {
	if p == nil {
		p = &projection{}
	}
	n := p
	for _, seg := range strings.Split(f, ".") {
		if n.keys == nil {
			n.keys = map[string]*projection{}
		}
		next := n.keys[seg]
		if next == nil {
			next = &projection{}
			n.keys[seg] = next
		}
		n = next
	}
	n.whole = true
	return p
}

// project keeps only the selected fields (plus id, last_modified and the
// deleted flag). obj is never written to: it may be shared (a change
// stream's event goes to every subscriber).
func project(obj storage.Object, p *projection) storage.Object {
	if p == nil {
		return obj
	}
	out := storage.Object{}
	if hint, ok := obj[storage.OrderKey]; ok {
		out[storage.OrderKey] = hint
	}
	for _, k := range []string{"id", "last_modified", "deleted"} {
		if v, ok := obj[k]; ok {
			out[k] = v
		}
	}
	p.copyInto(obj, out)
	return out
}

// copyInto copies what p selects of src into dst, a map of its own.
func (p *projection) copyInto(src, dst map[string]any) {
	for k, sub := range p.keys {
		v, ok := src[k]
		if !ok {
			continue
		}
		m, isObj := v.(map[string]any)
		if sub.whole || !isObj {
			// A value that is not an object is kept whole, as Kinto does.
			dst[k] = v
			continue
		}
		d := map[string]any{}
		sub.copyInto(m, d)
		dst[k] = d
	}
}
