// Command nimbus-bookmarks is Nimbus with the bookmarks plugin compiled
// in: every nimbus command (serve, init, settings, create-user...) with
// one more plugin to name in includes.
package main

import (
	"os"

	"github.com/nimbus-server/nimbus/cmd/nimbus/cli"

	"example.com/nimbus-bookmarks/bookmarks"
)

func main() { os.Exit(cli.Main(&bookmarks.Plugin{})) }
