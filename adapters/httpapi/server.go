package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Check is one readiness check: Redis reachable, a platform connected.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Server routes Tiltas's HTTP endpoints.
type Server struct {
	mux    *http.ServeMux
	mu     sync.Mutex
	checks []Check
}

// NewServer returns a server with /healthz and /readyz.
func NewServer() *Server {
	s := &Server{mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.ready)
	return s
}

// Mux returns the router, for adapters to mount their routes on.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// AddCheck adds a readiness check.
func (s *Server) AddCheck(c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, c)
}

// Checks runs every readiness check and returns each one's result by name (nil: ok).
func (s *Server) Checks(ctx context.Context) map[string]error {
	s.mu.Lock()
	checks := append([]Check(nil), s.checks...)
	s.mu.Unlock()
	out := map[string]error{}
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		out[c.Name] = c.Fn(cctx)
		cancel()
	}
	return out
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := append([]Check(nil), s.checks...)
	s.mu.Unlock()
	out := map[string]string{}
	status := http.StatusOK
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		err := c.Fn(ctx)
		cancel()
		if err != nil {
			out[c.Name] = "failing"
			status = http.StatusServiceUnavailable
		} else {
			out[c.Name] = "ok"
		}
	}
	state := "ok"
	if status != http.StatusOK {
		state = "unavailable"
	}
	writeJSON(w, status, map[string]any{"status": state, "checks": out})
}

// Serve listens on addr until ctx ends, then shuts down gracefully within 5 seconds.
func Serve(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "addr", addr, "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
