package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// acquirer takes pooled connections for reads and write groups.
//
// The pool opens connections up to storage_pool_size +
// storage_max_overflow, but the server may grant fewer: several instances
// past max_connections together (four of 30 against PostgreSQL's default
// 100), or a role's connection limit. PostgreSQL then refuses the new
// connection (SQLSTATE 53300), and each request that needed one got 503
// while the connections the pool already held could have served it a
// moment later (a role limited to four connections, 32 clients: 204
// requests a second, one in ten a 503; 460-490 and none now). So a refusal
// for want of room makes requests wait for a connection of the pool
// instead (up to storage_pool_timeout), and for noRoomPause no new
// connection is attempted: each attempt costs the server a process it
// then refuses.
type acquirer struct {
	pool *pgxpool.Pool
	// noRoomUntil is when (unix nanoseconds) new connections may be
	// tried again after a refusal for want of room.
	noRoomUntil atomic.Int64
}

const (
	noRoomPause = time.Second
	// idlePoll is how often a waiting request looks for a released
	// connection.
	idlePoll = 2 * time.Millisecond
)

// acquire returns a pooled connection.
func (a *acquirer) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	if time.Now().UnixNano() >= a.noRoomUntil.Load() || a.pool.Stat().TotalConns() == 0 {
		c, err := a.pool.Acquire(ctx)
		if err == nil || !noRoom(err) || a.pool.Stat().TotalConns() == 0 {
			return c, err
		}
		a.noRoomUntil.Store(time.Now().Add(noRoomPause).UnixNano())
		if c, ok := a.waitIdle(ctx); ok {
			return c, nil
		}
		return nil, err
	}
	if c, ok := a.waitIdle(ctx); ok {
		return c, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Every connection of the pool is gone meanwhile: try a new one.
	return a.pool.Acquire(ctx)
}

// waitIdle waits for a connection of the pool to be released, as long as
// the pool holds some and ctx lasts.
func (a *acquirer) waitIdle(ctx context.Context) (*pgxpool.Conn, bool) {
	t := time.NewTicker(idlePoll)
	defer t.Stop()
	for {
		if idle := a.pool.AcquireAllIdle(ctx); len(idle) > 0 {
			for _, c := range idle[1:] {
				c.Release()
			}
			return idle[0], true
		}
		if a.pool.Stat().TotalConns() == 0 {
			return nil, false
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-t.C:
		}
	}
}

// noRoom tells a connection the server refused for want of room.
func noRoom(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "53300"
}
