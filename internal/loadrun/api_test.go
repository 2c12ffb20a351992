//go:build loadrun

package loadrun

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
)

// apiToken is the police register's token in area.
func apiToken(area string) string { return "loadrun-api-token-" + area + "-0123456789" }

// apiConcern is one concern raised through the integration API: its Idempotency-Key, and how the
// client fared.
type apiConcern struct {
	N    int
	Case string
	Area string
	Key  string

	mu       sync.Mutex
	Status   int    // the last answer's status
	ID       string // the alert's ID in the 201
	Tries    int
	Refused  int // 409s heard (the key in use by a request on the killed replica)
	Failures int // connection errors and 5xx
}

// apiBurst raises n concerns through the integration API of the replica that is about to be
// killed (the inbound leader), paced so that some are in flight when it dies, from the four areas'
// police registers in turn. A client that gets no
// answer, or a 5xx, retries with the same Idempotency-Key at the next replica; a 409 it retries
// after Retry-After, as the draft says.
func (r *run) apiBurst(ctx context.Context, n int) {
	owner, _ := r.rc.Get(ctx, "tiltas:lock:inbound").Result()
	first := 0
	for i, rep := range r.replicas {
		if rep.owner() == owner {
			first = i
		}
	}
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for i := range n {
		c := &apiConcern{N: i + 1, Case: fmt.Sprintf("K-2026-%d", 9001+i), Area: areas[i%len(areas)], Key: fmt.Sprintf("register-%d", 9001+i)}
		r.api = append(r.api, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleepCtx(ctx, time.Duration(i)*25*time.Millisecond)
			r.postUntilRaised(ctx, client, c, first)
		}()
	}
	wg.Wait()
}

func (r *run) postUntilRaised(ctx context.Context, client *http.Client, c *apiConcern, at int) {
	body := fmt.Sprintf(`{"case":%q,"category":"violence","urgency":"urgent","description":"Policijos registras: vaikas buvo įvykio vietoje"}`, c.Case)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rep := r.replicas[at%len(r.replicas)]
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+rep.addr+"/api/v1/alerts", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiToken(c.Area))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", c.Key)
		resp, err := client.Do(req)
		c.mu.Lock()
		c.Tries++
		c.mu.Unlock()
		if err != nil {
			c.mu.Lock()
			c.Failures++
			c.mu.Unlock()
			at++ // that replica is gone: the next
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		var v struct {
			ID string `json:"id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		c.mu.Lock()
		c.Status = resp.StatusCode
		c.mu.Unlock()
		switch {
		case resp.StatusCode == http.StatusCreated:
			c.mu.Lock()
			c.ID = v.ID
			c.mu.Unlock()
			return
		case resp.StatusCode == http.StatusConflict:
			c.mu.Lock()
			c.Refused++
			c.mu.Unlock()
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			sleepCtx(ctx, time.Duration(max(wait, 1))*time.Second)
		case resp.StatusCode >= 500:
			c.mu.Lock()
			c.Failures++
			c.mu.Unlock()
			at++
			sleepCtx(ctx, 100*time.Millisecond)
		default:
			r.d.problem("api concern %s: status %d", c.Case, resp.StatusCode)
			return
		}
	}
	r.d.problem("api concern %s: never raised", c.Case)
}

// apiOutcome reads, from Redis, how many alerts each API concern became: lost are those with
// none, twice those with more than one.
func (r *run) apiOutcome(ctx context.Context) (lost, twice []string, answered, retried, refused int) {
	per := map[string]int{}
	err := bot.Each(ctx, r.store, "alert/", func(_ string, a *alerts.Alert) error {
		if a.Integration != "" {
			per[a.Case]++
		}
		return nil
	})
	if err != nil {
		r.t.Errorf("read the alerts: %v", err)
	}
	for _, c := range r.api {
		switch n := per[c.Case]; {
		case n == 0 || c.ID == "":
			lost = append(lost, c.Case)
		case n > 1:
			twice = append(twice, c.Case)
		}
		if c.Tries > 1 {
			retried++
		} else if c.ID != "" {
			answered++
		}
		refused += c.Refused
	}
	return lost, twice, answered, retried, refused
}
