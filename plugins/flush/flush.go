package flush

import (
	"net/http"

	"github.com/nimbus-server/nimbus/resource"
)

// Plugin is the flush plugin.
type Plugin struct{}

// Name implements resource.Plugin.
func (Plugin) Name() string { return "flush" }

// Register implements resource.Plugin.
func (Plugin) Register(r *resource.Registry) error {
	r.Logger().Warn("the flush plugin is enabled: anyone can delete ALL data with POST /v1/__flush__; never use it in production")
	if err := r.AddCapability("flush_endpoint", "The __flush__ endpoint can be used to remove all data from all backends.",
		"https://kinto.readthedocs.io/en/latest/configuration/settings.html#activating-the-flush-endpoint", nil); err != nil {
		return err
	}
	return r.AddRoute(resource.Route{Method: http.MethodPost, Path: "/__flush__", Write: true,
		Summary: "Delete all data (test servers only).", Handler: func(req *resource.Request) error {
			if err := req.Flush(); err != nil {
				return err
			}
			req.Logger().Warn("all data flushed", "by", req.RealIP())
			return req.JSON(http.StatusAccepted, map[string]any{})
		}})
}
