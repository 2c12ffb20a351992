package telegram

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/go-telegram/bot/models"
	"github.com/tiltas/tiltas/internal/remote"
)

// SecretHeader carries the webhook secret Telegram was given in setWebhook.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

func hashSecret(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// WebhookHandler receives updates in webhook mode. It takes POST only (405), checks the secret
// header in constant time and answers 401 without reading the body on a mismatch, refuses
// bodies over MaxBody (413), and answers 200 only once the update is in the inbox, so that
// Telegram delivers it again if the push failed. The library's own handler is not used: it
// answers 200 to a wrong secret and keeps updates in memory only.
func (a *Adapter) WebhookHandler() http.Handler {
	return http.HandlerFunc(a.serveWebhook)
}

func (a *Adapter) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// Hashing first makes the comparison take the same time whatever the header's length.
	got := hashSecret(r.Header.Get(SecretHeader))
	if a.cfg.WebhookSecret == "" || subtle.ConstantTimeCompare(got[:], a.secret[:]) != 1 {
		if a.deps.Gate != nil {
			if wait := a.deps.Gate.Refuse("telegram.bad_secret", remote.IP(r)); wait > 0 {
				remote.TooMany(w, wait)
				return
			}
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var u models.Update
	if err := json.Unmarshal(body, &u); err != nil || u.ID == 0 {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if in, ok := a.convert(r.Context(), &u); ok {
		if _, err := a.deps.Inbox.Push(r.Context(), in); err != nil {
			a.log.Error("webhook update not queued; Telegram will send it again", "update", u.ID, "err", err)
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}
