package visits

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// registerSubject adds the flow's part of data-subject requests. A case's part is each visit to
// it with the case's address and outcome report; erasing the case takes it out of every visit
// (the participants' details and the report request are edited to match, the outcome reports
// sent to the case's people become a "removed" line) and leaves the visit, which is about the
// team, to its retention. A person's part is their place in each visit; erasing a person clears
// what they wrote about themselves (the reason and note of a decline or withdrawal, a suggested
// time) and keeps their ID in the visits, which are records about cases.
func (f *Flow) registerSubject() {
	f.e.OnExport("visits", f.exportSubject)
	f.e.OnErase("visits", f.eraseSubject)
}

type reportExport struct {
	Case   string    `json:"case"`
	Result string    `json:"result"`
	At     time.Time `json:"at"`
}

type personVisit struct {
	ID        string         `json:"id"`
	No        string         `json:"no"`
	Start     time.Time      `json:"start"`
	End       time.Time      `json:"end"`
	Area      string         `json:"area"`
	Organizer bool           `json:"organizer,omitempty"`
	Invited   bool           `json:"invited,omitempty"`
	Reporter  bool           `json:"reporter,omitempty"`
	Reply     *Reply         `json:"reply,omitempty"`
	Reports   []reportExport `json:"reports,omitempty"`
}

type caseVisit struct {
	ID           string    `json:"id"`
	No           string    `json:"no"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Area         string    `json:"area"`
	Status       Status    `json:"status"`
	Organizer    string    `json:"organizer"`
	Participants []string  `json:"participants"`
	Case         CaseVisit `json:"case"`
}

// each calls fn with every stored visit.
func (f *Flow) each(ctx context.Context, fn func(v *Visit) error) error {
	return f.visits.Each(ctx, fn)
}

func (f *Flow) exportSubject(ctx context.Context, s bot.Subject) (any, error) {
	if s.Case != "" {
		out := []caseVisit{}
		err := f.each(ctx, func(v *Visit) error {
			if i := v.caseIndex(s.Case); i >= 0 {
				out = append(out, caseVisit{ID: v.ID, No: v.No, Start: v.Start, End: v.End, Area: v.Area, Status: v.Status,
					Organizer: v.Organizer, Participants: v.Participants(), Case: v.Cases[i]})
			}
			return nil
		})
		return out, err
	}
	p := s.Person
	out := []personVisit{}
	err := f.each(ctx, func(v *Visit) error {
		pv := personVisit{ID: v.ID, No: v.No, Start: v.Start, End: v.End, Area: v.Area,
			Organizer: v.Organizer == p, Invited: v.invited(p), Reporter: v.Reporter == p}
		if r, ok := v.Replies[p]; ok {
			pv.Reply = &r
		}
		for _, c := range v.Cases {
			if c.Outcome != nil && c.Outcome.By == p {
				pv.Reports = append(pv.Reports, reportExport{Case: c.Code, Result: c.Outcome.Result, At: c.Outcome.At})
			}
		}
		if pv.Organizer || pv.Invited || pv.Reporter || pv.Reply != nil || len(pv.Reports) > 0 {
			out = append(out, pv)
		}
		return nil
	})
	return out, err
}

func (f *Flow) eraseSubject(ctx context.Context, s bot.Subject) (bot.Erased, error) {
	var x bot.Erased
	var ids []string
	err := f.each(ctx, func(v *Visit) error {
		if s.Case != "" && v.caseIndex(s.Case) >= 0 || s.Person != "" && v.Replies[s.Person] != v.Replies[s.Person].private() {
			ids = append(ids, v.ID)
		}
		return nil
	})
	if err != nil {
		return x, err
	}
	for _, id := range ids {
		var changed bool
		var err error
		if s.Case != "" {
			changed, err = f.eraseCase(ctx, id, s.Case)
		} else {
			changed, err = f.erasePerson(ctx, id, s.Person)
		}
		if err != nil {
			return x, err
		}
		if changed {
			x.Change(key(id))
		}
	}
	return x, nil
}

// private is the reply without what its person wrote about themselves.
func (r Reply) private() Reply {
	r.Reason, r.Note, r.Suggest = "", "", time.Time{}
	return r
}

func (f *Flow) erasePerson(ctx context.Context, id, person string) (bool, error) {
	_, _, err := f.change(ctx, id, "system", func(v *Visit) error {
		r, ok := v.Replies[person]
		if !ok || r == r.private() {
			return errSame
		}
		v.Replies[person] = r.private()
		return nil
	})
	if errors.Is(err, errSame) {
		return false, nil
	}
	return err == nil, err
}

// eraseCase takes the case out of the visit. The change goes the usual way, so that the team's
// details are edited (or withdrawn, when the visit closes for want of other reports) and the
// timers follow; then the report request is brought in line and the reports sent about the case
// are removed from its people's chats.
func (f *Flow) eraseCase(ctx context.Context, id, code string) (bool, error) {
	_, v, err := f.change(ctx, id, "system", func(v *Visit) error {
		i := v.caseIndex(code)
		if i < 0 {
			return errSame
		}
		v.Cases = slices.Delete(v.Cases, i, i+1)
		if v.Status == Reporting && len(v.pendingCases()) == 0 {
			v.Status = Closed
		}
		return nil
	})
	if errors.Is(err, errSame) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := f.dropQueued(ctx, v, code); err != nil {
		return true, err
	}
	prefix := reportRef(v.ID, code, "")
	err = f.e.Refs().Each(ctx, prefix, func(ref string) error {
		lang := ""
		if p := f.e.Directory().Person(strings.TrimPrefix(ref, prefix)); p != nil {
			lang = f.e.Language(ctx, p)
		}
		return f.e.RemoveMessage(ctx, ref, lang)
	})
	return true, err
}

// dropQueued drops what is still in the outbox and shows case code: reports about it, and the
// team's details not yet delivered (held over someone's quiet hours), whose edits would find no
// message to change. Those details go again with what the visit shows now.
func (f *Flow) dropQueued(ctx context.Context, v Visit, code string) error {
	reports, briefs := reportRef(v.ID, code, ""), "visit/"+v.ID+"/brief/"
	dropped, err := f.e.DiscardQueued(ctx, func(k string) bool {
		if strings.HasPrefix(k, reports) {
			return true
		}
		if !strings.HasPrefix(k, briefs) {
			return false
		}
		_, _, ok, err := f.e.Refs().Get(ctx, k)
		return err == nil && !ok // never delivered
	})
	if err != nil {
		return err
	}
	now := shown(v)
	again := map[string]bool{}
	for _, o := range dropped {
		order, ok := now[o.Person]
		if !strings.HasPrefix(o.RefKey, briefs) || !ok || again[o.Person] {
			continue
		}
		again[o.Person] = true
		id := "visit:" + v.ID + ":brief:" + o.Person + ":" + strconv.FormatInt(order, 10) + ":r" + strconv.FormatInt(v.Rev(), 10) + ":again"
		if err := f.e.Apply(ctx, f.shareBrief(v, o.Person, bot.Notice{ID: id, RefKey: briefRef(v.ID, o.Person, order), Priority: f.prio(v)})); err != nil {
			return err
		}
	}
	return nil
}

// reportRef names the outcome report on case code sent to person, so that erasing the case can
// remove it.
func reportRef(id, code, person string) string {
	return "visit/" + id + "/report/" + code + "/" + person
}
