// Package bolt is Nimbus's embedded default backend: every object, list
// timestamp and ACL in one bbolt file, laid out by storage/kvengine.
//
// bbolt allows one writer at a time, which holds its lock through every
// commit's page writes and fsync. Write transactions are therefore
// pipelined (pipeline.go): they run one after another on an in-memory
// layer over a read snapshot while the previous layer is committed, and
// every layer is one bbolt commit. A caller's Update returns only once its
// commit is on disk. The file is locked for the life of the process: a
// second process gets an error naming
// the file instead of waiting forever.
package bolt
