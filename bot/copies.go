package bot

import (
	"context"
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

// Send sends each person their own copy, built in their language, and remembers who holds one.
// id makes the send idempotent (a timer ID, an action's ID). It returns who could not be reached
// (no linked account).
func (c *Copies) Send(ctx context.Context, id string, to []string, n Notice, build func(p *Person, lang string) Message) ([]string, error) {
	var unreached, had []string
	_, err := Update(ctx, c.e.Records, c.key(), func(holders *[]string, _ bool) ([]IndexOp, error) {
		had = had[:0]
		for _, who := range to {
			if slices.Contains(*holders, who) {
				had = append(had, who)
			} else {
				*holders = append(*holders, who)
			}
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	for _, who := range to {
		p := c.e.Directory().Person(who)
		if p == nil {
			continue
		}
		if slices.Contains(had, who) {
			// A newer copy replaces the old one: the old one loses its buttons and points down,
			// so that only one copy of a record can be acted on.
			old := Notice{ID: id + ":supersede:" + who, To: who, RefKey: c.refKey(who), Edit: true, Priority: n.Priority, Build: func(lang string) Message {
				return Message{Lines: []string{c.e.Texts.T(lang, "copies.superseded")}}
			}}
			// The old copy is named now: the edit may be delivered after the new copy (by another
			// replica's worker), when RefKey already names the new one.
			if ref, _, err := Load[MessageRef](ctx, c.e.Records, "ref/"+c.refKey(who)); err == nil {
				old.Ref = &ref
			}
			err := c.e.Notify(ctx, old)
			if err != nil && !errors.Is(err, ErrNotLinked) {
				return unreached, err
			}
		}
		nn := n
		nn.ID = id + ":" + who
		nn.To = who
		nn.RefKey = c.refKey(who)
		nn.Build = func(lang string) Message { return build(p, lang) }
		if nn.Record == "" {
			nn.Record = c.Record
		}
		err := c.e.Notify(ctx, nn)
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

// Holders returns who holds a copy.
func (c *Copies) Holders(ctx context.Context) ([]string, error) {
	holders, _, err := Load[[]string](ctx, c.e.Records, c.key())
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return holders, err
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
		if err := Delete(ctx, c.e.Records, "ref/"+c.refKey(who)); err != nil {
			return err
		}
	}
	return Delete(ctx, c.e.Records, c.key())
}
