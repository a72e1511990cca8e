package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-server/nimbus/config"
	"github.com/nimbus-server/nimbus/storage"
)

// The secrets user ids and personal bucket ids derive from must never
// change under a running site: a new value gives every basicauth user
// another id and every user another default bucket, and their data
// vanishes from view. So a secret the configuration does not set is kept
// in the database itself (this list), where every instance sharing it
// reads the same value and backups carry it; exports carry it too.

// secretKeys are the settings kept in the database when not configured.
var secretKeys = []string{"userid_hmac_secret", "default_bucket_hmac_secret"}

// secretRef is where kept secrets live: one object per setting.
var secretRef = storage.Ref{Resource: "nimbus_secret"}

// configured tells whether the file or the environment sets key.
func configured(s *config.Settings, key string) bool {
	src := s.Source(key)
	return src == "file" || src == "environment"
}

// keptSecrets reads the secrets kept in the database.
func keptSecrets(ctx context.Context, b storage.Backend) (map[string]string, error) {
	out := map[string]string{}
	err := b.View(ctx, func(tx storage.Tx) error {
		for _, key := range secretKeys {
			o, err := tx.Get(secretRef, key)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if v, _ := o["value"].(string); v != "" {
				out[key] = v
			}
		}
		return nil
	})
	return out, err
}

// keepSecret stores value for key unless one is kept already, and returns
// the kept one. It inserts (never replaces): of two instances starting at
// once, the second's insert fails and it reads the first's value.
func keepSecret(ctx context.Context, b storage.Backend, key, value string) (string, error) {
	kept := ""
	err := b.Update(ctx, func(tx storage.Tx) error {
		o, err := tx.Get(secretRef, key)
		if err == nil {
			kept, _ = o["value"].(string)
			return nil
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		kept = value
		_, err = tx.Create(secretRef, storage.Object{"id": key, "value": value})
		return err
	})
	if err != nil {
		// Another instance stored it first.
		again, rerr := keptSecrets(ctx, b)
		if rerr == nil && again[key] != "" {
			return again[key], nil
		}
		return "", err
	}
	return kept, nil
}

// resolveSecrets gives the settings the secrets in effect: the
// configuration's (file or environment) when it sets them, else the ones
// kept in the database; on the first zero-configuration start (generate
// true) new ones are generated and kept there. A data/secrets.ini left by
// earlier versions is moved into the database. A configured value that
// differs from the kept one is used, with a warning: ids follow it.
func resolveSecrets(ctx context.Context, s *config.Settings, b storage.Backend, generate bool, logger *slog.Logger) error {
	kept, err := keptSecrets(ctx, b)
	if err != nil {
		return fmt.Errorf("reading the secrets kept in the database: %w", err)
	}
	legacy := legacySecrets(s)
	for _, key := range secretKeys {
		if configured(s, key) {
			if v := kept[key]; v != "" && v != s.String(key) && logger != nil {
				logger.Warn("the configuration's "+key+" differs from the one kept in the database: user ids and personal "+
					"buckets follow the configuration's, and data made under the other is out of view", "setting", key)
			}
			continue
		}
		value := kept[key]
		if value == "" && legacy[key] != "" {
			if value, err = keepSecret(ctx, b, key, legacy[key]); err != nil {
				return err
			}
		}
		if value == "" && generate {
			if value, err = keepSecret(ctx, b, key, randomHex(32)); err != nil {
				return err
			}
			if logger != nil {
				logger.Info("generated "+key+" and kept it in the database (every instance and backup shares it)", "setting", key)
			}
		}
		if value != "" {
			s.SetDefault(key, value)
		}
	}
	return nil
}

// legacySecrets reads data/secrets.ini, where versions before secrets
// were kept in the database stored the zero-configuration start's.
func legacySecrets(s *config.Settings) map[string]string {
	out := map[string]string{}
	if backendName(s) != "bolt" {
		return out
	}
	data, err := os.ReadFile(filepath.Join(filepath.Dir(storageURL(s)), "secrets.ini"))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
