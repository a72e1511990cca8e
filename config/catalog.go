package config

import "strings"

// Known is one core setting: its name, built-in default ("" for none)
// and what it does. Plugins declare theirs in the same shape.
type Known struct {
	Name, Default, Description string
}

// Core lists the settings the server itself reads (settings.md SET-03 to
// SET-09); Defaults derives from it. "nimbus settings" shows them with
// the plugins' declared ones.
var Core = []Known{
	{"bind_host", "127.0.0.1", "listen address"},
	{"bind_port", "8888", "listen port"},
	{"http_scheme", "", "scheme of the URLs the server builds (none: the request's)"},
	{"http_host", "", "host of the URLs the server builds (none: the request's Host)"},
	{"trusted_proxies", "", "reverse proxies whose forwarding headers (client address, scheme, host) are believed (loopback, CIDRs, addresses)"},
	{"static_path", "", "a folder of your own files served at / (outside /v1), index.html for folders"},
	{"project_name", "nimbus", "name shown in the root URL"},
	{"project_version", "", "version shown in the root URL (none: the build's)"},
	{"project_docs", "https://kinto.readthedocs.io/", "documentation link of the root URL"},
	{"version_json_path", "version.json", "file served by /__version__"},
	{"error_info_link", "", "info link of 500 answers"},
	{"readonly", "false", "read-only mode"},
	{"max_request_body_bytes", "8388608", "largest request body (413 beyond)"},
	{"request_body_timeout_seconds", "30", "time a request body may take to arrive (408 beyond; 0: no limit)"},
	{"request_body_budget_bytes", "33554432", "bytes of bodies of 64 KiB or more served at once; others wait (0: no limit)"},
	{"request_body_wait_seconds", "30", "longest wait for that budget (503 with Retry-After beyond)"},
	{"response_budget_bytes", "67108864", "bytes of answers of 64 KiB or more being written at once; others wait up to a second, then 503 (0: no limit)"},
	{"response_send_timeout_seconds", "60", "time a client has to take each 256 KiB of a large answer before its connection is closed (0: no limit)"},
	{"heartbeat_timeout_seconds", "10", "time a heartbeat check may take"},
	{"log_level", "INFO", "DEBUG, INFO, WARNING or ERROR"},
	{"log_format", "text", "text or json"},
	{"batch_max_requests", "25", "sub-requests of one batch (0: no limit)"},
	{"paginate_by", "", "largest page of a list (none: as _limit says)"},
	{"storage_max_fetch_size", "10000", "largest page read from storage"},
	{"page_max_bytes", "16777216", "stored JSON of one list page: the page ends with the record that reaches it and Next-Page goes on from there (0: no limit)"},
	{"pagination_token_validity_seconds", "600", "lifetime of a page token"},
	{"explicit_permissions", "true", "the creator of an object gets write on it"},
	{"experimental_collection_schema_validation", "false", "collections may hold a JSON schema records must follow"},
	{"experimental_permissions_endpoint", "false", "GET /permissions"},
	{"trailing_slash_redirect_enabled", "true", "redirect URLs ending with /"},
	{"trailing_slash_redirect_ttl_seconds", "3600", "cache time of that redirect"},
	{"version_prefix_redirect_enabled", "true", "redirect URLs without /v1"},
	{"version_prefix_redirect_ttl_seconds", "-1", "cache time of that redirect"},
	{"root_cache_expires_seconds", "86400", "cache time of the root URL in read-only mode"},
	{"bucket_id_generator", "name", "ids of posted buckets: name, uuid4 or relaxed_uuid"},
	{"collection_id_generator", "name", "ids of posted collections"},
	{"group_id_generator", "name", "ids of posted groups"},
	{"record_id_generator", "relaxed_uuid", "ids of posted records"},
	{"id_generator", "uuid4", "ids of plugins' resources"},
	{"cors_origins", "*", "origins allowed by CORS"},
	{"cors_max_age_seconds", "3600", "cache time of CORS preflights"},
	{"backoff", "", "Backoff header value, in seconds"},
	{"backoff_percentage", "", "share of answers with the Backoff header (0-100)"},
	{"retry_after_seconds", "3", "Retry-After of 503 answers"},
	{"eos", "", "end of service date (YYYY-MM-DD)"},
	{"eos_message", "", "end of service message"},
	{"eos_url", "", "end of service link"},
	{"storage_backend", "bolt", "bolt, postgresql or memory"},
	{"storage_url", "", "bolt file (data/nimbus.db) or PostgreSQL URL"},
	{"storage_pool_size", "25", "PostgreSQL connections"},
	{"storage_max_overflow", "5", "PostgreSQL connections beyond the pool"},
	{"storage_pool_timeout", "30", "seconds to wait for a connection"},
	{"storage_pool_recycle", "", "accepted for Kinto's files; not used"},
	{"storage_max_backlog", "", "accepted for Kinto's files; not used"},
	{"storage_cache_entries", "50000", "PostgreSQL read cache entries per instance (0: off)"},
	{"storage_cache_bytes", "67108864", "bytes of stored JSON the PostgreSQL read cache keeps per instance; an entry over a 64th of it is not kept"},
	{"storage_max_indexed_fields", "32", "distinct declared fields (QRY-14) that get PostgreSQL indexes, which every write maintains; fields past it are not indexed and their queries scan (0: none)"},
	{"storage_connect_wait_seconds", "30", "how long serve and migrate wait for a PostgreSQL server that cannot be reached yet (0: not at all)"},
	{"permission_backend", "", "accepted for Kinto's files: permissions live with the storage"},
	{"permission_url", "", "accepted for Kinto's files"},
	{"permission_pool_size", "", "accepted for Kinto's files"},
	{"cache_backend", "memory", "caches live in each process"},
	{"cache_url", "", "accepted for Kinto's files"},
	{"cache_prefix", "", "accepted for Kinto's files"},
	{"cache_max_size_bytes", "524288", "memory cache size"},
	{"multiauth.policies", "", "authentication methods, in order"},
	{"userid_hmac_secret", "", "key of basicauth user ids, caches and page tokens (none configured: kept in the database)"},
	{"page_token_secret", "", "key of pagination tokens when userid_hmac_secret is not set (none configured: kept in the database)"},
	{"default_bucket_hmac_secret", "", "key of personal bucket ids (none configured: kept in the database, or Kinto's empty key)"},
	{"bucket_create_principals", "system.Authenticated", "who may create buckets"},
	{"permissions_read_principals", "system.Everyone", "who may read /permissions"},
	{"includes", "", "plugins to enable"},
	{"event_listeners", "", "event listeners to enable"},
	{"flush_endpoint_enabled", "", "Kinto's name for including the flush plugin"},
}

