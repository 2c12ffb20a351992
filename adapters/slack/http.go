package slack

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/remote"
)

// pushTimeout bounds how long a request waits for the Inbox, so that Slack hears back within
// its three seconds; a request that times out gets 500, and Slack's retry is deduplicated.
const pushTimeout = 2 * time.Second

// Handler serves HTTP mode's three request URLs: EventsPath (Events API), InteractivityPath
// (button presses) and CommandsPath (slash commands). Mount it on the public listener as is,
// or mount the three handlers separately.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(EventsPath, a.EventsHandler())
	mux.Handle(InteractivityPath, a.InteractivityHandler())
	mux.Handle(CommandsPath, a.CommandsHandler())
	return mux
}

// EventsHandler receives the Events API: it answers url_verification, and queues direct
// messages and mentions. A retried delivery (X-Slack-Retry-Num) carries the same event_id and is
// queued once.
func (a *Adapter) EventsHandler() http.Handler {
	return a.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		var cb eventCallback
		if err := json.Unmarshal(body, &cb); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if cb.Type == "url_verification" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"challenge": cb.Challenge})
			return
		}
		in, ok, err := a.fromEvent(r.Context(), body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if n := r.Header.Get("X-Slack-Retry-Num"); n != "" {
			a.log.Info("slack retried an event", "event", cb.EventID, "retry", n, "reason", r.Header.Get("X-Slack-Retry-Reason"))
		}
		a.accept(w, r, in, ok)
	})
}

// InteractivityHandler receives button presses (block_actions) and queues them; the answer is
// an empty 200, and the outcome comes afterwards as an edit and an ephemeral toast.
func (a *Adapter) InteractivityHandler() http.Handler {
	return a.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		form, err := url.ParseQuery(string(body))
		if err != nil || form.Get("payload") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		in, ok, err := a.fromInteraction([]byte(form.Get("payload")))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		a.accept(w, r, in, ok)
	})
}

// CommandsHandler receives slash commands and queues them; the answer is an empty 200 and the
// reply comes as a message.
func (a *Adapter) CommandsHandler() http.Handler {
	return a.verified(func(w http.ResponseWriter, r *http.Request, body []byte) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if form.Get("ssl_check") == "1" {
			return
		}
		in, ok := a.fromCommand(r.Context(), commandFromForm(form))
		a.accept(w, r, in, ok)
	})
}

// accept queues in (when ok) and answers 200, or 500 when the Inbox failed, so that Slack
// tries again.
func (a *Adapter) accept(w http.ResponseWriter, r *http.Request, in bot.Incoming, ok bool) {
	if !ok {
		w.WriteHeader(http.StatusOK)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), pushTimeout)
	defer cancel()
	if err := a.push(ctx, in); err != nil {
		http.Error(w, "unavailable", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (a *Adapter) push(ctx context.Context, in bot.Incoming) error {
	fresh, err := a.deps.Inbox.Push(ctx, in)
	if err != nil {
		a.log.Error("slack update not queued", "update", in.ID, "kind", in.Kind, "err", err)
		return err
	}
	if !fresh {
		a.log.Debug("slack update seen before", "update", in.ID)
	}
	return nil
}

// verified checks a request before anything reads it as Slack's: POST, the signature headers
// and a timestamp within five minutes, a body within MaxBody (413), and the v0 signature over the
// raw body (401). Only then does next parse it.
func (a *Adapter) verified(next func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		sv, err := slackgo.NewSecretsVerifier(r.Header, a.cfg.SigningSecret)
		if err != nil {
			a.refuse(w, r, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if _, err := sv.Write(body); err != nil {
			a.refuse(w, r, err)
			return
		}
		if err := sv.Ensure(); err != nil {
			a.refuse(w, r, err)
			return
		}
		next(w, r, body)
	})
}

func (a *Adapter) refuse(w http.ResponseWriter, r *http.Request, err error) {
	reason := "invalid_signature"
	switch {
	case errors.Is(err, slackgo.ErrMissingHeaders):
		reason = "missing_headers"
	case errors.Is(err, slackgo.ErrExpiredTimestamp):
		reason = "stale_timestamp"
	case errors.Is(err, slackgo.ErrInvalidConfiguration):
		reason = "no_signing_secret"
	}
	if a.deps.Gate != nil {
		if wait := a.deps.Gate.Refuse("slack."+reason, remote.IP(r)); wait > 0 {
			remote.TooMany(w, wait)
			return
		}
	}
	http.Error(w, "unauthorized", http.StatusUnauthorized)
}
