// Package bolt is Nimbus's embedded default backend: every object, list
// timestamp and ACL in one bbolt file, laid out by storage/kvengine.
//
// bbolt allows one writer at a time and every commit is an fsync. To keep
// many concurrent writers fast, Update groups the functions of concurrent
// callers into one commit (bbolt's DB.Batch with a 1 ms delay, which beats
// both no grouping and bbolt's 10 ms default on the disks measured). A
// caller's Update returns only once its commit is on disk. The file is
// locked for the life of the process: a second process gets an error naming
// the file instead of waiting forever.
package bolt
