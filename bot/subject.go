package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Subject is whom a data-subject request is about: a member of staff (Person) or a case (Case),
// exactly one of the two. Children and families are only ever known by their case.
type Subject struct {
	Person string `json:"person,omitempty"`
	Case   string `json:"case,omitempty"`
}

func (s Subject) check() error {
	if (s.Person == "") == (s.Case == "") {
		return fmt.Errorf("subject: name a person or a case: %w", ErrInvalid)
	}
	return nil
}

// ExportFunc returns one part's data about s, ready for JSON; nil means it holds nothing.
type ExportFunc func(ctx context.Context, s Subject) (any, error)

// EraseFunc erases one part's data about s and says what it erased.
type EraseFunc func(ctx context.Context, s Subject) (Erased, error)

// Erased is what one part erased for a subject: records deleted, and records kept (they are
// about someone else too) but changed. Keys are record keys, which hold IDs only.
type Erased struct {
	Part    string   `json:"part"`
	Deleted []string `json:"deleted,omitempty"`
	Changed []string `json:"changed,omitempty"`
}

// Delete notes a deleted record.
func (x *Erased) Delete(key string) { x.Deleted = append(x.Deleted, key) }

// Change notes a changed record.
func (x *Erased) Change(key string) {
	if !slices.Contains(x.Changed, key) {
		x.Changed = append(x.Changed, key)
	}
}

// subjectPart is one registered contributor to exports and erasures.
type subjectPart struct {
	name   string
	export ExportFunc
	erase  EraseFunc
}

// OnExport registers what part name (core, alerts, meetings, visits) holds about a subject. Flows
// call it in their Register, so that a new flow's data is never left out of an export.
func (e *Engine) OnExport(name string, fn ExportFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.part(name).export = fn
}

// OnErase registers how part name erases a subject.
func (e *Engine) OnErase(name string, fn EraseFunc) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.part(name).erase = fn
}

func (e *Engine) part(name string) *subjectPart {
	for _, p := range e.parts {
		if p.name == name {
			return p
		}
	}
	p := &subjectPart{name: name}
	e.parts = append(e.parts, p)
	return p
}

// Export is everything held about a subject, part by part, in a person's terms (see plain).
type Export struct {
	Subject  Subject        `json:"subject"`
	Exported time.Time      `json:"exported"`
	Parts    map[string]any `json:"parts"`
}

// Export gathers what every part holds about s and records the export (by whom) in the audit
// stream.
func (e *Engine) Export(ctx context.Context, s Subject, by string) (Export, error) {
	if err := s.check(); err != nil {
		return Export{}, err
	}
	e.mu.RLock()
	parts := slices.Clone(e.parts)
	e.mu.RUnlock()
	out := Export{Subject: s, Exported: e.Now(), Parts: map[string]any{}}
	for _, p := range parts {
		if p.export == nil {
			continue
		}
		v, err := p.export(ctx, s)
		if err != nil {
			return out, fmt.Errorf("export %s: %w", p.name, err)
		}
		if v := plain(v); v != nil {
			out.Parts[p.name] = v
		}
	}
	e.Record(ctx, AuditEvent{Actor: by, Kind: "subject.exported", To: s.Person, Case: s.Case})
	return out, nil
}

// Erase erases s from every part and records the erasure (by whom) in the audit stream, which
// keeps its entries: they hold IDs and times only. The flows go first, in reverse order of
// registration, and the core last, so that a flow still finds the case's assignments and the
// person's account while it removes its messages.
func (e *Engine) Erase(ctx context.Context, s Subject, by string) ([]Erased, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	e.mu.RLock()
	parts := slices.Clone(e.parts)
	e.mu.RUnlock()
	var out []Erased
	for _, p := range slices.Backward(parts) {
		if p.erase == nil {
			continue
		}
		x, err := p.erase(ctx, s)
		x.Part = p.name
		out = append(out, x)
		if err != nil {
			return out, fmt.Errorf("erase %s: %w", p.name, err)
		}
	}
	e.Record(ctx, AuditEvent{Actor: by, Kind: "subject.erased", To: s.Person, Case: s.Case})
	return out, nil
}

