package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

var reKeyID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// keygen prints a new AES-256 key for encryption.keys, as the environment line that gives it.
func keygen(_ context.Context, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	id := fs.String("id", fmt.Sprintf("k%d", time.Now().Year()), "the key's `id` (encryption.keys[].id)")
	if _, code, ok := parse(fs, args); !ok {
		return code
	}
	if !reKeyID.MatchString(*id) {
		fmt.Fprintf(stderr, "tiltas keygen: -id %q: want a short id of a-z, 0-9, _ and -\n", *id)
		return 2
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		fmt.Fprintf(stderr, "tiltas keygen: %v\n", err)
		return 1
	}
	env := "TILTAS_KEY_" + strings.ToUpper(strings.TrimPrefix(strings.ReplaceAll(*id, "-", "_"), "k"))
	fmt.Fprintf(stdout, "# A new AES-256 key. Keep it secret, and keep a copy where a backup of Redis is not:\n")
	fmt.Fprintf(stdout, "# without it the encrypted data cannot be read. In the config:\n")
	fmt.Fprintf(stdout, "#   encryption: {keys: [{id: %s, key_env: %s}]}\n", *id, env)
	fmt.Fprintf(stdout, "%s=%s\n", env, base64.StdEncoding.EncodeToString(b))
	return 0
}
