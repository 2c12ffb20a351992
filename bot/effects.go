package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrUnchanged is what a change function returns to store nothing: the change was made before,
// or is moot. Change then returns the record as stored, its pending effects applied.
var ErrUnchanged = errors.New("unchanged")

// Ledger is what the engine keeps inside a record about the record's effects: how many changes
// it has had, up to which change the world has been told, the record as it was then (while a
// later change still waits for its effects), and the timers it holds. Flows embed it in their
// records as `json:"fx"` and leave it to Collection.
type Ledger struct {
	Rev     int64           `json:"rev"`
	Applied int64           `json:"applied"`
	Was     json.RawMessage `json:"was,omitempty"`
	Timers  []string        `json:"timers,omitempty"`
}

// Dirty reports whether a change still waits for its effects.
func (l *Ledger) Dirty() bool { return l.Applied < l.Rev }

// Effects is what a record wants of the world. Timers are every timer it wants now: the engine
// schedules those missing or moved and cancels the others it scheduled before. The rest is what
// the change from the state last applied to this one owes: messages to people and groups, edits
// of the copies people hold, audit events and small idempotent writes to other records (a case
// assignment, a retention date). Every message and audit event has an ID derived from the
// record and the change, so that applying a change twice (a replica racing another, a retry
// after a fault) queues and records each once.
type Effects struct {
	Timers   []Timer
	Messages []Notice
	Edits    []CopyEdit
	Audit    []AuditEvent
	Do       []func(ctx context.Context) error
}

// Add appends everything of o to fx.
func (fx *Effects) Add(o Effects) {
	fx.Timers = append(fx.Timers, o.Timers...)
	fx.Messages = append(fx.Messages, o.Messages...)
	fx.Edits = append(fx.Edits, o.Edits...)
	fx.Audit = append(fx.Audit, o.Audit...)
	fx.Do = append(fx.Do, o.Do...)
}

// CopyEdit changes the copies of Record that people hold to what Build returns for each of them.
// Version goes into each edit's ID (the record's Rev): one edit per holder per change.
type CopyEdit struct {
	Record  string
	Version int64
	// Only limits the edit to these holders; Skip leaves these out (they just got a new copy).
	Only, Skip []string
	Build      func(p *Person, lang string) Message
}

// Kind is one type of record whose effects the engine keeps in line with its state.
type Kind[T any] struct {
	// Prefix starts every key of the kind: "alert/" makes "alert/A7".
	Prefix string
	// Open names the sorted index of live records by ID; the reconcile pass walks it from
	// OpenFrom (nil: the start). Records whose effects wait are found without it.
	Open     string
	OpenFrom func(now time.Time) float64
	// Ledger returns v's ledger.
	Ledger func(v *T) *Ledger
	// Index returns the index changes every write of v makes.
	Index func(v *T) []IndexOp
	// Delivered, when set, hears that a message of v's that asked for a receipt (Notice.Receipt)
	// reached person at at; it changes v and returns true, or returns false when v already knows.
	// The change is a change like any other: its effects follow.
	Delivered func(v *T, person string, at time.Time) bool
	// Effects says what v wants of the world. was is the state last applied: nil for a record
	// just created, v itself when nothing waits (only Timers matter then). It is a function of
	// the two states, the directory and the records they refer to (a meeting's series): it may
	// read, never write, and every ID and due time it gives derives from those, never from the
	// clock.
	Effects func(ctx context.Context, was, v *T) (Effects, error)
}

// pendingIndex lists, by the time of the change, records whose effects wait; a change adds its
// record in the same write, and applying the effects removes it.
const pendingIndex = "fx:pending"

// Collection is the stored records of one kind: every change goes through it, so that the
// messages, timers and audit events a record owes follow from its state, and a fault at any
// point is repaired by applying them again.
type Collection[T any] struct {
	e *Engine
	k Kind[T]
}

