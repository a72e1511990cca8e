package accounts

import (
	"net/http"
	"sort"
	"strings"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Listing and revoking login tokens.

func (p *Plugin) listTokens(r *resource.Request) error {
	id, c, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	var objs []storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { objs, err = ownedBy(tx, tokenRef, id); return }); err != nil {
		return err
	}
	out := []map[string]any{}
	for _, o := range objs {
		if expired(o) {
			continue
		}
		out = append(out, map[string]any{"key": o["id"], "label": o["label"], "created": o["created"], "expires": o["expires"],
			"read_only": o["read_only"], "current": c.method == "token" && c.key == o["id"]})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := storage.Int(out[i]["created"])
		b, _ := storage.Int(out[j]["created"])
		return a > b
	})
	return r.JSON(http.StatusOK, map[string]any{"data": out})
}

func (p *Plugin) revokeTokens(r *resource.Request) error {
	id, _, err := p.requireAccount(r, true)
	if err != nil {
		return err
	}
	defer p.creds.invalidate()
	var keys []string
	if err := r.Update(func(tx storage.Tx) (err error) { keys, err = revokeAll(tx, tokenRef, id, ""); return }); err != nil {
		return err
	}
	out := []map[string]any{}
	for _, k := range keys {
		out = append(out, map[string]any{"key": k, "deleted": true})
	}
	return r.JSON(http.StatusOK, map[string]any{"data": out})
}

func (p *Plugin) revokeToken(r *resource.Request) error {
	id, c, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	key := r.Param("key")
	if key == "current" {
		if c.method != "token" {
			return resource.Invalid("path", "key", "The request is not authenticated with a login token.")
		}
		key = c.key
	} else if c.readOnly {
		return errScope
	}
	return p.deleteOwned(r, tokenRef, id, key)
}

// deleteOwned deletes one credential of the caller (404 for others').
func (p *Plugin) deleteOwned(r *resource.Request, ref storage.Ref, account, key string) error {
	defer p.creds.invalidate()
	err := r.Update(func(tx storage.Tx) error {
		o, err := getOrNil(tx, ref, key)
		if err != nil {
			return err
		}
		if o == nil || o["account"] != account {
			return resource.NotFound(strings.TrimPrefix(ref.Resource, "account_"), key)
		}
		if _, err := tx.Delete(ref, key, 0); err != nil {
			return err
		}
		_, err = tx.PurgeDeleted(ref, 0, 0)
		return err
	})
	if err != nil {
		return err
	}
	return r.JSON(http.StatusOK, map[string]any{"data": map[string]any{"key": key, "deleted": true}})
}
