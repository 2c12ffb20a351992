package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotLinked means a person has no chat account, so a message to them cannot go anywhere.
var ErrNotLinked = errors.New("not linked")

// Notice is a message to one person, built in their language. Flows address people, never
// platforms: the engine finds the person's account, whichever platform it is on.
type Notice struct {
	// ID is the idempotency key: the same ID queued twice is sent once. Timer handlers derive it
	// from the timer ID, so that a timer fired twice notifies once.
	ID string
	To string
	// Group, instead of To, sends to a configured group chat, in the directory's language. Only
	// notices without case details go to groups.
	Group string
	// Copy, with To, makes the message To's copy of that record (Copies): a newer copy supersedes
	// the one they held, and edits of the record's copies reach it.
	Copy  string
	Build func(lang string) Message
	// RefKey names this copy, so that a later Notice with Edit can change it.
	RefKey string
	// Ref, with Edit, pins the edit to that message instead of to whatever RefKey names when the
	// edit is delivered, which may by then be a newer copy.
	Ref      *MessageRef
	Edit     bool
	Priority Priority
	// Sender is told if the message cannot be delivered.
	Sender string
	// Case and Record, when set, mark the message as sharing that case's details: the share is
	// recorded in the audit stream. Cases adds more cases the message shows.
	Case   string
	Cases  []string
	Record string
	Reason string
	// Receipt asks that Record's kind hear when this message reaches To (Kind.Delivered): how a
	// request's timeline learns that its question was delivered.
	Receipt bool
}

// Notify queues n for its person. It returns ErrNotLinked (and records it) when the person has no
// account, so that the flow can show who was not reached. Routine messages wait out the person's
// quiet hours; urgent ones do not.
func (e *Engine) Notify(ctx context.Context, n Notice) error {
	p := e.Directory().Person(n.To)
	if p == nil {
		return fmt.Errorf("notify %s: %w", n.To, ErrNotFound)
	}
	acct, _, err := Load[account](ctx, e.Records, "acct/"+n.To)
	if errors.Is(err, ErrNotFound) {
		if !n.Edit {
			if err := e.auditOf(ctx, n, "unreachable:", AuditEvent{Actor: "system", Kind: "delivery.unreachable", Record: n.Record, To: n.To, Reason: "not_linked"}); err != nil {
				return err
			}
		}
		return ErrNotLinked
	}
	if err != nil {
		return err
	}
	addr, lang := acct.DM, e.languageOf(p, acct)
	m := n.Build(lang)
	m, err = e.bindButtons(ctx, m, p.ID)
	if err != nil {
		return err
	}
	id := n.ID
	if id == "" {
		id = NewID()
	}
	now := e.Clock.Now()
	o := Outgoing{ID: id, Op: OpSend, To: addr, Msg: m, Priority: n.Priority, RefKey: n.RefKey, Person: p.ID, Sender: n.Sender, Queued: now}
	if n.Receipt && !n.Edit {
		o.Receipt = n.Record
	}
	if n.Edit {
		o.Op, o.Ref = OpEdit, n.Ref
	} else if n.Priority == Routine && p.Quiet != nil {
		local := now.In(e.Directory().Location)
		if p.Quiet.Contains(local) {
			o.NotBefore = p.Quiet.After(local)
		}
	}
	if err := e.Outbox.Enqueue(ctx, o); err != nil {
		return err
	}
	if n.Edit {
		return nil
	}
	reason := n.Reason
	if reason == "" {
		reason = "need_to_know"
	}
	if n.Case != "" {
		if err := e.auditOf(ctx, n, "shared:", AuditEvent{Actor: "system", Kind: "case.shared", Case: n.Case, Record: n.Record, To: p.ID, Reason: reason}); err != nil {
			return err
		}
	}
	for _, c := range n.Cases {
		if err := e.auditOf(ctx, n, "shared:"+c+":", AuditEvent{Actor: "system", Kind: "case.shared", Case: c, Record: n.Record, To: p.ID, Reason: reason}); err != nil {
			return err
		}
	}
	return nil
}

