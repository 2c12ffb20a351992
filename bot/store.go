package bot

import (
	"context"
	"time"
)

// Write is one change to a record, applied atomically with its index changes. Version is the
// version the caller read: 0 means the record must not exist yet, Any skips the check. Data nil
// deletes the record.
type Write struct {
	Key     string
	Data    []byte
	Version int64
	// TTL expires the record; zero keeps it until deleted (retention is the purge job's work).
	TTL   time.Duration
	Index []IndexOp
}

// Any is the Version of a write that does not care what it replaces.
const Any int64 = -1

// IndexOp adds Member to (or removes it from) a sorted index.
type IndexOp struct {
	Index  string
	Member string
	Score  float64
	Remove bool
}

// Records keeps versioned documents (alerts, visits, cases, dialogs) and sorted indexes of their
// IDs. Writes are compare-and-set on the version, so that two replicas handling the same record
// never lose an update. Implementations encrypt Data at rest where configured; indexes hold IDs only.
type Records interface {
	// Get returns the record's data and version, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, int64, error)
	// Write applies w if the version matches and returns the new version, or ErrConflict.
	Write(ctx context.Context, w Write) (int64, error)
	// Range returns index members with min <= score <= max, lowest first, at most limit (0: all).
	Range(ctx context.Context, index string, min, max float64, limit int) ([]string, error)
	// Scan calls fn for every record key with the prefix. Used by exports, rekeying and purges.
	Scan(ctx context.Context, prefix string, fn func(key string) error) error
}

