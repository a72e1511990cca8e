package postgres

import "context"

// PreparedStatements lists the statements kept prepared on the pool's
// idle connections: what a test expects the server to hold, or not.
func (b *Backend) PreparedStatements(ctx context.Context) ([]string, error) {
	var out []string
	conns := b.pool.AcquireAllIdle(ctx)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for _, c := range conns {
		rows, err := c.Query(ctx, "SELECT statement FROM pg_prepared_statements")
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FieldIndexName is the name of a field's value index.
func FieldIndexName(field string) string { return fieldIndexName(field) }
