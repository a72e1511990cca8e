package resource

import (
	"fmt"
	"net/netip"
	"os"
	"path"
	"strings"
	"time"
)

// options are the settings the engine reads on every request, typed once
// at build time.
type options struct {
	readonly           bool
	batchMax           int
	paginateBy         int
	maxFetch           int
	pageMaxBytes       int
	tokenValidity      time.Duration
	explicitPerms      bool
	schemaValidation   bool
	slashRedirect      bool
	slashTTL           int
	versionRedirect    bool
	versionTTL         int
	rootCacheExpires   int
	corsOrigins        []string
	trustedProxies     []netip.Prefix
	staticDir          string
	corsMaxAge         int
	backoff            string
	backoffPct         int
	retryAfter         int
	eos                time.Time
	eosMessage, eosURL string
	maxBody            int64
	bodyTimeout        time.Duration
	sendTimeout        time.Duration
	heartbeatTimeout   time.Duration
	scheme, host       string
	errorInfo          string
}

func (a *App) readOptions() error {
	s := a.Settings
	o := &a.opts
	o.readonly = s.Bool("readonly")
	o.batchMax = s.IntOr("batch_max_requests", 0)
	o.paginateBy = s.IntOr("paginate_by", 0)
	o.maxFetch = s.IntOr("storage_max_fetch_size", 10000)
	o.pageMaxBytes = s.IntOr("page_max_bytes", 16<<20)
	o.tokenValidity = time.Duration(s.IntOr("pagination_token_validity_seconds", 600)) * time.Second
	o.explicitPerms = s.Bool("explicit_permissions")
	o.schemaValidation = s.Bool("experimental_collection_schema_validation")
	o.slashRedirect = s.Bool("trailing_slash_redirect_enabled")
	o.slashTTL = s.IntOr("trailing_slash_redirect_ttl_seconds", 3600)
	o.versionRedirect = s.Bool("version_prefix_redirect_enabled")
	o.versionTTL = s.IntOr("version_prefix_redirect_ttl_seconds", -1)
	o.rootCacheExpires = s.IntOr("root_cache_expires_seconds", 86400)
	o.corsOrigins = s.List("cors_origins")
	if dir := s.String("static_path"); dir != "" {
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("config: setting static_path: %q is not a folder", dir)
		}
		o.staticDir = dir
	}
	proxies, err := parseTrustedProxies(s.List("trusted_proxies"))
	if err != nil {
		return err
	}
	o.trustedProxies = proxies
	o.corsMaxAge = s.IntOr("cors_max_age_seconds", 3600)
	if n, ok := s.Int("backoff"); ok {
		o.backoff = fmt.Sprint(n)
	}
	o.backoffPct = s.IntOr("backoff_percentage", 100)
	o.retryAfter = s.IntOr("retry_after_seconds", 3)
	if v := s.String("eos"); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return fmt.Errorf("config: setting eos: %q is not a date (YYYY-MM-DD)", v)
		}
		o.eos = t
	}
	o.eosMessage, o.eosURL = s.String("eos_message"), s.String("eos_url")
	o.maxBody = int64(s.IntOr("max_request_body_bytes", 8<<20))
	o.bodyTimeout = time.Duration(s.IntOr("request_body_timeout_seconds", 30)) * time.Second
	budget, wait := s.IntOr("request_body_budget_bytes", 32<<20), s.IntOr("request_body_wait_seconds", 30)
	if budget < 0 || wait <= 0 {
		return fmt.Errorf("config: settings request_body_budget_bytes must not be negative and request_body_wait_seconds must be positive")
	}
	a.bodies = newByteBudget("request_body_budget_bytes", int64(budget), time.Duration(wait)*time.Second)
	answers, send := s.IntOr("response_budget_bytes", 64<<20), s.IntOr("response_send_timeout_seconds", 60)
	if answers < 0 || send < 0 {
		return fmt.Errorf("config: settings response_budget_bytes and response_send_timeout_seconds must not be negative")
	}
	a.answers = newByteBudget("response_budget_bytes", int64(answers), answerWait)
	o.sendTimeout = time.Duration(send) * time.Second
	o.heartbeatTimeout = time.Duration(s.IntOr("heartbeat_timeout_seconds", 10)) * time.Second
	o.scheme, o.host = s.String("http_scheme"), s.String("http_host")
	o.errorInfo = s.String("error_info_link")
	if o.maxFetch <= 0 {
		return fmt.Errorf("config: setting storage_max_fetch_size must be positive")
	}
	if o.pageMaxBytes < 0 {
		return fmt.Errorf("config: setting page_max_bytes must not be negative")
	}
	if o.paginateBy < 0 {
		return fmt.Errorf("config: setting paginate_by must not be negative")
	}
	for _, r := range a.resourceOrder {
		gen := s.String(r.Name + "_id_generator")
		if gen == "" {
			continue
		}
		if err := applyGenerator(r, gen); err != nil {
			return fmt.Errorf("config: setting %s_id_generator: %v", r.Name, err)
		}
	}
	return nil
}

// originAllowed tells whether an Origin matches cors_origins (globs
// allowed), and whether it matched only through "*".
func (o *options) originAllowed(origin string) (ok, wildcard bool) {
	for _, p := range o.corsOrigins {
		if p == "*" {
			wildcard = true
			ok = true
			continue
		}
		if m, _ := path.Match(p, origin); m || strings.EqualFold(p, origin) {
			return true, false
		}
	}
	return ok, wildcard
}