// RemoveMessage replaces the message stored under refKey (in a person's chat or a group) with a
// short "removed" line, so that erased details do not stay on anyone's screen, and deletes its
// ref. lang is the reader's language ("" for the directory's). What is still queued under refKey
// (a copy held back for quiet hours, an edit waiting out a retry) is dropped, so that it cannot
// bring the details back later; a message being sent at that moment is edited by its ref key once
// it is sent.
func (e *Engine) RemoveMessage(ctx context.Context, refKey, lang string) error {
	if _, err := e.DiscardQueued(ctx, func(k string) bool { return k == refKey }); err != nil {
		return err
	}
	return e.removeMessage(ctx, refKey, lang)
}

// DiscardQueued drops the queued messages (sends and edits not yet delivered) whose ref key pick
// accepts, returns them, and logs how many. Erasures call it so that nothing held back for quiet
// hours or waiting out a retry delivers erased details later.
func (e *Engine) DiscardQueued(ctx context.Context, pick func(refKey string) bool) ([]Outgoing, error) {
	out, err := e.Outbox.Discard(ctx, func(o Outgoing) bool { return o.RefKey != "" && pick(o.RefKey) })
	if err != nil {
		return out, fmt.Errorf("discard queued messages: %w", err)
	}
	if len(out) > 0 {
		e.Log.Info("queued messages discarded", "count", len(out))
	}
	return out, nil
}

func (e *Engine) removeMessage(ctx context.Context, refKey, lang string) error {
	if lang == "" {
		lang = e.Directory().Language
	}
	m := Message{Lines: []string{e.Texts.T(lang, "copies.removed")}}
	o := Outgoing{ID: "removed:" + refKey, Op: OpEdit, Msg: m, Priority: Urgent, Queued: e.Clock.Now()}
	ref, ver, ok, err := e.Refs().Get(ctx, refKey)
	switch {
	case err == nil && !ok:
		// Perhaps being sent right now: the worker finds the ref once the send is done. The ref
		// is not deleted here: it does not exist yet, and deleting what the worker writes
		// meanwhile would leave the edit nothing to find.
		addr, aerr := e.refAddress(ctx, refKey)
		if aerr != nil {
			return nil // nobody to edit for
		}
		o.To, o.RefKey = addr, refKey
		return e.Outbox.Enqueue(ctx, o)
	case err != nil:
		return err
	}
	o.To, o.Ref = ref.Address(), &ref
	if err := e.Outbox.Enqueue(ctx, o); err != nil {
		return err
	}
	// Only the ref read: a newer one written meanwhile (a newer copy sent) stays for its edits.
	return e.Refs().Forget(ctx, refKey, ver)
}

// refAddress guesses the chat of a message not sent yet from its ref key, whose last part (for a
// person's copy) or group part names the reader.
func (e *Engine) refAddress(ctx context.Context, refKey string) (Address, error) {
	if i := strings.Index(refKey, "/group/"); i >= 0 {
		if g := e.Directory().Group(refKey[i+len("/group/"):]); g != nil {
			a := g.Address
			a.Group = true
			return a, nil
		}
		return Address{}, ErrNotFound
	}
	for _, part := range slices.Backward(strings.Split(refKey, "/")) {
		if e.Directory().Person(part) != nil {
			return e.AddressOf(ctx, part)
		}
	}
	return Address{}, ErrNotFound
}

// Remove replaces every holder's copy of the record with the "removed" line (Edit, in each
// holder's language) and forgets who holds copies. It is how an erased record leaves people's
// chats; their message refs go as the edits are queued.
func (c *Copies) Remove(ctx context.Context) error {
	holders, err := c.Holders(ctx)
	if err != nil {
		return err
	}
	// One pass over the queue for every copy, not one per holder.
	prefix := c.refKey("")
	if _, err := c.e.DiscardQueued(ctx, func(k string) bool { return strings.HasPrefix(k, prefix) }); err != nil {
		return err
	}
	for _, who := range holders {
		lang := ""
		if p := c.e.Directory().Person(who); p != nil {
			lang = c.e.Language(ctx, p)
		}
		if err := c.e.removeMessage(ctx, c.refKey(who), lang); err != nil {
			return err
		}
	}
	return Delete(ctx, c.e.Records, c.key())
}

