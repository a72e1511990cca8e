package accounts

import (
	"net/http"

	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Terms of service (ACC-X-TOS).

func (p *Plugin) termsStatus(r *resource.Request, id string) (map[string]any, error) {
	var o storage.Object
	if err := r.View(func(tx storage.Tx) (err error) { o, err = getOrNil(tx, termsRef, id); return }); err != nil {
		return nil, err
	}
	out := map[string]any{"version": p.termsVersion, "url": p.termsURL, "valid": false, "accepted_version": nil,
		"accepted_at": nil, "enforced": p.termsEnforced}
	if o != nil {
		out["accepted_version"], out["accepted_at"] = o["version"], o["accepted_at"]
		out["valid"] = o["version"] == p.termsVersion
	}
	return out, nil
}

func (p *Plugin) getTerms(r *resource.Request) error {
	id, _, err := p.requireAccount(r, false)
	if err != nil {
		return err
	}
	st, err := p.termsStatus(r, id)
	if err != nil {
		return err
	}
	return r.JSON(http.StatusOK, map[string]any{"data": st})
}

func (p *Plugin) acceptTerms(r *resource.Request) error {
	id, _, data, err := p.requireAccountData(r)
	if err != nil {
		return err
	}
	if v, present := data["version"]; present && v != p.termsVersion {
		return resource.Invalid("body", "data.version", "The terms changed: fetch the current version and accept it.")
	}
	err = r.Update(func(tx storage.Tx) error {
		_, err := tx.Replace(termsRef, storage.Object{"id": id, "version": p.termsVersion, "accepted_at": now()})
		return err
	})
	if err != nil {
		return err
	}
	return p.getTerms(r)
}
