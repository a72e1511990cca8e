package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-server/nimbus/storage"
)

// purgeDeleted serves "nimbus purge-deleted <resource>... <max-retained>":
// it keeps the newest max-retained tombstones of every list of the given
// resource types and deletes the older ones.
func purgeDeleted(g globals, args []string, stdout io.Writer) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: nimbus purge-deleted <resource>... <max-retained>")
	}
	keep, err := strconv.Atoi(args[len(args)-1])
	if err != nil || keep < 0 {
		return fmt.Errorf("max-retained must be a non-negative integer, not %q", args[len(args)-1])
	}
	app, backend, err := openForTransfer(g, io.Discard)
	if err != nil {
		return err
	}
	defer backend.Close()
	var known []string
	for _, res := range app.Resources() {
		known = append(known, res.Name)
	}
	for _, resource := range args[:len(args)-1] {
		if slices.Contains(known, resource) {
			continue
		}
		// A resource of a plugin no longer included still has its lists.
		var stored bool
		err := backend.View(context.Background(), func(tx storage.Tx) error {
			if l, ok := tx.(storage.Lister); ok {
				refs, err := l.Lists(resource)
				stored = len(refs) > 0
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
		if !stored {
			return fmt.Errorf("unknown resource %q (this server's are: %s)", resource, strings.Join(known, ", "))
		}
	}
	s := app.Settings
	for _, resource := range args[:len(args)-1] {
		err := backend.Update(context.Background(), func(tx storage.Tx) error {
			lister, ok := tx.(storage.Lister)
			if !ok {
				return fmt.Errorf("the %s storage cannot enumerate lists", backendName(s))
			}
			refs, err := lister.Lists(resource)
			if err != nil {
				return err
			}
			n := 0
			for _, ref := range refs {
				removed, err := tx.PurgeDeleted(ref, 0, keep)
				if err != nil {
					return err
				}
				n += removed
			}
			fmt.Fprintf(stdout, "%s: %d tombstones deleted\n", resource, n)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