// registerSubjects adds the core's part of exports and erasures: chat accounts, preferences,
// dialogs, invites, buttons, message refs and case assignments, and the audit entries naming the
// subject (exported, never erased).
func (e *Engine) registerSubjects() {
	e.OnExport("core", e.exportCore)
	e.OnErase("core", e.eraseCore)
}

type coreExport struct {
	Directory *personExport  `json:"directory,omitempty"`
	Account   *account       `json:"account,omitempty"`
	Language  string         `json:"language,omitempty"`
	Case      *Case          `json:"case,omitempty"`
	Cases     []caseRole     `json:"cases,omitempty"`
	Dialogs   []dialogExport `json:"dialogs,omitempty"`
	Invites   []invite       `json:"invites,omitempty"`
	Buttons   int            `json:"buttons,omitempty"`
	Audit     []AuditEvent   `json:"audit"`
}

type caseRole struct {
	Case string `json:"case"`
	Role Role   `json:"role"`
}

type personExport struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Institution string    `json:"institution"`
	Roles       []Role    `json:"roles"`
	Language    string    `json:"language,omitempty"`
	Areas       []string  `json:"areas,omitempty"`
	Active      bool      `json:"active"`
	Source      string    `json:"source,omitempty"` // config or chat
	Added       time.Time `json:"added,omitzero"`
	Changed     time.Time `json:"changed,omitzero"`
}

type dialogExport struct {
	Dialog  string    `json:"dialog"`
	Person  string    `json:"person"`
	Step    string    `json:"step"`
	Answers Answers   `json:"answers"`
	Expires time.Time `json:"expires"`
}

// about reports whether a dialog is about s: the person's own, or one whose answers name the case.
func (st *dialogState) about(s Subject) bool {
	if s.Person != "" {
		return st.Person == s.Person
	}
	for _, v := range st.Answers {
		if strings.Contains(strings.ToUpper(v), s.Case) {
			return true
		}
	}
	return false
}

