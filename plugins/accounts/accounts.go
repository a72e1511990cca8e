package accounts

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/permissions"
	"github.com/nimbus-server/nimbus/resource"
	"github.com/nimbus-server/nimbus/storage"
)

// Refs of the account list and of the server-side keys of the validation
// flows (never served over HTTP).
var (
	AccountRef    = storage.Ref{Resource: "account"}
	activationRef = storage.Ref{Resource: "account_activation_key"}
	resetRef      = storage.Ref{Resource: "account_reset_password"}
)

// IDPattern is what account ids must match (with a length cap).
var IDPattern = regexp.MustCompile(`^[a-zA-Z0-9][+.@a-zA-Z0-9_-]{0,254}$`)

// Aliases are the names multiauth.policy.<name>.use accepts for the
// accounts method, and the policy names that select it without .use.
var Aliases = []string{"accounts", "account", "AccountsPolicy", "AccountsAuthenticationPolicy"}

// settings are the plugin's settings (settings.md SET-10, SET-11,
// SET-12), declared once with their defaults.
var settings = []resource.Setting{
	{Name: "account_cache_ttl_seconds", Type: resource.Int, Default: "30",
		Description: "seconds a verified password or credential is remembered"},
	{Name: "account_validation", Type: resource.Bool, Default: "false",
		Description: "new accounts must be activated with a key sent by e-mail"},
	{Name: "account_validation.email_regexp", Type: resource.String, Default: `^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`,
		Description: "account ids that are e-mail addresses (activation needs one)"},
	{Name: "account_validation.email_sender", Type: resource.String, Default: "admin@example.com",
		Description: "From address of the plugin's e-mails"},
	{Name: "account_validation.validation_key_cache_ttl_seconds", Type: resource.Int, Default: "604800",
		Description: "seconds an activation key stays usable"},
	{Name: "account_validation.reset_password_cache_ttl_seconds", Type: resource.Int, Default: "604800",
		Description: "seconds a temporary reset password stays usable"},
	{Name: "account_validation.email_subject_template", Type: resource.String, Default: "activate your account",
		Description: "subject of the activation e-mail"},
	{Name: "account_validation.email_body_template", Type: resource.String, Default: "{activation-key}",
		Description: "body of the activation e-mail ({activation-key}, {id} and the account's fields)"},
	{Name: "account_validation.email_confirmation_subject_template", Type: resource.String, Default: "Account active",
		Description: "subject of the e-mail confirming an activation"},
	{Name: "account_validation.email_confirmation_body_template", Type: resource.String, Default: "The account {id} is now active",
		Description: "body of the e-mail confirming an activation"},
	{Name: "account_validation.email_reset_password_subject_template", Type: resource.String, Default: "Reset password",
		Description: "subject of the password-reset e-mail"},
	{Name: "account_validation.email_reset_password_body_template", Type: resource.String, Default: "{reset-password}",
		Description: "body of the password-reset e-mail ({reset-password})"},
	{Name: "account_validation.passwordless_signup", Type: resource.Bool, Default: "false",
		Description: "with validation, sign-up without a password (one is set on activation)"},
	{Name: "account_password_hasher", Type: resource.String, Default: "bcrypt", OneOf: []string{"bcrypt", "argon2id"},
		Description: "password hash: bcrypt or argon2id"},
	{Name: "account_bcrypt_cost", Type: resource.Int, Description: "bcrypt cost, 4 to 31 (none: 12)"},
	{Name: "account_hide_password_hash", Type: resource.Bool, Default: "false",
		Description: "never show the password hash in answers"},
	{Name: "mail.mailer", Type: resource.String, Default: "smtp", OneOf: []string{"smtp", "debug", "testing"},
		Description: "how e-mail is sent: smtp, or debug (written to mail.debug_directory)"},
	{Name: "mail.host", Type: resource.String, Default: "localhost",
		Description: "SMTP server host"},
	{Name: "mail.port", Type: resource.Int, Default: "25",
		Description: "SMTP server port"},
	{Name: "mail.username", Type: resource.String, Description: "SMTP user name (none: no authentication)"},
	{Name: "mail.password", Type: resource.String, Description: "SMTP password"},
	{Name: "mail.tls", Type: resource.Bool, Default: "false", Description: "use STARTTLS with the SMTP server"},
	{Name: "mail.ssl", Type: resource.Bool, Default: "false", Description: "connect to the SMTP server over TLS"},
	{Name: "mail.debug_directory", Type: resource.String, Default: "mail",
		Description: "directory the debug mailer writes e-mails to"},
	{Name: "account_tokens_enabled", Type: resource.Bool, Default: "true",
		Description: "login tokens (POST /account/tokens)"},
	{Name: "account_token_ttl_seconds", Type: resource.Int, Default: "86400",
		Description: "default lifetime of a login token"},
	{Name: "account_token_max_ttl_seconds", Type: resource.Int, Default: "2592000",
		Description: "longest lifetime a login token may ask for"},
	{Name: "account_sessions_enabled", Type: resource.Bool, Default: "true",
		Description: "cookie sessions (POST /account/session)"},
	{Name: "account_session_ttl_seconds", Type: resource.Int, Default: "86400",
		Description: "lifetime of a cookie session"},
	{Name: "account_session_cookie_name", Type: resource.String, Default: "nimbus_session",
		Description: "name of the session cookie"},
	{Name: "account_session_cookie_secure", Type: resource.String, Default: "auto", OneOf: []string{"auto", "true", "false"},
		Description: "Secure flag of the session cookie: auto (when served over HTTPS), true or false"},
	{Name: "account_session_cookie_samesite", Type: resource.String, Default: "Lax", OneOf: []string{"Lax", "Strict", "None"},
		Description: "SameSite of the session cookie: Lax, Strict or None"},
	{Name: "account_csrf_header_name", Type: resource.String, Default: "X-CSRF-Token",
		Description: "header carrying the CSRF token of cookie-session writes"},
	{Name: "account_embed_credentials_enabled", Type: resource.Bool, Default: "true",
		Description: "scoped read-only credentials for one bucket (POST /account/embed-credentials)"},
	{Name: "account_terms_enforced", Type: resource.Bool, Default: "false",
		Description: "refuse requests until the current terms are accepted"},
	{Name: "account_terms_version", Type: resource.String, Description: "version of the terms of service users accept (none: no terms)"},
	{Name: "account_terms_url", Type: resource.String, Description: "address of the terms of service"},
	{Name: "account_admin_reserved", Type: resource.Bool, Default: "false",
		Description: "administrator ids (account:<id> in any *_principals setting) are created only by an administrator, nimbus create-user or the one-time first-run link logged at start (on in the zero-configuration start)"},
	{Name: "account_login_max_failures", Type: resource.Int, Default: "10",
		Description: "failed logins of one id from one address before throttling"},
	{Name: "account_login_failure_window_seconds", Type: resource.Int, Default: "900",
		Description: "window in which failed logins are counted"},
}

