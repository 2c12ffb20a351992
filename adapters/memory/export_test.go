package memory

import "time"

// SetNow replaces the limiter's clock, so that tests see exact reservation times.
func SetNow(l *Limiter, now func() time.Time) { l.now = now }
