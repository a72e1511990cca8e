// Package flush is the flush plugin: POST /__flush__ deletes every piece
// of data (PLUG-FLUSH). It is meant for test servers and demos only, and
// logs a warning at start-up when it is included.
package flush
