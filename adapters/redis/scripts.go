package redis

import goredis "github.com/redis/go-redis/v9"

// scriptNames names the store's Lua scripts by SHA1, as SLOWLOG and MONITOR show them.
var scriptNames = map[string]string{}

// script registers a Lua script under name (the stage of the work it does).
func script(name string, s *goredis.Script) *goredis.Script {
	scriptNames[s.Hash()] = name
	return s
}

// ScriptName returns what the store's script with SHA1 sha does ("inbox push", "outbox
// enqueue"), or "" for a script that is not the store's: how a benchmark or an operator reading
// SLOWLOG tells the scripts apart.
func ScriptName(sha string) string { return scriptNames[sha] }
