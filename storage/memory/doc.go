// Package memory is a storage backend that keeps everything in process
// memory, for tests and throwaway servers. It has the same semantics as the
// bolt backend (both run storage/kvengine); writers are serialised and a
// failed transaction is rolled back from an undo log.
package memory