// Marks are small expiring facts: "this update was handled", "this many wrong codes".
type Marks interface {
	// Mark sets key if unset and reports whether this call set it.
	Mark(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Count increments key, starting its expiry on the first increment, and returns the count.
	Count(ctx context.Context, key string, ttl time.Duration) (int64, error)
	// Unmark removes key.
	Unmark(ctx context.Context, key string) error
}

// Priority orders outgoing messages: urgent ones go before routine ones.
type Priority int

// Priorities.
const (
	Routine Priority = iota
	Urgent
)

// Op is what an outgoing message does.
type Op string

// Ops.
const (
	OpSend Op = "send"
	OpEdit Op = "edit"
)

// Outgoing is a message waiting for delivery. ID is its idempotency key: enqueueing an ID again
// does nothing, and a redelivered message whose send is known to have succeeded is not sent again.
type Outgoing struct {
	ID       string   `json:"id"`
	Op       Op       `json:"op"`
	To       Address  `json:"to"`
	Msg      Message  `json:"msg"`
	Priority Priority `json:"priority,omitempty"`
	// RefKey names the message for later edits: a send stores its MessageRef under it; an edit
	// changes the message stored under it.
	RefKey string `json:"ref_key,omitempty"`
	// Ref is the message an edit changes when it is known directly (a pressed button's message).
	Ref *MessageRef `json:"ref,omitempty"`
	// Person is the recipient, and Sender whom to tell if delivery fails for good.
	Person string    `json:"person,omitempty"`
	Sender string    `json:"sender,omitempty"`
	Queued time.Time `json:"queued"`
	// NotBefore holds a routine message back (quiet hours) until then.
	NotBefore time.Time `json:"not_before,omitzero"`
	// Receipt is the record that hears when the message is sent (Engine.Delivered).
	Receipt string `json:"receipt,omitempty"`
}

// Outbox accepts messages for durable delivery.
type Outbox interface {
	Enqueue(ctx context.Context, msgs ...Outgoing) error
	// Discard drops the queued messages that match picks and returns them: those held back for
	// quiet hours, waiting out a retry or not yet taken, so that what is erased meanwhile is not
	// delivered later. A message a worker has already taken may still go out. A message that
	// cannot be read (sealed with a key no longer configured) is left alone, not an error.
	Discard(ctx context.Context, match func(Outgoing) bool) ([]Outgoing, error)
}

// Delivery is an outgoing message taken by a worker.
type Delivery struct {
	Outgoing
	Attempt int
	// Handle is the queue's own reference (a stream entry ID).
	Handle string
	// Until, when set, is the last wall-clock moment a worker may start sending the delivery: the
	// queue sets it safely before the claim runs out and another worker may take the message
	// over, so that two sends never overlap. A worker still holding it later leaves it pending.
	Until time.Time
}

// DeliveryQueue is the worker's side of the outbox. A delivery that is taken and neither
// finished nor retried within the queue's claim timeout goes to another worker.
type DeliveryQueue interface {
	Outbox
	// Take waits up to block for deliveries for platform, urgent ones first.
	Take(ctx context.Context, platform Platform, max int, block time.Duration) ([]Delivery, error)
	// Done records a successful send (with its ref) and removes the message.
	Done(ctx context.Context, d Delivery, ref MessageRef) error
	// Retry puts the message back to be taken again at or after at.
	Retry(ctx context.Context, d Delivery, at time.Time) error
	// Fail drops the message for good; the reason is recorded by the caller.
	Fail(ctx context.Context, d Delivery) error
	// Sent returns the ref of a message already delivered under id, if known.
	Sent(ctx context.Context, id string) (MessageRef, bool, error)
	// Stats reports how many messages wait and how old the oldest is.
	Stats(ctx context.Context) (depth int64, oldest time.Duration, err error)
}

// Limiter spaces sends to a platform's limits.
type Limiter interface {
	// Reserve records a send (op) at the earliest allowed moment and returns how long to wait
	// until then (zero: now). When that moment is more than maxWait away, nothing is recorded (a
	// slot kept for a message that goes back to the queue would be wasted) and ok is false.
	Reserve(ctx context.Context, to Address, op Op, maxWait time.Duration) (wait time.Duration, ok bool, err error)
	// Block keeps back, until the platform's "retry after" d has passed, the sends it concerns:
	// those PausedTogether names with a send of op to the conversation, on every replica.
	Block(ctx context.Context, to Address, op Op, d time.Duration) error
	// Held is how long a "retry after" still holds a send of op to the conversation back (zero:
	// not at all). A send that waited for its slot asks before it goes: a 429 may have come in
	// meanwhile, here or on another replica.
	Held(ctx context.Context, to Address, op Op) (time.Duration, error)
	// Hold keeps the conversation's next send back by its window (plus the margin) from now, on
	// every replica, where the conversation allows one send per window (a chat, a Slack
	// channel). A send that goes out later than its reserved moment (Redis slow to answer, as
	// while it restarts) calls it first, so that the send reserved after it, which asks Held
	// before it goes, still keeps its distance.
	Hold(ctx context.Context, to Address, op Op) error
}

// Timer is a durable one-off timer. ID makes scheduling idempotent (scheduling the same ID again
// moves it) and makes its effect happen once.
type Timer struct {
	ID   string    `json:"id"`
	Due  time.Time `json:"due"`
	Kind string    `json:"kind"`
	Ref  string    `json:"ref,omitempty"`
	Arg  string    `json:"arg,omitempty"`
}

// Timers schedules and cancels one-off timers.
type Timers interface {
	Schedule(ctx context.Context, ts ...Timer) error
	Cancel(ctx context.Context, ids ...string) error
	// Scheduled returns those of ids that are scheduled (claimed ones included), as scheduled,
	// so that the engine can tell a missing or moved timer from one in place.
	Scheduled(ctx context.Context, ids ...string) (map[string]Timer, error)
}

// ClaimedTimer is a due timer held under a lease by one worker.
type ClaimedTimer struct {
	Timer
	Lease string
}

// TimerQueue is the runner's side of the timers. A claimed timer whose lease passes without
// Complete is claimed again by someone else.
type TimerQueue interface {
	Timers
	Claim(ctx context.Context, now time.Time, max int, lease time.Duration) ([]ClaimedTimer, error)
	Complete(ctx context.Context, t ClaimedTimer) error
	// Next returns when the earliest timer is due (ok false when there is none).
	Next(ctx context.Context) (time.Time, bool, error)
}

// AuditEvent is one entry of the append-only audit stream: IDs, kinds and times, never text.
type AuditEvent struct {
	// ID, when set, makes the event idempotent: appending an ID again (a change's effects applied
	// twice) records nothing. Derived from the record and the change, never random.
	ID     string    `json:"id,omitempty"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`            // person ID, "system" or an integration ID
	Kind   string    `json:"kind"`             // e.g. alert.created, case.shared, access.refused
	Record string    `json:"record,omitempty"` // e.g. alert/A7, visit/V3
	Case   string    `json:"case,omitempty"`   // case code
	To     string    `json:"to,omitempty"`     // person a share went to
	Reason string    `json:"reason,omitempty"` // a code such as need_to_know, not_linked
}

// Audit is the append-only audit stream.
type Audit interface {
	// Append records e; an event whose ID was appended before (within AuditIDTTL) is dropped.
	Append(ctx context.Context, e AuditEvent) error
	// Range calls fn for events with since <= At < until, oldest first.
	Range(ctx context.Context, since, until time.Time, fn func(AuditEvent) error) error
	// Trim drops the events recorded before before (the audit retention), and says how many.
	Trim(ctx context.Context, before time.Time) (int64, error)
}

// AuditIDTTL is how long an audit store remembers an event ID it recorded: far longer than any
// change waits for its effects to be applied (the reconcile pass runs every minute).
const AuditIDTTL = 30 * 24 * time.Hour

// Sealer encrypts data at rest. Storage adapters pass every stored blob (record data, queued
// messages) through it, so that encryption is one layer and no flow knows about it.
type Sealer interface {
	Seal(plain []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
}

// Messenger sends to and edits messages on one chat platform. Each platform adapter implements it;
// only delivery workers call it, never flows.
type Messenger interface {
	Send(ctx context.Context, to Address, m Message) (MessageRef, error)
	Edit(ctx context.Context, ref MessageRef, m Message) error
}

// DeliveryError is how a Messenger says what went wrong: whether to try again, after how long,
// and, for a group upgraded to a supergroup, where it went. Unwrap gives the platform's error.
type DeliveryError struct {
	// Permanent failures (blocked, chat not found, token revoked) are not retried.
	Permanent bool
	// Reason is a code: blocked, chat_not_found, unauthorized, invalid, rate_limited, unavailable.
	Reason     string
	RetryAfter time.Duration
	MigrateTo  string
	Err        error
}

func (e *DeliveryError) Error() string {
	s := "delivery: " + e.Reason
	if e.RetryAfter > 0 {
		s += " (retry after " + e.RetryAfter.String() + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Inbound is an incoming update taken from the Inbox by its processor.
type Inbound struct {
	Incoming
	Handle string
	// Forget, set before Done, drops the update's seen mark too (Response.Forget).
	Forget bool `json:"-"`
}

// Inbox is the durable queue of incoming updates. Adapters push what platforms deliver (a
// webhook answers 200 only after Push returns), so that a crash loses no update; an ID seen
// before is handed out no more than once, so that a platform's redelivery is handled once.
type Inbox interface {
	// Push queues in unless its ID is known to have been handed out before; it reports whether
	// it queued it. A repeat is handed out no more than once either way.
	Push(ctx context.Context, in Incoming) (bool, error)
	// PushAll queues a batch (one poll's updates) in one go, in order. An update among them
	// pushed before is still handed out once: it may be dropped here or when taken.
	PushAll(ctx context.Context, ins []Incoming) error
	// Pull waits up to block for queued updates, oldest first, including updates a dead
	// processor took and never finished.
	Pull(ctx context.Context, max int, block time.Duration) ([]Inbound, error)
	// Done removes a handled update.
	Done(ctx context.Context, in Inbound) error
}

// Gate is what becomes of requests and messages that fail authentication (a wrong API token, an
// unsigned Slack request, a wrong webhook secret, a message from someone not linked): they are
// counted and summed up by kind and minute, never one audit entry each, and a source that keeps
// failing is made to wait. Refuse notes one and returns how long its source must wait before it
// is answered again (0: answer now; more: answer 429 with Retry-After and keep nothing).
type Gate interface {
	Refuse(kind, source string) time.Duration
}

// RefusalEntry is one minute of one kind of refusal: how many, and from which sources most.
type RefusalEntry struct {
	Minute time.Time     `json:"minute"`
	Kind   string        `json:"kind"`
	Count  int64         `json:"count"`
	Top    []SourceCount `json:"top,omitempty"`
}

// SourceCount is how many refusals one source had.
type SourceCount struct {
	Source string `json:"source"`
	Count  int64  `json:"count"`
}

// RefusalLog keeps the refusal entries in a capped stream: the oldest go as new ones come.
type RefusalLog interface {
	AppendRefusals(ctx context.Context, entries ...RefusalEntry) error
	RangeRefusals(ctx context.Context, fn func(RefusalEntry) error) error
}

// Answerer answers an update at once, the way its platform expects (Telegram's
// answerCallbackQuery with the toast, Slack's ephemeral): each platform adapter is one.
type Answerer interface {
	Answer(ctx context.Context, in Incoming, r Response) error
}

// Locker holds named leases: one Telegram poller, one inbound processor across replicas.
type Locker interface {
	// Lock takes the lease or renews it for owner; ok is false while someone else holds it.
	Lock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	// Unlock gives the lease up if owner holds it.
	Unlock(ctx context.Context, name, owner string) error
}
