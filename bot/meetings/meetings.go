// Package meetings keeps the monthly heads' meeting (and any other meeting series, or a one-off
// meeting such as a case conference) happening: occurrences come from an RFC 5545 RRULE with
// Lithuanian public holidays moved or skipped, invitees are reminded in their language and answer
// with one tap, organizers see who comes and collect the agenda, changes reach everyone once, and
// the series is exported as iCalendar. Meetings carry no case details.
package meetings

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tiltas/tiltas/bot"
)

// Holidays says what happens to an occurrence that falls on a Lithuanian public holiday.
type Holidays = bot.Holidays

// Holiday rules.
const (
	HolidaysMove   = bot.HolidaysMove   // to the next working day, same clock time
	HolidaysSkip   = bot.HolidaysSkip   // no meeting that time
	HolidaysIgnore = bot.HolidaysIgnore // meet anyway
)

// Series is a meeting series; a one-off meeting is a series whose rule has COUNT=1. Start is the
// first start in the municipality's time zone: the rule keeps its clock time across DST changes.
type Series struct {
	ID         string          `json:"id"`
	Title      string          `json:"title"`
	RRule      string          `json:"rrule"`
	Start      time.Time       `json:"start"`
	Duration   time.Duration   `json:"duration"`
	Place      string          `json:"place,omitempty"`
	VideoURL   string          `json:"video_url,omitempty"`
	Invitees   bot.Audience    `json:"invitees"`
	Organizers []string        `json:"organizers"`
	Reminders  []time.Duration `json:"reminders"`
	// RSVPDeadline and AgendaCutoff are how long before the start answers are summed up for the
	// organizers and agenda items stop being accepted.
	RSVPDeadline time.Duration `json:"rsvp_deadline"`
	AgendaCutoff time.Duration `json:"agenda_cutoff"`
	Holidays     Holidays      `json:"holidays"`
}

// Config is the flow's settings, built by cmd/tiltas from config.Config.
type Config struct {
	// Series are the configured series. Config is their source of truth: a series changed in the
	// file replaces the stored one (and everyone affected is told) the next time Plan runs.
	Series []Series
	// Parse turns an RRULE into occurrences (cmd passes scheduler.ParseRRule), so that this
	// package needs no RRULE library.
	Parse bot.RecurrenceParser
	// FeedURL is the public base of the per-person calendar feeds: FeedURL/<token> is the page
	// that adds a person's feed, FeedURL/<token>.ics the feed. Empty: no feed links, only .ics
	// files in chat.
	FeedURL string
	// UIDDomain ends every iCalendar UID ("vadovu-pasitarimas@tiltas.example.lt"); default "tiltas".
	UIDDomain string
	// Lead is how long before an occurrence's earliest timer it is planned (default 7 days).
	Lead time.Duration
	// NudgeBefore is how long before the RSVP deadline non-responders are nudged (default 24h).
	NudgeBefore time.Duration
	// MinutesAfter is how long after a meeting ends its organizers are asked for the decisions
	// (default 1h).
	MinutesAfter time.Duration
	// Retention is how long an occurrence (its answers, agenda and minutes) is kept after it
	// ends; zero keeps it.
	Retention time.Duration
	// AgendaMax and MinutesMax limit the length of an agenda item and of the minutes, in
	// characters (defaults 300 and 3000).
	AgendaMax, MinutesMax int
}

func (c *Config) defaults() {
	if c.UIDDomain == "" {
		c.UIDDomain = "tiltas"
	}
	if c.Lead <= 0 {
		c.Lead = 7 * 24 * time.Hour
	}
	if c.NudgeBefore <= 0 {
		c.NudgeBefore = 24 * time.Hour
	}
	if c.MinutesAfter <= 0 {
		c.MinutesAfter = time.Hour
	}
	if c.AgendaMax <= 0 {
		c.AgendaMax = 300
	}
	if c.MinutesMax <= 0 {
		c.MinutesMax = 3000
	}
	c.FeedURL = strings.TrimSuffix(c.FeedURL, "/")
}

