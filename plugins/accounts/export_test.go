package accounts

// HashRuns is how many password hashes and verifications the plugin ran.
func HashRuns(p *Plugin) int64 { return p.pool.runs.Load() }
