package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nimbus-server/nimbus/storage"
	"github.com/nimbus-server/nimbus/storage/postgres/pgtest"
)

// TestAnalyzesAsTablesGrow checks that an instance which wrote many rows
// refreshes the planner's statistics itself (analyze.go), so that the
// plans of a freshly seeded database do not wait for autovacuum (which
// the test server runs with its default one-minute pause), with the
// smaller sample of growthStatsTarget, and that an explicit Analyze (an
// import's) uses the server's target.
func TestAnalyzesAsTablesGrow(t *testing.T) {
	pg := pgtest.Start(t)
	url := pg.NewDatabase(t)
	b := open(t, url)
	ref := storage.Ref{Resource: "record", Parent: "/buckets/b/collections/c"}
	for i := 0; i < 12; i++ {
		update(t, b, func(tx storage.Tx) error {
			for j := 0; j < 100; j++ {
				if _, err := tx.Create(ref, storage.Object{"id": fmt.Sprintf("r%02d-%03d", i, j), "status": "active"}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	conn := connect(t, url)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var analyzed bool
		if err := conn.QueryRow(context.Background(), `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'objects'`).Scan(&analyzed); err != nil {
			t.Fatal(err)
		}
		// The statistics report the analysis before its transaction
		// commits its rows of pg_statistic: wait for those too.
		if _, ok := histogramBounds(t, conn); analyzed && ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("1,200 rows written and the objects table was never analysed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Autovacuum may have analysed the table too, with its own target.
	var auto bool
	if err := conn.QueryRow(context.Background(), `SELECT last_autoanalyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'objects'`).Scan(&auto); err != nil {
		t.Fatal(err)
	}
	if n := idHistogram(t, conn); n == 0 || (n > 31 && !auto) {
		t.Errorf("the analysis after growing kept %d histogram bounds for id, want 1 to 31 (target 30)", n)
	}
	if err := b.Analyze(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := idHistogram(t, conn); n <= 31 {
		t.Errorf("an explicit Analyze kept %d histogram bounds for id, want the server's target (101)", n)
	}
}

// idHistogram is the number of bounds in the histogram of objects.id,
// one more than the statistics target its last analysis used (the test
// writes 1,200 distinct ids).
func idHistogram(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	n, ok := histogramBounds(t, conn)
	if !ok {
		t.Fatal("objects.id has no statistics")
	}
	return n
}

// histogramBounds is idHistogram, and whether objects.id has statistics
// at all.
func histogramBounds(t *testing.T, conn *pgx.Conn) (int, bool) {
	t.Helper()
	var n int
	err := conn.QueryRow(context.Background(), `SELECT coalesce(array_length(histogram_bounds::text::text[], 1), 0) FROM pg_stats WHERE tablename = 'objects' AND attname = 'id'`).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return n, true
}