// Flow holds the engine and config; its methods are the commands, actions, dialogs and timers.
type Flow struct {
	e      bot.Host
	cfg    Config
	series atomic.Pointer[[]Series] // the configured series, swapped on reload
	occs   *bot.Collection[occurrence]
	sers   *bot.Collection[seriesRec]
	feeds  *bot.Table[feedToken] // by the token's hash
	feedOf *bot.Table[feedOf]    // by person
}

// Register adds the meetings command, dialogs, buttons and timers to e. It does no I/O: cmd runs
// Plan at start and daily, and Plan keeps itself going with timers in between.
func Register(e bot.Host, cfg Config) *Flow {
	cfg.defaults()
	f := &Flow{e: e, cfg: cfg}
	f.SetSeries(cfg.Series)
	f.kinds()
	f.registerCommands()
	f.registerRSVP()
	f.registerAgenda()
	f.registerChanges()
	f.registerTimers()
	f.registerSubject()
	e.OnPurge("meeting/", f.purge)
	e.OnAssignments(f.assignments)
	return f
}

// assignments lists the series person organizes, for the coordinator who deactivates them.
func (f *Flow) assignments(ctx context.Context, lang, person string) []string {
	all, err := f.allSeries(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range all {
		if s.Ended.IsZero() && slices.Contains(s.Organizers, person) {
			out = append(out, f.tr(lang).T("meetings.organizer_of", "Title", s.Title))
		}
	}
	return out
}

// SetSeries replaces the configured series after a config reload. The change reaches stored
// series, occurrences and people the next time Plan runs (or anything else looks at the series).
func (f *Flow) SetSeries(series []Series) {
	series = slices.Clone(series)
	f.series.Store(&series)
}

// purge removes what an occurrence past its retention links to; the engine deletes the record.
func (f *Flow) purge(ctx context.Context, key string) error {
	id := strings.TrimPrefix(key, "meeting/")
	if err := f.e.Copies(summaryRecord(id)).Forget(ctx); err != nil {
		return err
	}
	return f.occs.Delete(ctx, id)
}

// Answers to the invitation.
const (
	attending    = "yes"
	notAttending = "no"
	sendsDeputy  = "deputy"
	maybe        = "maybe"
)

var answers = []string{attending, notAttending, sendsDeputy, maybe}

// seriesRec is a series as stored: configured ones are seeded from config, others created in chat.
type seriesRec struct {
	Series
	Source    string    `json:"source"` // "config" or "chat"
	Hash      string    `json:"hash,omitempty"`
	Ended     time.Time `json:"ended,omitzero"` // nothing starts at or after this
	Seq       int       `json:"seq"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	CreatedBy string    `json:"created_by,omitempty"`
	// By made the latest change ("system": the config), and Change says what it was (the field
	// an organizer changed in chat).
	By     string `json:"by,omitempty"`
	Change string `json:"change,omitempty"`
	// CalSeq counts the changes its occurrences made to the series' calendar event (each
	// cancelled or skipped one is an EXDATE there), at CalStamp the latest; Exdates keeps their
	// rule times after the occurrences themselves are gone.
	CalSeq   int         `json:"cal_seq,omitempty"`
	CalStamp time.Time   `json:"cal_stamp,omitzero"`
	Exdates  []time.Time `json:"exdates,omitempty"`
	Fx       bot.Ledger  `json:"fx"`
}

// rsvp is one invitee's current answer.
type rsvp struct {
	Answer string    `json:"answer"`
	Deputy string    `json:"deputy,omitempty"`
	At     time.Time `json:"at"`
}

// item is one agenda item.
type item struct {
	N    int       `json:"n"`
	By   string    `json:"by"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// occurrence is one meeting of a series, keyed by the date the rule gives it ("series.20260101"),
// so that a move or a new clock time keeps its answers and agenda.
type occurrence struct {
	ID        string    `json:"id"`
	Series    string    `json:"series"`
	Orig      time.Time `json:"orig"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Holiday   string    `json:"holiday,omitempty"` // the holiday it was moved from
	Moved     bool      `json:"moved,omitempty"`   // moved by an organizer
	Cancelled bool      `json:"cancelled,omitempty"`
	// Skipped: the holiday rule says no meeting this time (Cancelled too); stored so that the
	// invitees are told when it is planned.
	Skipped    bool            `json:"skipped,omitempty"`
	RSVP       map[string]rsvp `json:"rsvp,omitempty"`
	Agenda     []item          `json:"agenda,omitempty"`
	Items      int             `json:"items,omitempty"`
	Done       map[string]bool `json:"done,omitempty"` // effects of timers taken
	Skip       map[string]bool `json:"skip,omitempty"` // effects whose time passed untaken
	Unreached  []string        `json:"unreached,omitempty"`
	Minutes    string          `json:"minutes,omitempty"`
	MinutesBy  string          `json:"minutes_by,omitempty"`
	MinutesSeq int             `json:"minutes_seq,omitempty"`
	Seq        int             `json:"seq"`
	// SeriesSeq is the series' Seq the occurrence was last brought in line with.
	SeriesSeq int       `json:"series_seq,omitempty"`
	Updated   time.Time `json:"updated"`
	// By made the latest change: empty for a series change or a timer, which tell nobody of it.
	By string     `json:"by,omitempty"`
	Fx bot.Ledger `json:"fx"`
}

const (
	idxSeries      = "meetings:series"
	idxOccurrences = "meetings:occurrences"
)

func seriesKey(id string) string { return "meetingseries/" + id }
func occKey(id string) string    { return "meeting/" + id }

// occID names the occurrence the rule puts on orig's date.
func occID(series string, orig time.Time) string { return series + "." + orig.Format("20060102") }

// splitOcc returns the series ID and rule date of an occurrence ID.
func splitOcc(id string) (string, string, bool) {
	i := strings.LastIndexByte(id, '.')
	if i <= 0 || len(id)-i-1 != 8 {
		return "", "", false
	}
	return id[:i], id[i+1:], true
}

var errDone = errors.New("already done")

func (f *Flow) loc() *time.Location { return f.e.Directory().Location }

// loadSeries returns the stored series with id.
func (f *Flow) loadSeries(ctx context.Context, id string) (*seriesRec, error) {
	s, err := f.sers.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	f.localizeSeries(&s)
	return &s, nil
}

func (f *Flow) localizeSeries(s *seriesRec) {
	s.Start = s.Start.In(f.loc())
	if !s.Ended.IsZero() {
		s.Ended = s.Ended.In(f.loc())
	}
}

// allSeries returns every stored series, configured ones first brought in line with config.
func (f *Flow) allSeries(ctx context.Context) ([]*seriesRec, error) {
	if err := f.syncConfig(ctx); err != nil {
		return nil, err
	}
	all, err := f.sers.Live(ctx, math.Inf(-1), math.Inf(1))
	if err != nil {
		return nil, err
	}
	out := make([]*seriesRec, len(all))
	for i := range all {
		f.localizeSeries(&all[i])
		out[i] = &all[i]
	}
	return out, nil
}

// load returns an occurrence and its series. An occurrence not planned yet (beyond the planning
// horizon) is built from the rule, unsaved, so that people can answer early.
func (f *Flow) load(ctx context.Context, id string) (occurrence, *seriesRec, error) {
	sid, _, ok := splitOcc(id)
	if !ok {
		return occurrence{}, nil, fmt.Errorf("occurrence %q: %w", id, bot.ErrNotFound)
	}
	s, err := f.loadSeries(ctx, sid)
	if err != nil {
		return occurrence{}, nil, err
	}
	o, err := f.occs.Get(ctx, id)
	if errors.Is(err, bot.ErrNotFound) {
		slot, ok := f.slotOf(s, id)
		if !ok {
			return occurrence{}, nil, fmt.Errorf("occurrence %q: %w", id, bot.ErrNotFound)
		}
		return f.newOcc(s, slot), s, nil
	}
	if err != nil {
		return occurrence{}, nil, err
	}
	f.localize(&o)
	return o, s, nil
}

func (f *Flow) localize(o *occurrence) {
	o.Orig, o.Start, o.End = o.Orig.In(f.loc()), o.Start.In(f.loc()), o.End.In(f.loc())
}

func (f *Flow) newOcc(s *seriesRec, slot Slot) occurrence {
	return occurrence{ID: occID(s.ID, slot.Orig), Series: s.ID, Orig: slot.Orig, Start: slot.Start,
		End: slot.Start.Add(s.Duration), Holiday: slot.Holiday, SeriesSeq: s.Seq}
}

// plant stores the occurrence id of s, built from the rule, unless it is stored: what passed
// before now is skipped, but for the latest reminder when catchUp.
func (f *Flow) plant(ctx context.Context, s *seriesRec, id string, catchUp bool) error {
	if _, err := f.occs.Get(ctx, id); !errors.Is(err, bot.ErrNotFound) {
		return err
	}
	slot, ok := f.slotOf(s, id)
	if !ok {
		return fmt.Errorf("occurrence %q: %w", id, bot.ErrNotFound)
	}
	o := f.newOcc(s, slot)
	f.skipPast(s, &o, f.e.Now(), catchUp)
	o.Seq, o.Updated = 1, f.e.Now()
	_, _, err := f.occs.Create(ctx, id, o)
	return err
}

// update changes an occurrence by compare-and-set, storing it from the rule first if it is not
// stored yet; by is who changes it (empty: a timer or a series change). fn may run more than
// once; what the change owes follows from the state (occEffects).
func (f *Flow) update(ctx context.Context, id, by string, fn func(o *occurrence, s *seriesRec) error) (occurrence, *seriesRec, error) {
	sid, _, ok := splitOcc(id)
	if !ok {
		return occurrence{}, nil, fmt.Errorf("occurrence %q: %w", id, bot.ErrNotFound)
	}
	s, err := f.loadSeries(ctx, sid)
	if err != nil {
		return occurrence{}, nil, err
	}
	if err := f.plant(ctx, s, id, false); err != nil {
		return occurrence{}, nil, err
	}
	o, err := f.occs.Change(ctx, id, func(o *occurrence) error {
		f.localize(o)
		if err := fn(o, s); err != nil {
			if errors.Is(err, errDone) {
				return bot.ErrUnchanged
			}
			return err
		}
		o.Seq++
		o.Updated = f.e.Now()
		o.By = by
		return nil
	})
	if err != nil {
		return occurrence{}, nil, err
	}
	f.localize(&o)
	return o, s, nil
}

// invitees returns who is invited to s now, resolved against the current directory.
func (f *Flow) invitees(s *seriesRec) []string { return f.e.Directory().Resolve(s.Invitees) }

// deputies returns who comes in someone's place, by principal.
func deputies(o *occurrence) map[string]string {
	out := map[string]string{}
	for who, a := range o.RSVP {
		if a.Answer == sendsDeputy && a.Deputy != "" {
			out[who] = a.Deputy
		}
	}
	return out
}

// deputyFor returns whose deputy person is at o, or "".
func deputyFor(o *occurrence, person string) string {
	for who, d := range deputies(o) {
		if d == person {
			return who
		}
	}
	return ""
}

// audience is everyone who hears about o: invitees, the deputies they send, and organizers.
func (f *Flow) audience(s *seriesRec, o *occurrence) []string {
	out := f.invitees(s)
	for _, d := range deputies(o) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, id := range s.Organizers {
		if !slices.Contains(out, id) && f.e.Directory().Person(id) != nil {
			out = append(out, id)
		}
	}
	return out
}

// isOrganizer reports whether p may change s: its organizers and the coordinators.
func (f *Flow) isOrganizer(p *bot.Person, s *seriesRec) bool {
	return p.Has(bot.RoleCoordinator) || slices.Contains(s.Organizers, p.ID)
}

func (f *Flow) isInvitee(p *bot.Person, s *seriesRec) bool {
	return slices.Contains(f.invitees(s), p.ID)
}

// sees reports whether p may see o at all: only the people it concerns do.
func (f *Flow) sees(p *bot.Person, s *seriesRec, o *occurrence) bool {
	return f.isOrganizer(p, s) || f.isInvitee(p, s) || deputyFor(o, p.ID) != ""
}

// refuse records a refused action and tells the person they may not do it.
func (f *Flow) refuse(ctx context.Context, r *bot.Request, record, reason string) error {
	f.e.Refused(ctx, r.Person.ID, record, reason)
	return bot.Tell("meetings.forbidden")
}

func (f *Flow) name(id string) string {
	if p := f.e.Directory().Person(id); p != nil {
		return p.Name
	}
	return id
}
