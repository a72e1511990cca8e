package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// An export is JSON lines: first the secrets in effect (so that user ids
// and personal buckets stay the same on the target), then one line per
// object, then a trailer with the count of objects, so that a file cut
// anywhere, even at a line boundary, is reported by the import.
//
//	{"secret": "userid_hmac_secret", "value": "..."}
//	{"resource": "bucket", "parent": "", "data": {...}, "permissions": {...}}
//	{"end": {"objects": 1}}

type envelopeLine struct {
	Secret string `json:"secret,omitempty"`
	Value  string `json:"value,omitempty"`
	End    *struct {
		Objects int `json:"objects"`
	} `json:"end,omitempty"`
}

// writeSecrets writes the secrets in effect at the head of an export.
func writeSecrets(w *bufio.Writer, s *config.Settings) {
	for _, key := range secretKeys {
		if v := s.String(key); v != "" {
			b, _ := json.Marshal(envelopeLine{Secret: key, Value: v})
			w.Write(b)
			w.WriteByte('\n')
		}
	}
}

// writeTrailer ends an export.
func writeTrailer(w *bufio.Writer, objects int) {
	fmt.Fprintf(w, `{"end":{"objects":%d}}`+"\n", objects)
}

// envelope reads a line that is not an object: a secret or the trailer.
// ok is false for an object line.
func envelope(text []byte) (envelopeLine, bool) {
	var e envelopeLine
	if len(text) < 8 || (string(text[:8]) != `{"secret` && string(text[:5]) != `{"end`) {
		return e, false
	}
	if json.Unmarshal(text, &e) != nil || (e.Secret == "" && e.End == nil) {
		return e, false
	}
	return e, true
}

// errSecretsDiffer refuses an import whose secrets would give the
// target's users other ids.
var errSecretsDiffer = errors.New("secrets differ")

// importSecret makes the export's secret the target's: kept in the
// database when the configuration does not set it. A target with data of
// its own under another secret is refused (its users' ids would change);
// a new one (no bucket, no account yet: only started once) takes the
// export's.
func importSecret(ctx context.Context, app *resource.App, b storage.Backend, key, value string) error {
	s := app.Settings
	if configured(s, key) {
		if s.String(key) != value {
			return fmt.Errorf("%w: the configuration sets %s to another value than the export's; set it to the export's "+
				"(or remove it) so that user ids and personal buckets stay the same", errSecretsDiffer, key)
		}
		return nil
	}
	kept, err := keepSecret(ctx, b, key, value)
	if err != nil || kept == value {
		return err
	}
	empty, err := hasNoData(ctx, b)
	if err != nil {
		return err
	}
	if !empty {
		return fmt.Errorf("%w: this database keeps another %s and holds data made under it; import into a new database, "+
			"or configure %s with the export's value", errSecretsDiffer, key, key)
	}
	return b.Update(ctx, func(tx storage.Tx) error {
		_, err := tx.Replace(secretRef, storage.Object{"id": key, "value": value})
		return err
	})
}

// hasNoData tells whether the database holds no bucket and no account.
func hasNoData(ctx context.Context, b storage.Backend) (bool, error) {
	empty := true
	err := b.View(ctx, func(tx storage.Tx) error {
		for _, ref := range []storage.Ref{{Resource: "bucket"}, {Resource: "account"}} {
			objs, err := tx.List(ref, storage.Query{Limit: 1})
			if err != nil {
				return err
			}
			empty = empty && len(objs) == 0
		}
		return nil
	})
	return empty, err
}

// errNotExported is a line that is no exported object.
var errNotExported = errors.New("not an exported object")

// parseLine reads an exported object's line in one pass of the JSON
// decoder.
func parseLine(text []byte) (line, error) {
	var l line
	v, err := storage.DecodeJSON(text)
	if err != nil {
		return l, fmt.Errorf("%w: %v", errNotExported, err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return l, errNotExported
	}
	for _, f := range []struct {
		key string
		to  *string
	}{{"resource", &l.Resource}, {"parent", &l.Parent}} {
		switch s := top[f.key].(type) {
		case string:
			*f.to = s
		case nil:
		default:
			return l, fmt.Errorf("%w: %q is not a string", errNotExported, f.key)
		}
	}
	if p, present := top["permissions"]; present && p != nil {
		perms, ok := p.(map[string]any)
		if !ok {
			return l, fmt.Errorf(`%w: "permissions" is not an object`, errNotExported)
		}
		l.Permissions = make(storage.ACL, len(perms))
		for perm, ps := range perms {
			list, ok := ps.([]any)
			if !ok && ps != nil {
				return l, fmt.Errorf("%w: permission %q is not a list", errNotExported, perm)
			}
			principals := make([]string, 0, len(list))
			for _, x := range list {
				s, ok := x.(string)
				if !ok {
					return l, fmt.Errorf("%w: permission %q holds a principal that is not a string", errNotExported, perm)
				}
				principals = append(principals, s)
			}
			l.Permissions[perm] = principals
		}
	}
	obj, ok := top["data"].(map[string]any)
	if !ok || l.Resource == "" || storage.ID(obj) == "" {
		return l, errNotExported
	}
	l.Data = storage.WithClientOrder(obj, storage.RawField(text, "data"))
	return l, nil
}
