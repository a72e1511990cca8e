package postgres

import (
	"github.com/nimbus-server/nimbus/storage"
)

var _ storage.ExistenceChecker = (*pgTx)(nil)

// existingChunk is how many ids one statement of ExistingIDs asks about.
const existingChunk = 5000

// existingSQL returns which of the (id, parent_id) pairs are live rows of
// a resource; the pairs carry each row's parent so that lists stored
// under their own ids (Kinto's accounts) are asked the same way.
const existingSQL = `SELECT o.id FROM objects o
  JOIN unnest($1::TEXT[], $2::TEXT[]) AS t(i, p) ON o.id = t.i AND o.parent_id = t.p
  WHERE o.resource_name = $3 AND NOT o.deleted`

// ExistingIDs implements storage.ExistenceChecker: a statement per
// existingChunk ids, read from the database. Never through the read
// cache: a check of thousands of objects (/permissions of a user who
// owns them) would fill it with rows nobody reads again and drop what
// every other request keeps there.
func (t *pgTx) ExistingIDs(ref storage.Ref, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), existingChunk)]
		ids = ids[len(chunk):]
		parents := make([]string, len(chunk))
		for i, id := range chunk {
			parents[i] = t.rowParent(ref, id)
		}
		rows, err := t.tx.Query(t.ctx, existingSQL, chunk, parents, ref.Resource)
		if err != nil {
			return nil, wrap("exists", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, wrap("exists", err)
			}
			out[id] = true
		}
		if err := rows.Err(); err != nil {
			return nil, wrap("exists", err)
		}
	}
	return out, nil
}
