package meetings

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// What a series created in chat gets, as config's defaults give a configured one.
var (
	defaultReminders = []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour}
	defaultRSVP      = 48 * time.Hour
	defaultCutoff    = 24 * time.Hour
)

var byday = [...]string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

// nth is which of its weekdays in the month t falls on: 1 to 4, or -1 for the last.
func nth(t time.Time) int {
	n := (t.Day()-1)/7 + 1
	if n == 5 {
		return -1
	}
	return n
}

// ruleFor writes the RRULE for a repeat choice anchored at start.
func ruleFor(repeat string, start time.Time) string {
	wd := byday[start.Weekday()]
	switch repeat {
	case "weekly":
		return "FREQ=WEEKLY;BYDAY=" + wd
	case "monthly_nth":
		return fmt.Sprintf("FREQ=MONTHLY;BYDAY=%d%s", nth(start), wd)
	case "monthly_day":
		return fmt.Sprintf("FREQ=MONTHLY;BYMONTHDAY=%d", start.Day())
	}
	return "FREQ=DAILY;COUNT=1"
}

func (f *Flow) repeatOptions(r *bot.Request, a bot.Answers) []bot.Option {
	start := a.Time("start", f.loc())
	t := f.tr(r.Lang)
	wd := t.T(fmt.Sprintf("meetings.weekday_acc.%d", int(start.Weekday())))
	n := "meetings.nth.last"
	if k := nth(start); k > 0 {
		n = fmt.Sprintf("meetings.nth.%d", k)
	}
	return []bot.Option{
		{Value: "once", Label: t.T("meetings.repeat.once")},
		{Value: "weekly", Label: t.T("meetings.repeat.weekly", "Weekday", wd)},
		{Value: "monthly_nth", Label: t.T("meetings.repeat.monthly_nth", "Nth", t.T(n), "Weekday", wd)},
		{Value: "monthly_day", Label: t.T("meetings.repeat.monthly_day", "Day", start.Day())},
	}
}

// checkList reads invitees typed as role names, person IDs and institution IDs, and keeps them
// as "roles:a,b people:c,d" (an institution stands for its people).
func (f *Flow) checkList(_ context.Context, _ *bot.Request, v string, _ bot.Answers) (string, error) {
	dir := f.e.Directory()
	var roles, people []string
	for _, tok := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' }) {
		switch {
		case bot.Role(tok).Valid():
			roles = append(roles, tok)
		case dir.Person(tok) != nil:
			people = append(people, tok)
		case dir.Institution(tok) != nil:
			for _, p := range dir.Select(nil, tok, "") {
				people = append(people, p.ID)
			}
		default:
			return "", bot.Tell("meetings.new.bad_who", "Token", tok)
		}
	}
	if len(roles) == 0 && len(people) == 0 {
		return "", bot.Tell("meetings.new.bad_who", "Token", v)
	}
	slices.Sort(roles)
	slices.Sort(people)
	return "roles:" + strings.Join(slices.Compact(roles), ",") + " people:" + strings.Join(slices.Compact(people), ","), nil
}

// audienceFor turns the invitees answer into an audience.
func audienceFor(a bot.Answers) bot.Audience {
	switch a["who"] {
	case "leaders":
		return bot.Audience{Roles: []bot.Role{bot.RoleLeader}}
	case "leaders_more":
		return bot.Audience{Roles: []bot.Role{bot.RoleLeader, bot.RolePolice, bot.RoleSchool}}
	}
	var aud bot.Audience
	for _, part := range strings.Fields(a["list"]) {
		k, v, _ := strings.Cut(part, ":")
		for _, x := range strings.Split(v, ",") {
			switch {
			case x == "":
			case k == "roles":
				aud.Roles = append(aud.Roles, bot.Role(x))
			case k == "people":
				aud.People = append(aud.People, x)
			}
		}
	}
	return aud
}

