// Package httpapi serves Tiltas over HTTP: health and readiness, Prometheus metrics, the
// integration API that lets an institution's own system raise alerts, and the routes other
// adapters mount (Telegram and Slack webhooks, calendar feeds).
package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/bot/alerts"
	"github.com/tiltas/tiltas/internal/remote"
)

// Alerts is what the integration API needs of the alerts flow.
type Alerts interface {
	Raise(ctx context.Context, in alerts.Input) (alerts.Alert, error)
	Get(ctx context.Context, id string) (alerts.Alert, error)
	// NewID reserves the ID of an alert not raised yet: an Idempotency-Key is bound to it
	// before the alert is raised, so that a retry after a crash raises that alert and no other.
	NewID(ctx context.Context) (string, error)
}

// Integration is one outside system with its bearer token.
type Integration struct {
	ID    string
	Token string
}

// API is the integration API.
type API struct {
	alerts  Alerts
	records bot.Records
	log     *slog.Logger
	maxBody int64
	tokens  []tokenHash
	// Refused, when set, records a refused request in the audit stream (cmd passes the
	// engine's Refused): an unknown token, or another integration's alert.
	Refused func(ctx context.Context, actor, record, reason string)
	// Gate takes requests with a wrong token (nil: they are only answered 401).
	Gate bot.Gate
	// Clock dates Idempotency-Key leases (the system clock when nil); Lease is how long a
	// request that holds a key may take before another may take it over (30 s when zero).
	Clock bot.Clock
	Lease time.Duration
}

type tokenHash struct {
	id   string
	hash [32]byte
}

// NewAPI returns the integration API. Tokens are kept hashed, and compared in constant time.
func NewAPI(a Alerts, records bot.Records, integrations []Integration, maxBody int64, log *slog.Logger) *API {
	api := &API{alerts: a, records: records, log: log, maxBody: maxBody}
	for _, in := range integrations {
		api.tokens = append(api.tokens, tokenHash{id: in.ID, hash: sha256.Sum256([]byte(in.Token))})
	}
	if api.maxBody <= 0 {
		api.maxBody = 64 << 10
	}
	if api.log == nil {
		api.log = slog.New(slog.DiscardHandler)
	}
	return api
}

// Register mounts the API's routes on mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/alerts", a.alertsRoot)
	mux.HandleFunc("/api/v1/alerts/{id}", a.alertOne)
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	var e apiError
	e.Error.Code, e.Error.Message, e.Error.Field = code, msg, field
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// authenticate returns the integration whose token the request carries, comparing against
// every token so that timing reveals nothing.
func (a *API) authenticate(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	found := ""
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], t.hash[:]) == 1 {
			found = t.id
		}
	}
	return found, found != ""
}

type newAlert struct {
	Case        *string `json:"case"`
	Category    *string `json:"category"`
	Urgency     *string `json:"urgency"`
	Description *string `json:"description"`
	Phoned      bool    `json:"phoned"`
}

// AlertView is what the API tells about an alert: state and times, no free text.
type AlertView struct {
	ID             string      `json:"id"`
	State          string      `json:"state"`
	Case           string      `json:"case"`
	Category       string      `json:"category"`
	Urgency        string      `json:"urgency"`
	Created        time.Time   `json:"created"`
	AcknowledgedAt *time.Time  `json:"acknowledged_at,omitempty"`
	ResolvedAt     *time.Time  `json:"resolved_at,omitempty"`
	Timeline       []EventView `json:"timeline"`
	// Unreachable are the IDs of the people the alert was meant for who have no chat account:
	// they were not told (the coordinators were, when that left nobody).
	Unreachable []string `json:"unreachable"`
}

// EventView is one timeline entry.
type EventView struct {
	At   time.Time `json:"at"`
	Kind string    `json:"kind"`
}

func view(al alerts.Alert) AlertView {
	v := AlertView{ID: al.ID, State: al.State, Case: al.Case, Category: al.Category, Urgency: al.Urgency, Created: al.Created.UTC(), Timeline: []EventView{},
		Unreachable: append([]string{}, al.Unreachable()...)}
	if !al.AckAt.IsZero() {
		t := al.AckAt.UTC()
		v.AcknowledgedAt = &t
	}
	if !al.ResolvedAt.IsZero() {
		t := al.ResolvedAt.UTC()
		v.ResolvedAt = &t
	}
	for _, e := range al.Timeline {
		kind := e.Kind
		if strings.HasPrefix(kind, "entered:") {
			kind = "escalation_step"
		}
		v.Timeline = append(v.Timeline, EventView{At: e.At.UTC(), Kind: kind})
	}
	return v
}

