//go:build loadrun

package loadrun

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// freePort returns a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// redisServer is a redis-server process with AOF persistence in its own directory, so that a
// graceful restart on the same port and directory keeps everything.
type redisServer struct {
	t    *testing.T
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(t *testing.T, dir string) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not on PATH: install the Debian package redis-server (scripts/loadrun does), then run again")
	}
	r := &redisServer{t: t, dir: dir, port: freePort(t)}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--dir", r.dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
		"--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	deadline := time.Now().Add(20 * time.Second)
	for !r.ping() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.dir, "redis.log"))
			r.t.Fatalf("redis-server on port %d did not answer:\n%s", r.port, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *redisServer) ping() bool {
	out, err := exec.Command("redis-cli", "-p", fmt.Sprint(r.port), "ping").Output()
	return err == nil && strings.TrimSpace(string(out)) == "PONG"
}

// restart shuts the server down gracefully (SHUTDOWN writes and syncs the AOF) and starts it
// again on the same port and directory. It returns how long Redis was unreachable.
func (r *redisServer) restart() time.Duration {
	r.t.Helper()
	began := time.Now()
	out, err := exec.Command("redis-cli", "-p", fmt.Sprint(r.port), "shutdown").CombinedOutput()
	if err != nil && len(out) > 0 {
		r.t.Logf("redis-cli shutdown: %v: %s", err, out)
	}
	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.t.Fatal("redis-server did not stop within 30s of SHUTDOWN")
	}
	r.start()
	return time.Since(began)
}

func (r *redisServer) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
	default:
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// replica is one `tiltas serve` process.
type replica struct {
	n       int
	addr    string // http.listen
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	killed  atomic.Bool
	exitErr error

	mu      sync.Mutex
	checks  map[string]*probe // "/healthz", "/readyz"
	lastBad map[string]time.Time
}

// probe counts a replica's answers to one endpoint.
type probe struct {
	Asked, OK int
	FirstOK   time.Time
	LastOK    time.Time
}

func startReplica(t *testing.T, n int, bin, cfgPath, addr, logPath string, env []string, speed float64, start time.Time) *replica {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{n: n, addr: addr, logPath: logPath, done: make(chan struct{}),
		checks: map[string]*probe{"/healthz": {}, "/readyz": {}}, lastBad: map[string]time.Time{}}
	r.cmd = exec.Command(bin, "serve", "-c", cfgPath, "-clock-speed", fmt.Sprint(speed), "-clock-start", start.Format(time.RFC3339))
	r.cmd.Env = append(os.Environ(), env...)
	r.cmd.Stdout, r.cmd.Stderr = f, f
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start replica %d: %v", n, err)
	}
	go func() {
		r.exitErr = r.cmd.Wait()
		f.Close()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
			return
		default:
		}
		_ = r.cmd.Process.Signal(os.Interrupt)
		select {
		case <-r.done:
		case <-time.After(15 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

func (r *replica) alive() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// kill ends the process with SIGKILL: no shutdown, no lease released, nothing returned to a queue.
func (r *replica) kill() {
	r.killed.Store(true)
	_ = r.cmd.Process.Kill()
	<-r.done
}

// logLine is one JSON line of a replica's log.
type logLine map[string]any

func (r *replica) logLines() []logLine {
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		return nil
	}
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// find returns the first log line whose msg is msg.
func (r *replica) find(msg string) logLine {
	for _, l := range r.logLines() {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// origin is when the replica's accelerated clock started, from the line it logs right after.
func (r *replica) origin() (time.Time, bool) {
	l := r.find("the bot's clock is accelerated: for load and fault runs only")
	if l == nil {
		return time.Time{}, false
	}
	s, _ := l["time"].(string)
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// owner is the replica's ID in leases.
func (r *replica) owner() string {
	if l := r.find("tiltas serving"); l != nil {
		s, _ := l["replica"].(string)
		return s
	}
	return ""
}

// errorsLogged counts the log lines at level ERROR, by message.
func (r *replica) errorsLogged() map[string]int {
	out := map[string]int{}
	for _, l := range r.logLines() {
		if l["level"] == "ERROR" {
			msg, _ := l["msg"].(string)
			out[msg]++
		}
	}
	return out
}

var probeClient = &http.Client{Timeout: 2 * time.Second}

// check asks one endpoint and records the answer.
func (r *replica) check(path string) bool {
	resp, err := probeClient.Get("http://" + r.addr + path)
	ok := false
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ok = resp.StatusCode == http.StatusOK
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.checks[path]
	p.Asked++
	if ok {
		p.OK++
		if p.FirstOK.IsZero() {
			p.FirstOK = now
		}
		p.LastOK = now
	} else {
		r.lastBad[path] = now
	}
	return ok
}

func (r *replica) probes() (health, ready probe) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return *r.checks["/healthz"], *r.checks["/readyz"]
}

// waitReady waits until /readyz answers 200 (Redis reachable, both platforms connected).
func (r *replica) waitReady(ctx context.Context) error {
	for {
		if r.check("/healthz") && r.check("/readyz") {
			return nil
		}
		if !r.alive() {
			return fmt.Errorf("replica %d exited: %v (log %s)", r.n, r.exitErr, r.logPath)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica %d not ready: %w", r.n, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// balancer spreads Slack's signed requests over the replicas round-robin, as a load balancer in
// front of them would, passing a request on to the next replica when one does not answer.
type balancer struct {
	replicas []*replica
	next     atomic.Uint64
	client   *http.Client
	// Retried counts requests a replica did not take (connection refused, 5xx) and another did.
	Retried, Failed atomic.Int64
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	start := b.next.Add(1)
	for i := range uint64(len(b.replicas)) {
		r := b.replicas[(start+i)%uint64(len(b.replicas))]
		if !r.alive() {
			continue
		}
		out, err := http.NewRequestWithContext(req.Context(), req.Method, "http://"+r.addr+req.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			continue
		}
		out.Header = req.Header.Clone()
		resp, err := b.client.Do(out)
		if err != nil {
			b.Retried.Add(1)
			continue
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			b.Retried.Add(1)
			continue
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(data)
		return
	}
	b.Failed.Add(1)
	http.Error(w, "no replica answered", http.StatusBadGateway)
}
