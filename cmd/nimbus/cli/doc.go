// Package cli is the nimbus command: serve, migrate, init, create-user
// and the maintenance commands. Main is also the entry point of a custom
// Nimbus binary that compiles in third-party plugins:
//
//	func main() { os.Exit(cli.Main(&bookmarks.Plugin{})) }
//
// docs/plugins.md walks through building one.
package cli
