// Package loadrun is the load and fault run: scripts/loadrun starts Redis, three Tiltas replicas
// as separate processes on an accelerated clock, and fake Telegram and Slack servers, drives a
// working day of concerns, escalations, a meeting and joint visits through the fakes, kills one
// replica with SIGKILL and restarts Redis on the way, and reports from the fakes' own records
// what was lost, what came twice, how late timers were, and how close delivery came to the
// platforms' limits. The run is a test behind the loadrun build tag (the fakes need a
// testing.TB), so that scripts/test does not run it.
package loadrun