// Settings implements resource.SettingsDeclarer.
func (*Plugin) Settings() []resource.Setting { return settings }

var _ resource.SettingsDeclarer = (*Plugin)(nil)

// accountLayout is how accounts are stored: each under its own id, as
// Kinto does, so that a PostgreSQL database is shared with Kinto.
const accountLayout = storage.UnderOwnID

// Plugin is the accounts plugin. Its zero value is ready to register.
type Plugin struct {
	policy     string
	hasher     Hasher
	cache      *verifiedCache
	fake       fakeHash
	validation bool
	emailRe    *regexp.Regexp
	hideHash   bool
	mailer     Mailer
	settings   *config.Settings

	tokens, sessions, embeds bool
	tokenTTL, tokenMaxTTL    time.Duration
	sessionTTL               time.Duration
	cookieName, csrfHeader   string
	cookieSecure, sameSite   string
	termsVersion, termsURL   string
	termsEnforced            bool
	throttle                 throttle
	creds                    credCache
	shared                   bool      // several instances share the storage
	pool                     *hashPool // bounds concurrent password hashes
	// reserved are the administrator ids sign-up may not take
	// (account_admin_reserved); first is the one-time first-run link.
	reserved []string
	first    *firstRun
	// fallback: another policy follows this one in multiauth.policies,
	// so a failed Basic check lets that policy decide (ACC-X-THR).
	fallback bool
}

