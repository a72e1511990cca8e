package accounts

import (
	"net/http"

	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Embed credentials (ACC-X-EMB).

func (p *Plugin) createEmbed(r *resource.Request) error {
	id, _, data, err := p.requireAccountData(r)
	if err != nil {
		return err
	}
	bucket, ok := data["bucket"].(string)
	if !ok || bucket == "" {
		return resource.Invalid("body", "data.bucket", "bucket is required")
	}
	label, ttl, oerr := labelAndTTL(data)
	if oerr != nil {
		return oerr
	}
	var expires int64
	if ttl > 0 {
		expires = now() + ttl.Milliseconds()
	}
	key, secret := randomKey(embedPrefix), randomSecret()
	created := now()
	err = r.Update(func(tx storage.Tx) error {
		chain := []permissions.Node{{Resource: "bucket", URI: "/buckets/" + bucket}, {Resource: permissions.Root}}
		ok, err := r.Allowed(tx, chain, "write")
		if err != nil {
			return err
		}
		if !ok {
			return r.Deny()
		}
		if exists, err := tx.Exists(storage.Ref{Resource: "bucket"}, bucket); err != nil || !exists {
			if err != nil {
				return err
			}
			return resource.MissingParent("bucket", bucket)
		}
		_, err = tx.Create(embedRef, storage.Object{"id": key, "account": id, "bucket": bucket, "digest": digest(secret),
			"label": label, "created": created, "expires": expires})
		return err
	})
	if err != nil {
		return err
	}
	return r.JSON(http.StatusCreated, map[string]any{"data": map[string]any{"key": key, "secret": secret, "token": key + "." + secret,
		"bucket": bucket, "label": label, "created": created, "expires": nullable(expires)}})
}

func embedView(o storage.Object) storage.Object {
	exp, _ := storage.Int(o["expires"])
	return storage.Object{"key": o["id"], "bucket": o["bucket"], "label": o["label"], "created": o["created"], "expires": nullable(exp)}
}

func (p *Plugin) listEmbeds(r *resource.Request) error {
	id, _, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	var objs []storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { objs, err = ownedBy(tx, embedRef, id); return }); err != nil {
		return err
	}
	var out []storage.Object
	for _, o := range objs {
		if !expired(o) {
			out = append(out, embedView(o))
		}
	}
	return r.ServeList([]string{"key", "bucket", "label", "created", "expires"}, []storage.Sort{{Field: "created", Desc: true}}, out)
}

func (p *Plugin) getEmbed(r *resource.Request) error {
	id, _, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	key := r.Param("key")
	var o storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { o, err = getOrNil(tx, embedRef, key); return }); err != nil {
		return err
	}
	if o == nil || o["account"] != id || expired(o) {
		return resource.NotFound("embed_credential", key)
	}
	return r.JSON(http.StatusOK, map[string]any{"data": embedView(o)})
}

func (p *Plugin) deleteEmbed(r *resource.Request) error {
	id, _, err := p.requireAccount(r, true)
	if err != nil {
		return err
	}
	return p.deleteOwned(r, embedRef, id, r.Param("key"))
}
