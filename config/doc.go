// Package config loads Nimbus settings from built-in defaults, an INI file
// (Kinto's own .ini files work: the [app:main] section, "kinto."-prefixed
// keys, PasteDeploy's %(here)s and %(http_port)s) and NIMBUS_* environment
// variables, in increasing order of precedence.
//
// Values are kept as strings and typed when read. Typed getters remember
// the first malformed value they meet, so that start-up can fail with one
// message naming the setting, rather than a request failing later.
// Plugins declare their own settings and defaults on the same Settings;
// the environment overrides those too.
package config
