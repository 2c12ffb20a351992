// Package remote holds what every HTTP entry point does alike with a caller that failed to
// authenticate: where it came from, and the answer that makes it wait.
package remote

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"time"
)

// IP is the address a request came from: the connection's, not a header's, which anyone can
// write.
func IP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// TooMany answers 429 with Retry-After in whole seconds, and nothing else.
func TooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(int(math.Ceil(wait.Seconds())), 1)))
	http.Error(w, "too many failed requests; retry later", http.StatusTooManyRequests)
}
