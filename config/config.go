package config

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults are the built-in values of the core settings (settings.md),
// from Core.
var Defaults = defaultsOf(Core)

// Settings is the merged configuration. It is safe for concurrent reads.
type Settings struct {
	mu       sync.Mutex
	file     map[string]string
	env      map[string]string
	defaults map[string]string
	// Path is the configuration file that was loaded ("" when none).
	Path string
	// Hash is the SHA-256 (hex) of that file's content with the values of
	// secret settings blanked (it may be shown to anyone).
	Hash string
	// Modified is the file's modification time.
	Modified time.Time
	errs     []string
}

// New returns settings holding only the built-in defaults plus values, for
// tests and embedding; values win over defaults.
func New(values map[string]string) *Settings {
	s := &Settings{file: map[string]string{}, env: map[string]string{}, defaults: map[string]string{}}
	for k, v := range Defaults {
		s.defaults[k] = v
	}
	for k, v := range values {
		s.file[k] = v
	}
	return s
}

// EnvName returns the environment variable that overrides key.
func EnvName(key string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return "NIMBUS_" + strings.ToUpper(r.Replace(key))
}

// Load reads the INI file at path (a missing file is an error only when
// explicit is true) and the NIMBUS_* variables of environ. port, when not
// empty, is the value of --port (used by %(http_port)s and bind_port).
//
// KINTO_<KEY> is read too, as Kinto reads it, so that a Kinto deployment's
// environment (and Kinto's client suites, which start their server with
// KINTO_PAGINATE_BY, KINTO_BACKOFF, KINTO_EOS and the like) work
// unchanged; NIMBUS_<KEY> wins where both are set. KINTO_INI, Kinto's file
// location, is not a setting.
func Load(path string, explicit bool, environ []string, port string) (*Settings, error) {
	s := New(nil)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
		case strings.HasPrefix(k, "NIMBUS_") && k != "NIMBUS_INI":
			s.env[k] = v // over a KINTO_ value read before it
		case strings.HasPrefix(k, "KINTO_") && k != "KINTO_INI":
			name := "NIMBUS_" + strings.TrimPrefix(k, "KINTO_")
			if _, set := s.env[name]; !set {
				s.env[name] = v
			}
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case err == nil:
			if err := s.parseINI(path, string(data), port); err != nil {
				return nil, err
			}
			s.Path, s.Hash = path, redactedHash(string(data))
			if st, err := os.Stat(path); err == nil {
				s.Modified = st.ModTime()
			}
		case os.IsNotExist(err) && !explicit:
		default:
			return nil, fmt.Errorf("config: cannot read %s: %v", path, err)
		}
	}
	if port != "" {
		s.file["bind_port"] = port
		delete(s.env, EnvName("bind_port"))
	}
	return s, nil
}

var interpolation = regexp.MustCompile(`%\(([^)]*)\)s`)

func (s *Settings) parseINI(path, text, port string) error {
	here, _ := filepath.Abs(filepath.Dir(path))
	section := ""
	type entry struct{ key, val string }
	var entries []entry
	var server []entry
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lineNo := 0
	var last *entry
	lastServer, sawMain := false, false
	// Python's configparser, which reads Kinto's file, refuses a section
	// or an option written twice; taking the last one silently would let
	// a line added at the end (a new secret) and an old one above it
	// disagree over which is in force.
	sections := map[string]int{}
	options := map[string]int{}
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if last == nil {
				continue
			}
			last.val = strings.TrimSpace(last.val + "\n" + line)
			if lastServer {
				server[len(server)-1] = *last
			} else {
				entries[len(entries)-1] = *last
			}
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.TrimSpace(line[1 : len(line)-1])
			if first, dup := sections[section]; dup && readSection(section) {
				return fmt.Errorf("config: %s line %d: section [%s] appears twice (first on line %d): merge them", path, lineNo, section, first)
			}
			sections[section] = lineNo
			sawMain = sawMain || section == "nimbus" || section == "app:main"
			last = nil
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			k, v, ok = strings.Cut(line, ":")
		}
		if !ok {
			return fmt.Errorf("config: %s line %d: expected key = value, got %q", path, lineNo, line)
		}
		e := entry{strings.TrimSpace(k), strings.TrimSpace(v)}
		if readSection(section) {
			option := section + "\x00" + strings.ToLower(e.key)
			if first, dup := options[option]; dup {
				return fmt.Errorf("config: %s line %d: %s is set twice in [%s] (first on line %d): keep one", path, lineNo, e.key, section, first)
			}
			options[option] = lineNo
		}
		switch section {
		case "nimbus", "app:main":
			entries = append(entries, e)
			last, lastServer = &entries[len(entries)-1], false
		case "server:main":
			server = append(server, e)
			last, lastServer = &server[len(server)-1], true
		default:
			last = nil
		}
	}
	if !sawMain {
		return fmt.Errorf("config: %s has no [nimbus] section (nor Kinto's [app:main]): its settings would be ignored; "+
			"put them under a [nimbus] line", path)
	}
	if port == "" {
		port = "8888"
		for _, e := range server {
			if e.key == "port" {
				port = e.val
			}
		}
	}
	interp := func(v string) (string, error) {
		var bad string
		out := interpolation.ReplaceAllStringFunc(v, func(m string) string {
			name := m[2 : len(m)-2]
			switch name {
			case "here":
				return here
			case "http_port":
				return port
			}
			bad = name
			return m
		})
		if bad != "" {
			return "", fmt.Errorf("config: %s: unknown interpolation %%(%s)s", path, bad)
		}
		return out, nil
	}
	for _, e := range server {
		v, err := interp(e.val)
		if err != nil {
			return err
		}
		switch e.key {
		case "host":
			s.defaults["bind_host"] = v
		case "port":
			s.defaults["bind_port"] = v
		}
	}
	origin := map[string]string{}
	for _, e := range entries {
		if e.key == "use" || strings.HasPrefix(e.key, "pyramid.") {
			continue
		}
		v, err := interp(e.val)
		if err != nil {
			return err
		}
		key := e.key
		for _, p := range []string{"kinto.", "nimbus."} {
			key = strings.TrimPrefix(key, p)
		}
		if prev, seen := s.file[key]; seen && origin[key] != e.key && prev != v {
			return fmt.Errorf("config: settings %s and %s are in conflict", origin[key], e.key)
		}
		s.file[key] = v
		origin[key] = e.key
	}
	return nil
}