// reconciler is a collection as the engine's reconcile pass sees it.
type reconciler interface {
	prefix() string
	apply(ctx context.Context, key string) (bool, error)
	openKeys(ctx context.Context) ([]string, error)
	delivered(ctx context.Context, key, person string, at time.Time) error
}

// NewCollection registers kind k on h and returns its collection.
func NewCollection[T any](h Host, k Kind[T]) *Collection[T] {
	e := h.engine()
	c := &Collection[T]{e: e, k: k}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.kinds = append(e.kinds, c)
	return c
}

func (c *Collection[T]) prefix() string { return c.k.Prefix }

func (c *Collection[T]) delivered(ctx context.Context, key, person string, at time.Time) error {
	if c.k.Delivered == nil {
		return nil
	}
	_, err := c.Change(ctx, strings.TrimPrefix(key, c.k.Prefix), func(v *T) error {
		if !c.k.Delivered(v, person, at) {
			return ErrUnchanged
		}
		return nil
	})
	return err
}

// Key is the record key of id.
func (c *Collection[T]) Key(id string) string { return c.k.Prefix + id }

// Get reads the record with id.
func (c *Collection[T]) Get(ctx context.Context, id string) (T, error) {
	v, _, err := Load[T](ctx, c.e.Records, c.Key(id))
	return v, err
}

// Create stores v as the new record id and applies its effects. When id exists already (a
// create retried after a fault, or raced by another replica) it stores nothing, applies what the
// stored record still owes and returns it with created false.
func (c *Collection[T]) Create(ctx context.Context, id string, v T) (T, bool, error) {
	l := c.k.Ledger(&v)
	*l = Ledger{Rev: 1}
	idx := append(c.k.Index(&v), IndexOp{Index: pendingIndex, Member: c.Key(id), Score: c.score()})
	_, err := Save(ctx, c.e.Records, c.Key(id), v, 0, idx...)
	created := err == nil
	if errors.Is(err, ErrConflict) {
		err = nil
	}
	if err != nil {
		return v, false, err
	}
	cur, err := c.settle(ctx, id)
	return cur, created, err
}