func (f *Flow) newSeries(r *bot.Request, a bot.Answers) Series {
	start := a.Time("start", f.loc())
	return Series{Title: a["title"], RRule: ruleFor(a["repeat"], start), Start: start,
		Duration: time.Duration(a.Int("minutes")) * time.Minute, Place: a["place"], VideoURL: a["video"],
		Invitees: audienceFor(a), Organizers: []string{r.Person.ID}, Reminders: defaultReminders,
		RSVPDeadline: defaultRSVP, AgendaCutoff: defaultCutoff, Holidays: HolidaysMove}
}

func (f *Flow) newSummary(r *bot.Request, a bot.Answers) []string {
	t := f.tr(r.Lang)
	s := f.newSeries(r, a)
	var repeat string
	for _, o := range f.repeatOptions(r, a) {
		if o.Value == a["repeat"] {
			repeat = o.Label
		}
	}
	var names []string
	for _, id := range f.e.Directory().Resolve(s.Invitees) {
		names = append(names, f.name(id))
	}
	lines := []string{s.Title,
		t.T("meetings.card.when", "When", f.e.Catalog().Span(r.Lang, s.Start, s.Start.Add(s.Duration))),
		t.T("meetings.new.sum_repeat", "Repeat", repeat)}
	if s.Place != "" {
		lines = append(lines, t.T("meetings.card.place", "Place", s.Place))
	}
	if s.VideoURL != "" {
		lines = append(lines, t.T("meetings.card.video", "URL", s.VideoURL))
	}
	return append(lines, t.N("meetings.new.sum_who", len(names), "Names", strings.Join(names, ", ")))
}

// created stores a series a coordinator made in chat, plans it, and invites everyone to its
// first occurrence.
func (f *Flow) created(ctx context.Context, r *bot.Request, a bot.Answers) error {
	if !r.Person.Has(bot.RoleCoordinator) {
		return f.refuse(ctx, r, "command/meeting.new", "role")
	}
	s := f.newSeries(r, a)
	if !s.Start.After(f.e.Now()) {
		return bot.Tell("meetings.past")
	}
	s.ID = "m" + bot.NewID()[:7]
	now := f.e.Now()
	slots, err := Slots(s, f.cfg.Parse, s.Start.Add(-time.Minute), s.Start.AddDate(1, 1, 0))
	if err != nil {
		return err
	}
	i := slices.IndexFunc(slots, func(sl Slot) bool { return !sl.Skipped && sl.Start.Add(s.Duration).After(f.e.Now()) })
	if i < 0 {
		return r.Say(ctx, "meetings.new.none")
	}
	first := f.newOcc(&seriesRec{Series: s}, slots[i])
	// Stored before the series, so that planning does not also remind of it now: the invitation
	// does that, and stands for the reminders due within a day of it (the last one, with the
	// final agenda, still comes).
	soon := f.e.Now().Add(24 * time.Hour)
	for _, off := range s.Reminders {
		if off != slices.Min(s.Reminders) && Before(first.Start, off).Before(soon) {
			first.mark(&first.Skip, "remind:"+offKey(off)+"@"+unix(first.Start))
		}
	}
	f.skipPast(&seriesRec{Series: s}, &first, f.e.Now(), false)
	first.Seq, first.Updated = 1, now
	if _, _, err := f.occs.Create(ctx, first.ID, first); err != nil {
		return err
	}
	rec := seriesRec{Series: s, Source: "chat", Seq: 1, Created: now, Updated: now, CreatedBy: r.Person.ID, By: r.Person.ID}
	if _, _, err := f.sers.Create(ctx, s.ID, rec); err != nil {
		return err
	}
	if err := f.planSeries(ctx, &rec); err != nil {
		return err
	}
	n := 0
	for _, id := range f.audience(&rec, &first) {
		if id != r.Person.ID {
			n++
		}
	}
	if err := r.Reply(ctx, bot.Message{Lines: []string{f.tr(r.Lang).N("meetings.new.done", n, "Title", s.Title)}}); err != nil {
		return err
	}
	return f.showSummary(ctx, &rec, &first, r.Person.ID)
}
