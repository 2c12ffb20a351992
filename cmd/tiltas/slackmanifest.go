package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/tiltas/tiltas/adapters/slack"
	"github.com/tiltas/tiltas/config"
)

// slackManifest prints the Slack app manifest that matches the config: paste it into
// api.slack.com/apps → Create New App → From an app manifest.
func slackManifest(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	path := fs.String("c", "", "config `file`")
	name := fs.String("name", "Tiltas", "the app's display `name`")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if *path == "" {
		fmt.Fprintln(stderr, "tiltas slack-manifest: -c FILE is required")
		return 2
	}
	cfg, err := config.LoadNoSecrets(*path, platformChecks) // no token or key is needed to describe the app
	if err != nil {
		fmt.Fprintf(stderr, "tiltas slack-manifest: %s:\n%v\n", *path, err)
		return 2
	}
	sc := slackConfig(cfg)
	if sc.Command != "" && !slack.ValidCommand(sc.Command) {
		fmt.Fprintf(stderr, "tiltas slack-manifest: slack.command %q: want a slash command such as /tiltas\n", sc.Command)
		return 2
	}
	if sc.Mode == slack.ModeHTTP && cfg.HTTP.PublicURL == "" {
		fmt.Fprintln(stderr, "tiltas slack-manifest: slack.mode http needs http.public_url (where Slack posts)")
		return 2
	}
	m := slack.Manifest(sc, *name, "Tiltas: žinios tarp vaiko gerove besirūpinančių institucijų / information bridge for child protection", cfg.HTTP.PublicURL)
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		fmt.Fprintf(stderr, "tiltas slack-manifest: %v\n", err)
		return 1
	}
	return 0
}
