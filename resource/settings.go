package resource

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SettingType is the kind of value a declared setting holds.
type SettingType int

// Setting types. A value is checked against its type when the server is
// built; an empty value means "use the default".
const (
	String SettingType = iota
	Int
	Bool
	List
)

func (t SettingType) String() string {
	switch t {
	case Int:
		return "integer"
	case Bool:
		return "boolean"
	case List:
		return "list"
	}
	return "string"
}

// Setting declares one setting a plugin reads: its name, type, default
// and what it does. The engine gives it its default, checks the value at
// start-up (an error names the setting), and lists it for "nimbus init"
// and "nimbus settings".
type Setting struct {
	Name    string
	Type    SettingType
	Default string
	// OneOf, when not empty, lists the values allowed.
	OneOf       []string
	Description string
}

// SettingsDeclarer is implemented by plugins that read settings of their
// own. The engine declares them before the plugin's Register runs, so
// Register reads them with their defaults; tools list them without
// registering the plugin.
type SettingsDeclarer interface {
	Settings() []Setting
}

// DeclaredSetting is a setting with the plugin that declares it.
type DeclaredSetting struct {
	Setting
	Plugin string
}

// declareSettings gives a plugin's settings their defaults.
func (a *App) declareSettings(plugin string, list []Setting) error {
	if a.declared == nil {
		a.declared = map[string]DeclaredSetting{}
	}
	for _, st := range list {
		if st.Name == "" {
			return fmt.Errorf("a setting without a name")
		}
		if prev, dup := a.declared[st.Name]; dup {
			return fmt.Errorf("setting %s is already declared by plugin %s", st.Name, prev.Plugin)
		}
		if st.Default != "" {
			if err := checkSetting(st, st.Default); err != nil {
				return fmt.Errorf("default of %w", err)
			}
		}
		a.declared[st.Name] = DeclaredSetting{Setting: st, Plugin: plugin}
		a.Settings.SetDefault(st.Name, st.Default)
	}
	return nil
}

// checkDeclaredSettings checks every declared setting's value against
// its type (at Build).
func (a *App) checkDeclaredSettings() error {
	for _, d := range a.DeclaredSettings() {
		v, _ := a.Settings.Lookup(d.Name)
		if err := checkSetting(d.Setting, v); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

// DeclaredSettings returns the settings the registered plugins declared,
// sorted by name.
func (a *App) DeclaredSettings() []DeclaredSetting {
	out := make([]DeclaredSetting, 0, len(a.declared))
	for _, d := range a.declared {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// checkSetting tells whether v is a valid value of st ("" always is).
func checkSetting(st Setting, v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	bad := func(what string) error {
		msg := fmt.Sprintf("setting %s = %q is not %s", st.Name, v, what)
		if st.Description != "" {
			msg += " (" + st.Description + ")"
		}
		return fmt.Errorf("%s", msg)
	}
	switch st.Type {
	case Int:
		if v == "null" || strings.EqualFold(v, "none") {
			return nil
		}
		if _, err := strconv.Atoi(v); err != nil {
			return bad("an integer")
		}
	case Bool:
		switch strings.ToLower(v) {
		case "true", "yes", "on", "1", "false", "no", "off", "0", "null", "none":
		default:
			return bad("a boolean")
		}
	}
	if len(st.OneOf) > 0 {
		for _, ok := range st.OneOf {
			if v == ok {
				return nil
			}
		}
		return bad("one of " + strings.Join(st.OneOf, ", "))
	}
	return nil
}