// Name implements resource.Plugin.
func (*Plugin) Name() string { return "accounts" }

// Mailer returns the plugin's mailer (tests read a MemoryMailer's outbox).
func (p *Plugin) Mailer() Mailer { return p.mailer }

// isAccountsPolicy tells whether a policy name selects this method.
func isAccountsPolicy(s *config.Settings, name string) bool {
	use := s.String("multiauth.policy." + name + ".use")
	if use == "" {
		return name == "account" || name == "accounts"
	}
	for _, a := range Aliases {
		if use == a || strings.HasSuffix(use, "."+a) {
			return true
		}
	}
	return false
}

// checkStartup enforces the configuration rules of ACC-01.
func checkStartup(s *config.Settings) (policy string, err error) {
	sawBasic := false
	for _, name := range s.List("multiauth.policies") {
		use := s.String("multiauth.policy." + name + ".use")
		if (use == "" && name == "basicauth") || strings.HasSuffix(use, "BasicAuthAuthenticationPolicy") || use == "basicauth" {
			sawBasic = true
		}
		if isAccountsPolicy(s, name) {
			if sawBasic {
				return "", fmt.Errorf("config: multiauth.policies lists basicauth before %s: basicauth would accept every account's credentials first", name)
			}
			policy = name
			break
		}
	}
	if policy == "" {
		return "", fmt.Errorf("config: Account policy missing: the accounts plugin is included but multiauth.policies has no accounts method (add \"account\")")
	}
	writers := s.List("account_write_principals")
	for _, p := range s.List("account_create_principals") {
		if p == permissions.Everyone {
			continue
		}
		found := false
		for _, w := range writers {
			found = found || w == p
		}
		if !found {
			return "", fmt.Errorf("config: %s is in account_create_principals but not in account_write_principals", p)
		}
	}
	return policy, nil
}

