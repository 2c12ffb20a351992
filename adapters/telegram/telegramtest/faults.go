package telegramtest

import (
	"fmt"
	"net/http"
	"time"
)

// Fault makes matching valid requests fail with Err instead of being served.
// Faults apply after validation and before chat state and rate limits, in
// the order they were injected.
type Fault struct {
	Method string // "" matches every method
	ChatID int64  // 0 matches every request; otherwise requests whose chat_id is ChatID
	// Times is how many matching requests fail. With Times 0 the fault
	// lasts until Until on the server clock, or forever if Until is zero.
	Times int
	Until time.Time
	Err   Error // Description defaults from Code, e.g. "Too Many Requests: retry after 5"
}

// Inject adds a fault.
func (s *Server) Inject(f Fault) {
	if f.Err.Description == "" {
		f.Err.Description = defaultDescription(f.Err.Code, f.Err.RetryAfter)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// FailNext makes the next n requests to chatID fail with code and
// description (default from code); retryAfter > 0 is sent as
// parameters.retry_after.
func (s *Server) FailNext(chatID int64, n, code int, description string, retryAfter int) {
	s.Inject(Fault{ChatID: chatID, Times: n, Err: Error{Code: code, Description: description, RetryAfter: retryAfter}})
}

// FailMethod makes the next n calls of method ("" for any) fail with code,
// typically a 5xx.
func (s *Server) FailMethod(method string, n, code int) {
	s.Inject(Fault{Method: method, Times: n, Err: Error{Code: code}})
}

// FailUntil makes calls of method ("" for any) fail with code until the
// server clock reaches until.
func (s *Server) FailUntil(method string, until time.Time, code int) {
	s.Inject(Fault{Method: method, Until: until, Err: Error{Code: code}})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault returns the error of the first fault matching the request and
// uses it up. Callers hold s.mu.
func (s *Server) takeFault(method string, chatID int64, hasChat bool, now time.Time) *Error {
	kept := s.faults[:0]
	var hit *Error
	for _, f := range s.faults {
		expired := f.Times == 0 && !f.Until.IsZero() && !now.Before(f.Until)
		if expired {
			continue
		}
		matches := (f.Method == "" || f.Method == method) && (f.ChatID == 0 || hasChat && f.ChatID == chatID)
		if hit == nil && matches {
			e := f.Err
			hit = &e
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					continue
				}
			}
		}
		kept = append(kept, f)
	}
	s.faults = kept
	return hit
}

func defaultDescription(code, retryAfter int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 409:
		return "Conflict"
	case 429:
		return fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)
	}
	return http.StatusText(code)
}