// auditOf records what a notice did. A notice with an ID (one a change owes) records it once,
// and a failure is returned, so that the change's effects are applied again; one without is
// recorded as before, a failure logged.
func (e *Engine) auditOf(ctx context.Context, n Notice, prefix string, ev AuditEvent) error {
	if n.ID == "" {
		e.Record(ctx, ev)
		return nil
	}
	ev.ID = prefix + n.ID
	return e.record(ctx, ev)
}

// NotifyGroup queues a message to a configured group chat. Only notices without case details go
// to groups; callers keep to that.
func (e *Engine) NotifyGroup(ctx context.Context, id, group string, m Message, refKey string, pr Priority) error {
	return e.notifyGroup(ctx, Notice{ID: id, Group: group, RefKey: refKey, Priority: pr, Build: func(string) Message { return m }})
}

// notifyGroup queues n to its group chat, built in the directory's language: a send, or with
// Edit the message stored under n.RefKey.
func (e *Engine) notifyGroup(ctx context.Context, n Notice) error {
	g := e.Directory().Group(n.Group)
	if g == nil {
		return fmt.Errorf("notify group %s: %w", n.Group, ErrNotFound)
	}
	m, err := e.bindButtons(ctx, n.Build(e.Directory().Language), "")
	if err != nil {
		return err
	}
	to := g.Address
	to.Group = true
	o := Outgoing{ID: n.ID, Op: OpSend, To: to, Msg: m, Priority: n.Priority, RefKey: n.RefKey, Queued: e.Clock.Now()}
	if n.Edit {
		o.Op, o.Ref = OpEdit, n.Ref
	}
	return e.Outbox.Enqueue(ctx, o)
}

// Delivered is called by the delivery worker when a message that asked for a receipt has been
// sent: the record it names hears that it reached its person at that moment (Kind.Delivered).
// A record gone meanwhile (erased, purged) is no error.
func (e *Engine) Delivered(ctx context.Context, o Outgoing, at time.Time) error {
	if o.Receipt == "" || o.Person == "" || o.Op != OpSend {
		return nil
	}
	e.mu.RLock()
	r := kindOf(e.kinds, o.Receipt)
	e.mu.RUnlock()
	if r == nil {
		e.Log.Error("delivery receipt for a record of no registered kind; dropped", "record", o.Receipt)
		return nil
	}
	err := r.delivered(ctx, o.Receipt, o.Person, at)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Undeliverable is called by the delivery worker when a message failed for good (the person
// blocked the bot, the chat is gone, the token was revoked). It records the failure and tells the
// sender, or else the coordinators, who was not reached.
func (e *Engine) Undeliverable(ctx context.Context, o Outgoing, reason string) {
	e.Record(ctx, AuditEvent{Actor: "system", Kind: "delivery.failed", To: o.Person, Reason: reason})
	e.Observe("delivery.failed")
	if o.Person == "" || len(o.ID) > 5 && o.ID[:5] == "fail:" {
		return
	}
	tell := []string{o.Sender}
	if o.Sender == "" || o.Sender == o.Person {
		tell = tell[:0]
		for _, c := range e.Directory().WithRole(RoleCoordinator) {
			if c.ID != o.Person {
				tell = append(tell, c.ID)
			}
		}
	}
	name := o.Person
	if p := e.Directory().Person(o.Person); p != nil {
		name = p.Name
	}
	for _, who := range tell {
		err := e.Notify(ctx, Notice{ID: "fail:" + o.ID + ":" + who, To: who, Priority: Urgent, Build: func(lang string) Message {
			return Message{Lines: []string{e.Texts.T(lang, "delivery.failed", "Name", name, "Reason", e.Texts.T(lang, "delivery.reason."+reason))}}
		}})
		if err != nil && !errors.Is(err, ErrNotLinked) {
			e.Log.Error("failure notice not queued", "person", who, "err", err)
		}
	}
}