// Change applies fn to the record id by compare-and-set and then applies the change's effects.
// fn may run more than once; it returns ErrUnchanged to store nothing, or any other error to
// stop. A record that does not exist is ErrNotFound (fn is not called). Once the record is
// stored the change has happened: when its effects cannot be applied now, Change logs it and
// returns the record, and the reconcile pass applies them.
func (c *Collection[T]) Change(ctx context.Context, id string, fn func(v *T) error) (T, error) {
	key := c.Key(id)
	_, err := Update(ctx, c.e.Records, key, func(v *T, exists bool) ([]IndexOp, error) {
		if !exists {
			return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		l := c.k.Ledger(v)
		var was []byte
		if !l.Dirty() {
			var err error
			if was, err = c.snapshot(v); err != nil {
				return nil, err
			}
		}
		before := c.k.Index(v)
		if err := fn(v); err != nil {
			return nil, err
		}
		l = c.k.Ledger(v)
		if was != nil {
			l.Was = was
		}
		l.Rev++
		return append(indexChanges(before, c.k.Index(v)), IndexOp{Index: pendingIndex, Member: key, Score: c.score()}), nil
	})
	if err != nil && !errors.Is(err, ErrUnchanged) {
		var zero T
		return zero, err
	}
	return c.settle(ctx, id)
}

// indexChanges are the index operations from a record's entries before a change to those after:
// every entry it has now, and the removal of every entry it no longer has.
func indexChanges(before, after []IndexOp) []IndexOp {
	out := slices.Clone(after)
	for _, b := range before {
		if b.Remove {
			continue
		}
		if !slices.ContainsFunc(after, func(a IndexOp) bool { return a.Index == b.Index && a.Member == b.Member && !a.Remove }) {
			out = append(out, IndexOp{Index: b.Index, Member: b.Member, Remove: true})
		}
	}
	return out
}

// settle applies what the record owes and returns it as stored. A failure to apply is logged and
// left to the reconcile pass; the record is returned all the same.
func (c *Collection[T]) settle(ctx context.Context, id string) (T, error) {
	if _, err := c.apply(ctx, c.Key(id)); err != nil {
		c.e.Log.Warn("effects deferred to the reconcile pass", "record", c.Key(id), "err", err)
		c.e.Observe("effects.deferred")
	}
	return c.Get(ctx, id)
}

// Apply makes the world match the record id: what its changes owe is queued and recorded, its
// timers are scheduled and cancelled. It is safe to call at any time, on any replica, any
// number of times.
func (c *Collection[T]) Apply(ctx context.Context, id string) error {
	_, err := c.apply(ctx, c.Key(id))
	return err
}

func (c *Collection[T]) score() float64 { return float64(c.e.Clock.Now().Unix()) }

// snapshot is v as JSON without its ledger: the state to diff the next change against.
func (c *Collection[T]) snapshot(v *T) ([]byte, error) {
	cp := *v
	*c.k.Ledger(&cp) = Ledger{}
	return json.Marshal(cp)
}

// apply applies the effects of the record at key and reports whether it had to do anything. A
// record whose effects are all applied only has its timers checked. Otherwise one replica at a
// time applies it, under a lease, so that two never diff two different states against the same
// last applied one (each would then tell people of the same change under its own IDs); a change
// that finds the lease taken leaves its effects to the holder, who looks again once it lets go.
func (c *Collection[T]) apply(ctx context.Context, key string) (bool, error) {
	did := false
	var applied int64 = -1
	for {
		v, ver, err := Load[T](ctx, c.e.Records, key)
		if errors.Is(err, ErrNotFound) {
			return did, c.e.unpend(ctx, key)
		}
		if err != nil {
			return did, err
		}
		l := *c.k.Ledger(&v)
		if !l.Dirty() {
			if l.Applied == applied {
				return did, nil // just applied by this call, timers included
			}
			fx, err := c.k.Effects(ctx, &v, &v)
			if err != nil {
				return did, fmt.Errorf("apply %s: %w", key, err)
			}
			ids, moved, err := c.e.alignTimers(ctx, fx.Timers, l.Timers)
			if err != nil || !moved {
				return did, err
			}
			c.k.Ledger(&v).Timers = ids
			if _, err := Save(ctx, c.e.Records, key, v, ver); !errors.Is(err, ErrConflict) {
				return true, err
			}
			continue
		}
		lock := "fx/lock/" + key
		ok, err := c.e.Marks.Mark(ctx, lock, c.e.Settings.ApplyLease)
		if err != nil || !ok {
			return did, err
		}
		rev, err := c.applyLocked(ctx, key)
		uerr := c.e.Marks.Unmark(ctx, lock)
		if err = firstErr(err, uerr); err != nil {
			return did, err
		}
		did, applied = true, rev
	}
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// applyLocked applies the record's effects until it is clean, and returns the Rev it applied.
func (c *Collection[T]) applyLocked(ctx context.Context, key string) (int64, error) {
	for attempt := 0; attempt < 20; attempt++ {
		v, ver, err := Load[T](ctx, c.e.Records, key)
		if errors.Is(err, ErrNotFound) {
			return 0, c.e.unpend(ctx, key)
		}
		if err != nil {
			return 0, err
		}
		l := *c.k.Ledger(&v)
		if !l.Dirty() {
			return l.Applied, nil
		}
		was := (*T)(nil)
		if l.Applied > 0 && len(l.Was) > 0 {
			var w T
			if err := json.Unmarshal(l.Was, &w); err != nil {
				return 0, fmt.Errorf("apply %s: read the state last applied: %w", key, err)
			}
			was = &w
		}
		fx, err := c.k.Effects(ctx, was, &v)
		if err != nil {
			return 0, fmt.Errorf("apply %s: %w", key, err)
		}
		if err := c.e.effect(ctx, fx); err != nil {
			return 0, fmt.Errorf("apply %s: %w", key, err)
		}
		ids, _, err := c.e.alignTimers(ctx, fx.Timers, l.Timers)
		if err != nil {
			return 0, fmt.Errorf("apply %s: %w", key, err)
		}
		// Record what was applied. Usually nothing changed meanwhile and the version still holds;
		// otherwise a newer change came in while this one was applied: keep what was done and go
		// round for the rest.
		nl := c.k.Ledger(&v)
		nl.Applied, nl.Was, nl.Timers = nl.Rev, nil, ids
		_, err = Save(ctx, c.e.Records, key, v, ver, IndexOp{Index: pendingIndex, Member: key, Remove: true})
		if err == nil {
			c.e.Observe("effects.applied")
			return l.Rev, nil
		}
		if !errors.Is(err, ErrConflict) {
			return 0, fmt.Errorf("apply %s: %w", key, err)
		}
		if err := c.progress(ctx, key, &v, l.Rev, ids); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("apply %s: %w", key, ErrConflict)
}

// progress records, after a conflict, that the effects of the changes up to rev (the record v)
// were applied, unless someone recorded that already.
func (c *Collection[T]) progress(ctx context.Context, key string, v *T, rev int64, timers []string) error {
	snap, err := c.snapshot(v)
	if err != nil {
		return err
	}
	_, err = Update(ctx, c.e.Records, key, func(cur *T, exists bool) ([]IndexOp, error) {
		l := c.k.Ledger(cur)
		if !exists || l.Applied >= rev {
			return nil, ErrUnchanged
		}
		l.Applied, l.Timers = rev, timers
		if l.Rev == rev {
			l.Was = nil
			return []IndexOp{{Index: pendingIndex, Member: key, Remove: true}}, nil
		}
		l.Was = snap
		return nil, nil
	})
	if errors.Is(err, ErrUnchanged) {
		err = nil
	}
	return err
}

// openKeys lists the keys of the kind's live records.
func (c *Collection[T]) openKeys(ctx context.Context) ([]string, error) {
	if c.k.Open == "" {
		return nil, nil
	}
	from := math.Inf(-1)
	if c.k.OpenFrom != nil {
		from = c.k.OpenFrom(c.e.Now())
	}
	ids, err := c.e.Records.Range(ctx, c.k.Open, from, math.Inf(1), 0)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = c.Key(id)
	}
	return keys, nil
}

// Delete removes the record id (an erasure): its timers are cancelled and it leaves its indexes;
// what it owed and had not been applied is dropped with it.
func (c *Collection[T]) Delete(ctx context.Context, id string) error {
	key := c.Key(id)
	v, err := c.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return c.e.unpend(ctx, key)
	}
	if err != nil {
		return err
	}
	timers := slices.Clone(c.k.Ledger(&v).Timers)
	if fx, err := c.k.Effects(ctx, &v, &v); err == nil {
		for _, t := range fx.Timers {
			timers = append(timers, t.ID)
		}
	}
	if err := c.e.Timers.Cancel(ctx, timers...); err != nil {
		return err
	}
	idx := []IndexOp{{Index: pendingIndex, Member: key, Remove: true}}
	for _, op := range c.k.Index(&v) {
		op.Remove = true
		idx = append(idx, op)
	}
	return Delete(ctx, c.e.Records, key, idx...)
}

// Live returns the records of the kind's Open index whose score is in [min, max], lowest first.
func (c *Collection[T]) Live(ctx context.Context, min, max float64) ([]T, error) {
	out, _, err := c.Page(ctx, min, max, 0)
	return out, err
}

// Page returns the first limit live records (all when 0) whose index score is in [min, max],
// lowest score first, and how many there are in all. The records are read concurrently, so that
// a store that pipelines concurrent reads needs a round trip or two for a page, not one a record.
func (c *Collection[T]) Page(ctx context.Context, min, max float64, limit int) ([]T, int, error) {
	ids, err := c.e.Records.Range(ctx, c.k.Open, min, max, 0)
	if err != nil {
		return nil, 0, err
	}
	total := len(ids)
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	vals := make([]T, len(ids))
	found := make([]bool, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			v, err := c.Get(ctx, id)
			switch {
			case errors.Is(err, ErrNotFound): // gone since the index was read
			case err != nil:
				errs[i] = err
			default:
				vals[i], found[i] = v, true
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	out := make([]T, 0, len(ids))
	for i := range vals {
		if found[i] {
			out = append(out, vals[i])
		}
	}
	return out, total, nil
}

// Each calls fn with every record of the kind.
func (c *Collection[T]) Each(ctx context.Context, fn func(v *T) error) error {
	return Each(ctx, c.e.Records, c.k.Prefix, func(_ string, v *T) error { return fn(v) })
}

// unpend drops a record that is gone from the pending index.
func (e *Engine) unpend(ctx context.Context, key string) error {
	_, err := e.Records.Write(ctx, Write{Key: "fx/gone", Version: Any, Index: []IndexOp{{Index: pendingIndex, Member: key, Remove: true}}})
	return err
}

// effect does what a change owes: writes, audit events, messages to people, edits of their
// copies, then messages to groups (people hear of a change before the group does). Each part is
// idempotent, so after a failure the whole is done again.
func (e *Engine) effect(ctx context.Context, fx Effects) error {
	for _, do := range fx.Do {
		if err := do(ctx); err != nil {
			return err
		}
	}
	for _, ev := range fx.Audit {
		if ev.ID == "" {
			return fmt.Errorf("audit event %s without an ID", ev.Kind)
		}
		if err := e.record(ctx, ev); err != nil {
			return err
		}
	}
	for _, group := range []bool{false, true} {
		for _, n := range fx.Messages {
			if (n.Group != "") != group {
				continue
			}
			if err := e.deliver(ctx, n); err != nil {
				return err
			}
		}
		if group {
			break
		}
		for _, ed := range fx.Edits {
			if err := e.Copies(ed.Record).edit(ctx, ed); err != nil {
				return err
			}
		}
	}
	return nil
}

// Apply does what fx owes, for effects that belong to no record's change (an erasure sending the
// team's details again). Timers in fx are not looked at.
func (e *Engine) Apply(ctx context.Context, fx Effects) error { return e.effect(ctx, fx) }

// deliver queues one message of a change: to a group, as a person's copy of a record, or as a
// plain notice. A person without an account (or no longer in the directory) is skipped: who
// could not be reached is the flow's to record, at the change.
func (e *Engine) deliver(ctx context.Context, n Notice) error {
	var err error
	switch {
	case n.Group != "":
		err = e.notifyGroup(ctx, n)
	case n.Copy != "":
		err = e.Copies(n.Copy).send(ctx, n)
	default:
		err = e.Notify(ctx, n)
	}
	if errors.Is(err, ErrNotLinked) || errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// alignTimers schedules the wanted timers that are missing or moved and cancels those of had that
// are no longer wanted. It returns the wanted IDs and whether anything was out of line.
func (e *Engine) alignTimers(ctx context.Context, wanted []Timer, had []string) ([]string, bool, error) {
	ids := make([]string, 0, len(wanted))
	for _, t := range wanted {
		ids = append(ids, t.ID)
	}
	all := slices.Clone(ids)
	for _, id := range had {
		if !slices.Contains(all, id) {
			all = append(all, id)
		}
	}
	if len(all) == 0 {
		return nil, false, nil
	}
	have, err := e.Timers.Scheduled(ctx, all...)
	if err != nil {
		return nil, false, err
	}
	var schedule []Timer
	for _, t := range wanted {
		h, ok := have[t.ID]
		if !ok || !h.Due.Equal(t.Due) || h.Kind != t.Kind || h.Ref != t.Ref || h.Arg != t.Arg {
			schedule = append(schedule, t)
		}
	}
	var cancel []string
	for _, id := range all {
		if _, ok := have[id]; ok && !slices.Contains(ids, id) {
			cancel = append(cancel, id)
		}
	}
	if len(schedule) > 0 {
		if err := e.Timers.Schedule(ctx, schedule...); err != nil {
			return nil, false, err
		}
	}
	if len(cancel) > 0 {
		if err := e.Timers.Cancel(ctx, cancel...); err != nil {
			return nil, false, err
		}
	}
	sorted := slices.Sorted(slices.Values(ids))
	moved := len(schedule) > 0 || len(cancel) > 0 || !slices.Equal(sorted, slices.Sorted(slices.Values(had)))
	return ids, moved, nil
}

// Reconcile is the repair pass: every record whose change still waits for its effects, and
// every live record of every kind, gets its effects applied and its timers checked. It is safe
// on every replica at once. It returns how many records it had to repair.
func (e *Engine) Reconcile(ctx context.Context) (int, error) {
	if err := e.Refresh(ctx); err != nil {
		return 0, err
	}
	e.mu.RLock()
	kinds := slices.Clone(e.kinds)
	e.mu.RUnlock()
	pending, err := e.Records.Range(ctx, pendingIndex, math.Inf(-1), math.Inf(1), 0)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	seen := map[string]bool{}
	var errs []error
	n := 0
	run := func(r reconciler, key string) {
		if seen[key] {
			return
		}
		seen[key] = true
		did, err := r.apply(ctx, key)
		if err != nil {
			errs = append(errs, err)
		}
		if did {
			n++
		}
	}
	for _, key := range pending {
		r := kindOf(kinds, key)
		if r == nil {
			errs = append(errs, fmt.Errorf("reconcile %s: no kind registered for it", key))
			continue
		}
		run(r, key)
	}
	for _, r := range kinds {
		keys, err := r.openKeys(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("reconcile %s: %w", r.prefix(), err))
			continue
		}
		for _, key := range keys {
			run(r, key)
		}
	}
	if n > 0 {
		e.Log.Info("reconcile pass repaired records", "count", n)
		for range n {
			e.Observe("reconcile.repaired")
		}
	}
	return n, errors.Join(errs...)
}

// kindOf returns the registered kind whose prefix is the longest one key starts with.
func kindOf(kinds []reconciler, key string) reconciler {
	var best reconciler
	for _, r := range kinds {
		if strings.HasPrefix(key, r.prefix()) && (best == nil || len(r.prefix()) > len(best.prefix())) {
			best = r
		}
	}
	return best
}

// edit queues ed's edit of every holder's copy it names.
func (c *Copies) edit(ctx context.Context, ed CopyEdit) error {
	holders, err := c.Holders(ctx)
	if err != nil {
		return err
	}
	for _, who := range holders {
		if len(ed.Only) > 0 && !slices.Contains(ed.Only, who) || slices.Contains(ed.Skip, who) {
			continue
		}
		p := c.e.Directory().Person(who)
		if p == nil {
			continue
		}
		err := c.e.Notify(ctx, Notice{ID: "edit:" + c.refKey(who) + ":" + strconv.FormatInt(ed.Version, 10), To: who, RefKey: c.refKey(who), Edit: true,
			Build: func(lang string) Message { return ed.Build(p, lang) }})
		if err != nil && !errors.Is(err, ErrNotLinked) {
			return err
		}
	}
	return nil
}

// FactID names the n-th thing that happened to record: the base of the IDs of what it owes.
func FactID(record string, n int) string { return record + "#" + strconv.Itoa(n) }