// Register implements resource.Plugin.
func (p *Plugin) Register(r *resource.Registry) error {
	s := r.Settings()
	p.settings = s
	policy, err := checkStartup(s)
	if err != nil {
		return err
	}
	p.policy = policy
	if list := s.List("multiauth.policies"); len(list) > 0 && list[len(list)-1] != policy {
		p.fallback = true
	}
	p.hasher = Hasher{Name: s.OneOf("account_password_hasher", "bcrypt", "argon2id")}
	if n, ok := s.Int("account_bcrypt_cost"); ok && n >= 4 && n <= 31 {
		p.hasher.Cost = n
	}
	p.fake.h = p.hasher
	p.pool = newHashPool()
	p.cache = newCache(s.String("userid_hmac_secret"), time.Duration(s.IntDefault("account_cache_ttl_seconds"))*time.Second)
	p.validation = s.Bool("account_validation")
	p.hideHash = s.Bool("account_hide_password_hash")
	if p.emailRe, err = regexp.Compile(s.String("account_validation.email_regexp")); err != nil {
		return fmt.Errorf("config: setting account_validation.email_regexp: %v", err)
	}
	if p.mailer, err = newMailer(s); err != nil {
		return err
	}
	p.tokens = s.Bool("account_tokens_enabled")
	p.sessions = s.Bool("account_sessions_enabled")
	p.embeds = s.Bool("account_embed_credentials_enabled")
	p.tokenTTL = time.Duration(s.IntDefault("account_token_ttl_seconds")) * time.Second
	p.tokenMaxTTL = time.Duration(s.IntDefault("account_token_max_ttl_seconds")) * time.Second
	p.sessionTTL = time.Duration(s.IntDefault("account_session_ttl_seconds")) * time.Second
	p.cookieName = s.String("account_session_cookie_name")
	p.csrfHeader = s.String("account_csrf_header_name")
	p.cookieSecure = s.OneOf("account_session_cookie_secure", "auto", "true", "false")
	p.sameSite = s.OneOf("account_session_cookie_samesite", "Lax", "Strict", "None")
	p.termsVersion, p.termsURL = s.String("account_terms_version"), s.String("account_terms_url")
	p.termsEnforced = s.Bool("account_terms_enforced")
	p.creds.ttl = time.Duration(s.IntDefault("account_cache_ttl_seconds")) * time.Second
	if sh, ok := r.Storage().(storage.Sharer); ok && sh.SharedBetweenInstances() {
		// Other instances may revoke credentials: cached bearer
		// credentials are not used, and cached password checks are
		// confirmed against the stored hash.
		p.shared = true
		p.creds.ttl = 0
	}
	p.throttle = throttle{max: s.IntDefault("account_login_max_failures"),
		window: time.Duration(s.IntDefault("account_login_failure_window_seconds")) * time.Second,
		queued: &queuedFailures{}}
	if !p.shared && p.throttle.max > 0 {
		local, err := loadPairs(context.Background(), r.Storage())
		if err != nil {
			return fmt.Errorf("accounts: reading the login counters: %w", err)
		}
		p.throttle.local = local
	}
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	r.OnShutdown(stopSweep)
	r.OnServe(func() { go p.sweepForever(sweepCtx, r.Storage(), r.Logger()) })
	if b := s.String("storage_backend"); b == "memory" || strings.HasSuffix(b, ".memory") {
		r.Logger().Warn("accounts are kept in memory: they disappear when the server stops")
	}
	if err := r.Tree().AddPermission(permissions.Root, "account:create", permissions.Grants{permissions.Root: {"account:create"}}); err != nil {
		return err
	}
	res := &resource.Resource{
		Name: "account", Plural: "accounts", IDPattern: IDPattern,
		Permissions: map[string]permissions.Grants{
			"read":  {"account": {"read", "write"}},
			"write": {"account": {"write"}},
		},
		// Kinto stores each account under its own id; a PostgreSQL
		// database shared with Kinto must keep its rows that way.
		Layout: accountLayout,
		Guard:  p.guard, CheckBody: p.checkBody, Prepare: p.prepare, PreWrite: p.preWrite, Validate: p.validate, AfterWrite: p.afterWrite, AfterDelete: p.afterDelete,
		Owner:      func(_ *resource.Request, obj storage.Object) string { return p.policy + ":" + storage.ID(obj) },
		ReadFilter: p.readFilter,
		ListAll:    p.isAdmin,
		ListFilter: p.ownOnly,
	}
	if p.hideHash {
		res.Hidden = []string{"password"}
	}
	if err := r.AddResource(res); err != nil {
		return err
	}
	r.OnFlush(func() { p.cache.clear(); p.creds.invalidate() })
	r.AddAuthMethod(Aliases, func(string) (resource.AuthMethod, error) { return p, nil })
	capability := map[string]any{"validation_enabled": p.validation, "tokens": p.tokens, "sessions": p.sessions,
		"embed_credentials": p.embeds, "passwordless_signup": p.passwordless()}
	if p.termsVersion != "" {
		capability["terms"] = map[string]any{"version": p.termsVersion, "url": p.termsURL, "enforced": p.termsEnforced}
	}
	if err := r.AddCapability("accounts", "Manage user accounts.", "https://kinto.readthedocs.io/en/latest/api/1.x/accounts.html", capability); err != nil {
		return err
	}
	r.AddRequestHook(p.checkRequest)
	r.OnRevocation(revokes)
	r.AddGauge(resource.Gauge{Name: "nimbus_accounts_password_cache_hits_total", Counter: true,
		Help: "Basic logins answered from the verified-password cache.", Value: func() float64 { return float64(p.cache.hits.Load()) }})
	r.AddGauge(resource.Gauge{Name: "nimbus_accounts_password_cache_misses_total", Counter: true,
		Help: "Basic logins that needed a password hash check.", Value: func() float64 { return float64(p.cache.misses.Load()) }})
	r.AddUserInfo(func(req *resource.Request, user map[string]any) {
		if c := credOf(req); c != nil && c.method == "embed" && req.Identity().Policy == p.policy {
			user["scope"] = map[string]any{"type": "embed", "bucket": c.bucket, "key": c.key}
		}
	})
	r.AddListener(resource.Listener{Resources: []string{"bucket"}, Actions: []string{"delete"}, BeforeCommit: p.bucketDeleted})
	if err := p.addRoutes(r); err != nil {
		return err
	}
	if s.Bool("account_admin_reserved") {
		if err := p.setupFirstRun(r); err != nil {
			return err
		}
	}
	if p.validation {
		if err := r.AddRoute(resource.Route{Method: "POST", Path: "/accounts/:account_id/validate/:activation_key", Handler: p.activate,
			Write: true, NoBatch: true, Summary: "Activate an account with the key sent by e-mail."}); err != nil {
			return err
		}
		if err := r.AddRoute(resource.Route{Method: "POST", Path: "/accounts/:account_id/reset-password", Handler: p.resetPassword,
			Write: true, NoBatch: true, Summary: "E-mail a temporary password."}); err != nil {
			return err
		}
	}
	return nil
}