// knownPatterns are the settings whose names hold a resource, a
// permission, a method or an id (matched by prefix and suffix).
var knownPatterns = []struct{ prefix, suffix string }{
	{"", "_principals"},
	{"multiauth.policy.", ""},
	{"event_listeners.", ""},
	{"", "_cache_expires_seconds"},
	{"", "_enabled"},
	{"quotas.", ""},
	{"pyramid.", ""},
}

// IsCore tells whether key is a core setting, or one of the families of
// settings named after a resource, permission or method.
func IsCore(key string) bool {
	for _, k := range Core {
		if k.Name == key {
			return true
		}
	}
	for _, p := range knownPatterns {
		if strings.HasPrefix(key, p.prefix) && strings.HasSuffix(key, p.suffix) && len(key) > len(p.prefix)+len(p.suffix) {
			return true
		}
	}
	return false
}

func defaultsOf(list []Known) map[string]string {
	out := map[string]string{}
	for _, k := range list {
		if k.Default != "" {
			out[k.Name] = k.Default
		}
	}
	return out
}

// Closest returns the name of candidates nearest to key (edit distance),
// or "" when none is near enough to be a typo of it.
func Closest(key string, candidates []string) string {
	best, bestD := "", len(key)/3+2
	for _, c := range candidates {
		if d := distance(key, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance of two strings.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