func (e *Engine) exportCore(ctx context.Context, s Subject) (any, error) {
	out := coreExport{Audit: []AuditEvent{}}
	if s.Person != "" {
		if m, err := e.Member(ctx, s.Person); err == nil {
			out.Directory = &personExport{ID: m.ID, Name: m.Name, Institution: m.Institution, Roles: m.Roles, Language: m.Language, Areas: m.Areas,
				Active: m.Active, Source: m.Source, Added: m.Created, Changed: m.Updated}
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if a, _, err := Load[account](ctx, e.Records, "acct/"+s.Person); err == nil {
			out.Account = &a
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if pr, _, err := Load[prefs](ctx, e.Records, "pref/"+s.Person); err == nil {
			out.Language = pr.Language
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		err := Each(ctx, e.Records, "case/", func(_ string, c *Case) error {
			for _, m := range c.Members {
				if m.Person == s.Person {
					out.Cases = append(out.Cases, caseRole{Case: c.Code, Role: m.Role})
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		err = Each(ctx, e.Records, "invite/", func(_ string, inv *invite) error {
			if inv.Person == s.Person {
				out.Invites = append(out.Invites, *inv)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		err = Each(ctx, e.Records, "btn/", func(_ string, a *Action) error {
			if a.For == s.Person {
				out.Buttons++
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		c, err := e.Case(ctx, s.Case)
		if err == nil {
			out.Case = &c
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	err := Each(ctx, e.Records, "dialog/", func(_ string, st *dialogState) error {
		if st.about(s) {
			out.Dialogs = append(out.Dialogs, dialogExport{Dialog: st.Dialog, Person: st.Person, Step: st.Step, Answers: st.Answers, Expires: st.Expires})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = e.Audit.Range(ctx, time.Time{}, e.Clock.Now().Add(time.Minute), func(ev AuditEvent) error {
		if s.Person != "" && (ev.Actor == s.Person || ev.To == s.Person) || s.Case != "" && ev.Case == s.Case {
			out.Audit = append(out.Audit, ev)
		}
		return nil
	})
	return out, err
}

func (e *Engine) eraseCore(ctx context.Context, s Subject) (Erased, error) {
	var x Erased
	del := func(key string, idx ...IndexOp) error {
		if _, _, err := e.Records.Get(ctx, key); errors.Is(err, ErrNotFound) {
			return nil
		}
		if err := Delete(ctx, e.Records, key, idx...); err != nil {
			return err
		}
		x.Delete(key)
		return nil
	}
	err := Each(ctx, e.Records, "dialog/", func(key string, st *dialogState) error {
		if !st.about(s) {
			return nil
		}
		if err := e.Timers.Cancel(ctx, "dlg:"+key); err != nil {
			return err
		}
		return del(key)
	})
	if err != nil {
		return x, err
	}
	if s.Case != "" {
		c, err := e.Case(ctx, s.Case)
		if errors.Is(err, ErrNotFound) {
			return x, nil
		}
		if err != nil {
			return x, err
		}
		idx := []IndexOp{{Index: "cases", Member: c.Code, Remove: true}}
		for _, p := range c.People() {
			idx = append(idx, IndexOp{Index: "cases:person:" + p, Member: c.Code, Remove: true})
		}
		return x, del(caseKey(c.Code), idx...)
	}
	p := s.Person
	if a, _, err := Load[account](ctx, e.Records, "acct/"+p); err == nil {
		if err := del("link/" + a.Identity.Key()); err != nil {
			return x, err
		}
		for _, m := range []string{"guess/", "stranger/"} {
			if err := e.Marks.Unmark(ctx, m+a.Identity.Key()); err != nil {
				return x, err
			}
		}
	} else if !errors.Is(err, ErrNotFound) {
		return x, err
	}
	for _, key := range []string{"acct/" + p, "pref/" + p} {
		if err := del(key); err != nil {
			return x, err
		}
	}
	err = e.Records.Scan(ctx, "case/", func(key string) error {
		removed := false
		_, err := Update(ctx, e.Records, key, func(c *Case, exists bool) ([]IndexOp, error) {
			n := len(c.Members)
			c.Members = slices.DeleteFunc(c.Members, func(m CaseMember) bool { return m.Person == p })
			if !exists || len(c.Members) == n {
				return nil, errUnchanged
			}
			removed = true
			return []IndexOp{{Index: "cases:person:" + p, Member: c.Code, Remove: true}}, nil
		})
		if errors.Is(err, errUnchanged) {
			return nil
		}
		if removed && err == nil {
			x.Change(key)
		}
		return err
	})
	if err != nil {
		return x, err
	}
	// Pending invites and pressable buttons made for the person.
	err = Each(ctx, e.Records, "invite/", func(key string, inv *invite) error {
		if inv.Person != p {
			return nil
		}
		return del(key)
	})
	if err != nil {
		return x, err
	}
	if err := del("invited/" + p); err != nil {
		return x, err
	}
	if n, err := e.EndDeskSessions(ctx, p); err != nil {
		return x, err
	} else if n > 0 {
		x.Delete("desksession/*")
	}
	// Their entry in the stored people: gone, only a hash of the ID kept so that it is never
	// reused nor brought back by the config.
	if found, err := e.erasePerson(ctx, p, "system"); err != nil {
		return x, err
	} else if found {
		x.Change("directory/" + rosterID)
	}
	err = Each(ctx, e.Records, "btn/", func(key string, a *Action) error {
		if a.For != p {
			return nil
		}
		return del(key)
	})
	if err != nil {
		return x, err
	}
	// Refs of messages in the person's chat ("<record>/<person>[/…]"): their chat IDs go.
	err = e.Refs().Each(ctx, "", func(key string) error {
		parts := strings.Split(key, "/")
		if len(parts) > 2 && slices.Contains(parts[2:], p) && !slices.Contains(parts, "group") {
			return del(e.Refs().Record(key))
		}
		return nil
	})
	return x, err
}

var errUnchanged = errors.New("unchanged")