// isAdmin tells whether the caller manages every account.
func (p *Plugin) isAdmin(r *resource.Request, tx storage.Tx) (bool, error) {
	ps, err := r.Principals(tx)
	if err != nil {
		return false, err
	}
	return r.Authorizer().BySettings(ps, "account", "write"), nil
}

// ownID returns the caller's account id, or "".
func (p *Plugin) ownID(r *resource.Request) string {
	id, ok := strings.CutPrefix(r.Identity().UserID, p.policy+":")
	if !ok || r.Identity().Policy != p.policy {
		return ""
	}
	return id
}

// guard requires authentication everywhere but for creation (ACC-08),
// and keeps every account but their own out of a non-administrator's
// reach, whatever its ACL grants (ACC-08, ACC-09): an account whose owner
// gave write to system.Everyone is still theirs alone, as Kinto keeps
// each user's accounts under their own id. PUT and POST on another id are
// preWrite's (ACC-06).
func (p *Plugin) guard(r *resource.Request, action, id string) error {
	if !r.Authenticated() {
		if action != "create" && action != "put" {
			return resource.Unauthorized()
		}
		return nil
	}
	if id == "" || id == p.ownID(r) || action != "read" && action != "update" && action != "delete" {
		return nil
	}
	var ps []string
	if err := r.View(func(tx storage.Tx) (err error) { ps, err = r.Principals(tx); return }); err != nil {
		return err
	}
	a := r.Authorizer()
	if a.BySettings(ps, "account", "write") || action == "read" && a.BySettings(ps, "account", "read") {
		return nil
	}
	return r.Deny()
}

// ownOnly keeps, of the accounts a non-administrator's principals may
// list, their own (ACC-08).
func (p *Plugin) ownOnly(r *resource.Request, ids []string) []string {
	own := p.ownID(r)
	if own != "" && slices.Contains(ids, own) {
		return []string{own}
	}
	return []string{}
}

// preWrite refuses, with 400, a non-administrator writing another id
// (ACC-06), provided they may create accounts at all.
func (p *Plugin) preWrite(r *resource.Request, tx storage.Tx, id string, exists bool) error {
	if !exists && p.reservedID(id) {
		if admin, err := p.isAdmin(r, tx); err != nil || !admin {
			if err != nil {
				return err
			}
			return errReserved(id)
		}
	}
	if !r.Authenticated() || id == "" || p.ownID(r) == id {
		return nil
	}
	admin, err := p.isAdmin(r, tx)
	if err != nil || admin {
		return err
	}
	canCreate, err := r.Allowed(tx, []permissions.Node{{Resource: permissions.Root}}, "account:create")
	if err != nil {
		return err
	}
	if canCreate {
		return resource.Invalid("body", "data.id", "Username and account ID do not match.")
	}
	return r.Deny()
}

func (p *Plugin) readFilter(_ *resource.Request, obj storage.Object) storage.Object {
	if !p.hideHash {
		return obj
	}
	if _, ok := obj["password"]; !ok {
		return obj
	}
	out := make(storage.Object, len(obj))
	for k, v := range obj {
		if k != "password" {
			out[k] = v
		}
	}
	return out
}
