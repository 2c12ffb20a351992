package bot

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
)

// Copies are the messages about one record (an alert, a visit, a meeting occurrence) that
// different people hold in their chats. Every flow sends through Copies, so that when the record
// changes every holder's copy is edited to show its state and who changed it.
type Copies struct {
	e      *Engine
	Record string // e.g. "alert/A7"
}

// Copies returns the copies of record.
func (e *Engine) Copies(record string) *Copies { return &Copies{e: e, Record: record} }

func (c *Copies) key() string              { return "copies/" + c.Record }
func (c *Copies) refKey(who string) string { return c.Record + "/" + who }

// holder is one person holding a copy: the ID of the copy last sent to them and, when it
// replaced an older copy, that copy's ref as it was when the new one was registered, so that a
// send retried after a fault supersedes the old copy and never the new one.
type holder struct {
	Who  string      `json:"p"`
	Send string      `json:"s,omitempty"`
	Had  bool        `json:"h,omitempty"`
	Old  *MessageRef `json:"o,omitempty"`
}

// holderList decodes the holders as stored now, or as a plain list of IDs as they were stored
// before copies remembered their sends.
type holderList []holder

// UnmarshalJSON reads either form.
func (h *holderList) UnmarshalJSON(b []byte) error {
	var ids []string
	if err := json.Unmarshal(b, &ids); err == nil {
		*h = (*h)[:0]
		for _, id := range ids {
			*h = append(*h, holder{Who: id})
		}
		return nil
	}
	return json.Unmarshal(b, (*[]holder)(h))
}

// Send sends each person their own copy, built in their language, and remembers who holds one.
// id makes the send idempotent (a timer ID, an action's ID): each copy's ID is id + ":" + person.
// It returns who could not be reached (no linked account).
func (c *Copies) Send(ctx context.Context, id string, to []string, n Notice, build func(p *Person, lang string) Message) ([]string, error) {
	var unreached []string
	for _, who := range to {
		p := c.e.Directory().Person(who)
		if p == nil {
			continue
		}
		nn := n
		nn.ID, nn.To = id+":"+who, who
		nn.Build = func(lang string) Message { return build(p, lang) }
		err := c.send(ctx, nn)
		if errors.Is(err, ErrNotLinked) {
			unreached = append(unreached, who)
			continue
		}
		if err != nil {
			return unreached, err
		}
	}
	return unreached, nil
}

// send sends n.To their copy under n.ID. A newer copy replaces the one they held: the old one
// loses its buttons and points down, so that only one copy of a record can be acted on.
func (c *Copies) send(ctx context.Context, n Notice) error {
	who := n.To
	var h holder
	_, err := Update(ctx, c.e.Records, c.key(), func(hs *holderList, _ bool) ([]IndexOp, error) {
		i := slices.IndexFunc(*hs, func(h holder) bool { return h.Who == who })
		if i >= 0 && (*hs)[i].Send == n.ID {
			h = (*hs)[i] // registered by an earlier try of this send
			return nil, ErrUnchanged
		}
		h = holder{Who: who, Send: n.ID}
		if i < 0 {
			*hs = append(*hs, h)
			return nil, nil
		}
		h.Had = true
		// The old copy is named now: the edit may be delivered after the new copy (by another
		// replica's worker), when the ref key already names the new one.
		if ref, _, ok, err := c.e.Refs().Get(ctx, c.refKey(who)); ok && err == nil {
			h.Old = &ref
		}
		(*hs)[i] = h
		return nil, nil
	})
	if err != nil && !errors.Is(err, ErrUnchanged) {
		return err
	}
	if h.Had {
		old := Notice{ID: n.ID + ":supersede", To: who, RefKey: c.refKey(who), Ref: h.Old, Edit: true, Priority: n.Priority, Build: func(lang string) Message {
			return Message{Lines: []string{c.e.Texts.T(lang, "copies.superseded")}}
		}}
		if err := c.e.Notify(ctx, old); err != nil && !errors.Is(err, ErrNotLinked) {
			return err
		}
	}
	n.RefKey = c.refKey(who)
	if n.Record == "" {
		n.Record = c.Record
	}
	return c.e.Notify(ctx, n)
}

// Holders returns who holds a copy.
func (c *Copies) Holders(ctx context.Context) ([]string, error) {
	hs, _, err := Load[holderList](ctx, c.e.Records, c.key())
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Who
	}
	return out, err
}

// Edit replaces every holder's copy with what build returns for them; version makes the edit
// idempotent (the record's version after the change).
func (c *Copies) Edit(ctx context.Context, version int64, build func(p *Person, lang string) Message) error {
	holders, err := c.Holders(ctx)
	if err != nil {
		return err
	}
	for _, who := range holders {
		p := c.e.Directory().Person(who)
		if p == nil {
			continue
		}
		err := c.e.Notify(ctx, Notice{ID: "edit:" + c.refKey(who) + ":" + strconv.FormatInt(version, 10), To: who, RefKey: c.refKey(who), Edit: true,
			Build: func(lang string) Message { return build(p, lang) }})
		if err != nil && !errors.Is(err, ErrNotLinked) {
			return err
		}
	}
	return nil
}

// EditOne replaces one holder's copy.
func (c *Copies) EditOne(ctx context.Context, who string, version int64, build func(p *Person, lang string) Message) error {
	p := c.e.Directory().Person(who)
	if p == nil {
		return nil
	}
	err := c.e.Notify(ctx, Notice{ID: "edit:" + c.refKey(who) + ":" + strconv.FormatInt(version, 10), To: who, RefKey: c.refKey(who), Edit: true,
		Build: func(lang string) Message { return build(p, lang) }})
	if errors.Is(err, ErrNotLinked) {
		return nil
	}
	return err
}

// Forget drops the record of who holds copies (when the record is deleted).
func (c *Copies) Forget(ctx context.Context) error {
	holders, err := c.Holders(ctx)
	if err != nil {
		return err
	}
	for _, who := range holders {
		if err := c.e.Refs().Forget(ctx, c.refKey(who)); err != nil {
			return err
		}
	}
	return Delete(ctx, c.e.Records, c.key())
}