var reIdemKey = regexp.MustCompile(`^[\x21-\x7e]{1,200}$`)

// idempotent is what an Idempotency-Key holds (draft-ietf-httpapi-idempotency-key-header): the
// request's body, the alert it raises (bound before the alert is raised), whether that is done,
// and, while it is not, until when the request that holds the key may finish it.
type idempotent struct {
	BodyHash string    `json:"body_hash"`
	Alert    string    `json:"alert,omitempty"`
	Done     bool      `json:"done,omitempty"`
	Until    time.Time `json:"until,omitzero"`
}

// idemTTL is how long a key is remembered.
const idemTTL = 24 * time.Hour

// gate authenticates the request and checks its method; it answers and returns false when the
// request goes no further.
func (a *API) gate(w http.ResponseWriter, r *http.Request, method string) (string, bool) {
	integration, ok := a.authenticate(r)
	if !ok {
		if a.Gate != nil {
			if wait := a.Gate.Refuse("api.bad_token", remote.IP(r)); wait > 0 {
				remote.TooMany(w, wait)
				return "", false
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="tiltas"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or unknown bearer token", "")
		return "", false
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+method, "")
		return "", false
	}
	return integration, true
}

func (a *API) alertsRoot(w http.ResponseWriter, r *http.Request) {
	integration, ok := a.gate(w, r, http.MethodPost)
	if !ok {
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json", "")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "too_large", "the body is too large", "")
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request", "cannot read the body", "")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key != "" && !reIdemKey.MatchString(key) {
		writeError(w, http.StatusBadRequest, "invalid_request", "Idempotency-Key must be 1-200 visible ASCII characters", "Idempotency-Key")
		return
	}
	var in newAlert
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err = dec.Decode(&in)
	if err == nil {
		// One JSON object and nothing after it: Decode stops at the object's end, and More
		// does not see a stray "]" or "}".
		if _, next := dec.Token(); next != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	if err != nil {
		msg := "the body is not a JSON object of the documented shape"
		var ute *json.UnmarshalTypeError
		field := ""
		if errors.As(err, &ute) {
			field = ute.Field
			msg = "wrong type for " + ute.Field
		} else if err != nil && strings.Contains(err.Error(), "unknown field") {
			msg = err.Error()
		}
		writeError(w, http.StatusBadRequest, "invalid_json", msg, field)
		return
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"case", in.Case}, {"category", in.Category}, {"urgency", in.Urgency}, {"description", in.Description}} {
		if f.v == nil || strings.TrimSpace(*f.v) == "" {
			writeError(w, http.StatusBadRequest, "invalid_request", f.name+" is required", f.name)
			return
		}
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	input := alerts.Input{Case: strings.ToUpper(strings.TrimSpace(*in.Case)), Category: *in.Category, Urgency: *in.Urgency,
		Text: strings.TrimSpace(*in.Description), Phoned: in.Phoned, Integration: integration}
	if key == "" {
		a.raise(w, r, input, nil)
		return
	}
	ks := sha256.Sum256([]byte(integration + "\x00" + key))
	idem := &reservation{key: "idem/" + hex.EncodeToString(ks[:])}
	if !a.reserve(w, r, idem, bodyHash) {
		return
	}
	if idem.rec.Alert == "" {
		id, err := a.alerts.NewID(r.Context())
		if err == nil {
			idem.rec.Alert = id
			err = a.keep(r.Context(), idem)
		}
		if err != nil {
			a.log.Error("idempotency key not bound", "integration", integration, "err", err)
			writeError(w, http.StatusInternalServerError, "internal", "try again later", "")
			return
		}
	}
	input.ID = idem.rec.Alert
	a.raise(w, r, input, idem)
}

// reservation is an Idempotency-Key this request holds.
type reservation struct {
	key string
	rec idempotent
	ver int64
}

func (a *API) now() time.Time {
	if a.Clock == nil {
		return time.Now()
	}
	return a.Clock.Now()
}

func (a *API) lease() time.Duration {
	if a.Lease <= 0 {
		return 30 * time.Second
	}
	return a.Lease
}

// reserve takes the Idempotency-Key for this request, atomically, as a lease that runs out if the
// process holding it dies. It answers and returns false when the request goes no further: the same
// key with another body (422), a request with the key still in progress (409 with Retry-After),
// or one that is done (201 with its alert).
func (a *API) reserve(w http.ResponseWriter, r *http.Request, res *reservation, bodyHash string) bool {
	ctx := r.Context()
	for range 5 {
		now := a.now()
		res.rec = idempotent{BodyHash: bodyHash, Until: now.Add(a.lease())}
		ver, err := a.records.Write(ctx, bot.Write{Key: res.key, Data: mustJSON(res.rec), Version: 0, TTL: idemTTL})
		if err == nil {
			res.ver = ver
			return true
		}
		if !errors.Is(err, bot.ErrConflict) {
			break
		}
		prev, pver, err := bot.Load[idempotent](ctx, a.records, res.key)
		if errors.Is(err, bot.ErrNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			break
		}
		switch {
		case prev.BodyHash != bodyHash:
			writeError(w, http.StatusUnprocessableEntity, "idempotency_key_reused", "this Idempotency-Key was used with another body", "Idempotency-Key")
			return false
		case prev.Done:
			if al, err := a.alerts.Get(ctx, prev.Alert); err == nil {
				writeJSON(w, http.StatusCreated, view(al))
				return false
			}
		case now.Before(prev.Until):
			wait := int(math.Ceil(prev.Until.Sub(now).Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(wait, 1)))
			writeError(w, http.StatusConflict, "idempotency_key_in_use", "a request with this Idempotency-Key is in progress; retry later", "Idempotency-Key")
			return false
		}
		// The request that held the key gave up or died: take it over, with the alert it bound.
		prev.Until = now.Add(a.lease())
		ver, err = a.records.Write(ctx, bot.Write{Key: res.key, Data: mustJSON(prev), Version: pver, TTL: idemTTL})
		if err == nil {
			res.rec, res.ver = prev, ver
			return true
		}
		if !errors.Is(err, bot.ErrConflict) {
			break
		}
	}
	writeError(w, http.StatusInternalServerError, "internal", "try again later", "")
	return false
}

// keep stores the reservation as it is now; someone taking it over meanwhile is a conflict.
func (a *API) keep(ctx context.Context, res *reservation) error {
	ver, err := a.records.Write(ctx, bot.Write{Key: res.key, Data: mustJSON(res.rec), Version: res.ver, TTL: idemTTL})
	if err == nil {
		res.ver = ver
	}
	return err
}

// raise raises the alert and answers; with a reservation, the key is marked done (or freed when
// the body was invalid, so that a corrected request may use it).
func (a *API) raise(w http.ResponseWriter, r *http.Request, in alerts.Input, res *reservation) {
	ctx := r.Context()
	al, err := a.alerts.Raise(ctx, in)
	if errors.Is(err, bot.ErrInvalid) {
		if res != nil {
			if _, derr := a.records.Write(ctx, bot.Write{Key: res.key, Version: res.ver}); derr != nil && !errors.Is(derr, bot.ErrConflict) {
				a.log.Error("idempotency key not freed", "integration", in.Integration, "err", derr)
			}
		}
		field := ""
		for _, f := range []string{"case", "category", "urgency", "description"} {
			if strings.Contains(err.Error(), f) {
				field = f
			}
		}
		writeError(w, http.StatusBadRequest, "invalid_request", "invalid "+field, field)
		return
	}
	if err != nil {
		// The key keeps its lease and its alert ID: a retry once the lease has run out raises
		// that alert, never a second one.
		a.log.Error("raise alert failed", "integration", in.Integration, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "try again later", "")
		return
	}
	if res != nil {
		res.rec.Done, res.rec.Until = true, time.Time{}
		if err := a.keep(ctx, res); err != nil {
			a.log.Error("idempotency key not marked done", "integration", in.Integration, "err", err)
		}
	}
	writeJSON(w, http.StatusCreated, view(al))
}

var reAlertID = regexp.MustCompile(`^[A-Z][0-9]+$`)

func (a *API) alertOne(w http.ResponseWriter, r *http.Request) {
	integration, ok := a.gate(w, r, http.MethodGet)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if !reAlertID.MatchString(id) {
		writeError(w, http.StatusBadRequest, "invalid_request", "not an alert id", "id")
		return
	}
	al, err := a.alerts.Get(r.Context(), id)
	if err == nil && al.Integration != integration {
		a.refused(r.Context(), "integration:"+integration, "alert/"+id, "not_own_alert")
	}
	if err != nil || al.Integration != integration {
		writeError(w, http.StatusNotFound, "not_found", "no such alert raised by this integration", "")
		return
	}
	writeJSON(w, http.StatusOK, view(al))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// refused records a refused request, when the API was given a way to.
func (a *API) refused(ctx context.Context, actor, record, reason string) {
	if a.Refused != nil {
		a.Refused(ctx, actor, record, reason)
	}
}