// readSection tells the sections whose settings Nimbus reads.
func readSection(name string) bool {
	return name == "nimbus" || name == "app:main" || name == "server:main"
}

// SetDefault declares a setting's default (plugins use it).
func (s *Settings) SetDefault(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.defaults[key]; !ok {
		s.defaults[key] = value
	}
}

// Set overrides a setting, environment included (tests use it; the
// zero-configuration start uses SetDefault, which the environment overrides).
func (s *Settings) Set(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.file[key] = value
	delete(s.env, EnvName(key))
}

// Lookup returns the raw value of key and whether it is set anywhere.
func (s *Settings) Lookup(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.env[EnvName(key)]; ok && !strings.Contains(key, "..") {
		return unquote(v), true
	}
	if v, ok := s.file[key]; ok {
		return unquote(v), true
	}
	v, ok := s.defaults[key]
	return v, ok
}

// FileKeys returns the keys the configuration file sets.
func (s *Settings) FileKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.file))
	for k := range s.file {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Source tells where the value of key in effect comes from: "environment"
// (NIMBUS_<KEY> or KINTO_<KEY>), "file" (the configuration file, or the
// values given to New), "default", or "" when it is not set at all.
func (s *Settings) Source(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.env[EnvName(key)]; ok && !strings.Contains(key, "..") {
		return "environment"
	}
	if _, ok := s.file[key]; ok {
		return "file"
	}
	if _, ok := s.defaults[key]; ok {
		return "default"
	}
	return ""
}

// unquote turns a JSON string literal into its value; other text is kept.
func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var out string
		if json.Unmarshal([]byte(v), &out) == nil {
			return out
		}
	}
	return v
}

// Keys returns every key set in the file or the defaults, sorted.
func (s *Settings) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	for k := range s.file {
		seen[k] = true
	}
	for k := range s.defaults {
		seen[k] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// fail records a malformed value.
func (s *Settings) fail(key, raw, want string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, fmt.Sprintf("setting %s: %q is not %s", key, raw, want))
}

// Err returns the malformed values met by the typed getters so far.
func (s *Settings) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) == 0 {
		return nil
	}
	return fmt.Errorf("config: %s", strings.Join(s.errs, "; "))
}

// String returns key's value, or "".
func (s *Settings) String(key string) string {
	v, _ := s.Lookup(key)
	return v
}

// Bool returns key's value as a boolean (true/false/yes/no/on/off/1/0).
func (s *Settings) Bool(key string) bool {
	v, ok := s.Lookup(key)
	if !ok || v == "" {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "on", "1":
		return true
	case "false", "no", "off", "0", "null", "none":
		return false
	}
	s.fail(key, v, "a boolean")
	return false
}

// Int returns key's value as an integer; ok is false when it is unset,
// empty or null. A malformed value is recorded and reads as unset.
func (s *Settings) Int(key string) (n int, ok bool) {
	v, set := s.Lookup(key)
	v = strings.TrimSpace(v)
	if !set || v == "" || v == "null" || strings.EqualFold(v, "none") {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		s.fail(key, v, "an integer")
		return 0, false
	}
	return n, true
}

// IntOr returns key's integer value, or def when unset.
func (s *Settings) IntOr(key string, def int) int {
	if n, ok := s.Int(key); ok {
		return n
	}
	return def
}

// IntDefault returns key's integer value, or the default declared for key
// (SetDefault) when it is unset or empty: a plugin writes each default
// once, where it declares the setting.
func (s *Settings) IntDefault(key string) int {
	if n, ok := s.Int(key); ok {
		return n
	}
	s.mu.Lock()
	def := s.defaults[key]
	s.mu.Unlock()
	n, _ := strconv.Atoi(strings.TrimSpace(def))
	return n
}

// List returns key's value split on whitespace.
func (s *Settings) List(key string) []string {
	v, _ := s.Lookup(key)
	return strings.Fields(v)
}

// OneOf returns key's value after checking it is one of allowed.
func (s *Settings) OneOf(key string, allowed ...string) string {
	v := s.String(key)
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	s.fail(key, v, "one of "+strings.Join(allowed, ", "))
	return allowed[0]
}
