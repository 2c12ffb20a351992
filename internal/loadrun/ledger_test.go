//go:build loadrun

package loadrun

import (
	"fmt"
	"html"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tiltas/tiltas/adapters/slack/slackfake"
	"github.com/tiltas/tiltas/adapters/telegram/telegramtest"
)

// record is one message a fake accepted: a send or an edit, as the fake recorded it.
type record struct {
	Platform string // telegram or slack
	Chat     string // "tg:<chat id>" or "sl:<channel>"
	Text     string // plain text as sent
	At       time.Time
	Edit     bool
}

var reTag = regexp.MustCompile(`<[^>]*>`)

// ledger reads every accepted send and edit from both fakes' own records, in arrival order.
func ledger(tg *telegramtest.Server, sl *slackfake.Server) []record {
	var out []record
	for _, c := range tg.Calls("") {
		if c.Code != 200 || c.Invalid {
			continue
		}
		edit := false
		switch c.Method {
		case "sendMessage", "sendDocument":
		case "editMessageText", "editMessageReplyMarkup", "editMessageCaption":
			edit = true
		default:
			continue
		}
		id, _ := c.Params["chat_id"].(int64)
		text, _ := c.Params["text"].(string)
		if text == "" {
			text, _ = c.Params["caption"].(string)
		}
		text = html.UnescapeString(reTag.ReplaceAllString(text, ""))
		out = append(out, record{Platform: "telegram", Chat: fmt.Sprintf("tg:%d", id), Text: text, At: c.Time, Edit: edit})
	}
	for _, c := range sl.Calls("") {
		if c.Status != 200 || c.Error != "" {
			continue
		}
		edit := false
		switch c.Method {
		case "chat.postMessage":
		case "chat.update":
			edit = true
		default:
			continue
		}
		out = append(out, record{Platform: "slack", Chat: "sl:" + c.Channel, Text: slackfake.Unescape(c.Params.Get("text")), At: c.Time, Edit: edit})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// key names one logical message to one chat: a signature the run can be sure of.
type key struct {
	Kind    string // concern.card, concern.sent, concern.acked, concern.group, concern.exhausted, meeting.reminder, visit.card, visit.confirmed, visit.reminder
	Subject string // case code, visit number or meeting reminder offset
	Chat    string
}

func (k key) String() string { return k.Kind + " " + k.Subject + " → " + k.Chat }

// classified is the ledger sorted into logical messages.
type classified struct {
	arrivals map[key][]time.Time
	// alertOf maps case codes to the alert IDs their messages named (more than one is a
	// concern raised twice).
	alertOf map[string]map[string]bool
	// visitArea maps visit numbers to their areas (from the cards).
	visitArea map[string]string
	sends     int
	edits     int
	other     int
}

// classify recognises the sends (edits change a message, they are not new ones).
func classify(recs []record, sc *scenario, clock appClock) *classified {
	c := &classified{arrivals: map[key][]time.Time{}, alertOf: map[string]map[string]bool{}, visitArea: map[string]string{}}
	alert := func(caseCode, id string) {
		if c.alertOf[caseCode] == nil {
			c.alertOf[caseCode] = map[string]bool{}
		}
		c.alertOf[caseCode][id] = true
	}
	add := func(k key, at time.Time) { c.arrivals[k] = append(c.arrivals[k], at) }
	for _, r := range recs {
		if r.Edit {
			c.edits++
			if v, ok := field(reVisitCard, r.Text, "visit"); ok {
				c.visitArea[v], _ = field(reVisitCard, r.Text, "area")
			}
			continue
		}
		c.sends++
		get := func(re *regexp.Regexp, name string) string { v, _ := field(re, r.Text, name); return v }
		switch {
		case reCard.MatchString(r.Text):
			alert(get(reCard, "case"), get(reCard, "id"))
			add(key{"concern.card", get(reCard, "case"), r.Chat}, r.At)
		case reSentOK.MatchString(r.Text):
			alert(get(reSentOK, "case"), get(reSentOK, "id"))
			add(key{"concern.sent", get(reSentOK, "case"), r.Chat}, r.At)
		case reSenderAck.MatchString(r.Text):
			add(key{"concern.acked", get(reSenderAck, "case"), r.Chat}, r.At)
		case reGroupNew.MatchString(r.Text):
			alert(get(reGroupNew, "case"), get(reGroupNew, "id"))
			add(key{"concern.group", get(reGroupNew, "case"), r.Chat}, r.At)
		case reExhausted.MatchString(r.Text):
			add(key{"concern.exhausted", get(reExhausted, "case"), r.Chat}, r.At)
		case strings.HasPrefix(r.Text, sc.MeetingTitle) && (reInHours.MatchString(r.Text) || reInMinutes.MatchString(r.Text)):
			var d time.Duration
			if n, err := strconv.Atoi(get(reInHours, "count")); err == nil {
				d = time.Duration(n) * time.Hour
			} else if n, err := strconv.Atoi(get(reInMinutes, "count")); err == nil {
				d = time.Duration(n) * time.Minute
			}
			add(key{"meeting.reminder", durationYAML(nearest(sc.Reminders, d)), r.Chat}, r.At)
		case rePrompt.MatchString(r.Text):
			add(key{"concern.prompt", get(rePrompt, "case"), r.Chat}, r.At)
		case reVisitCard.MatchString(r.Text):
			c.visitArea[get(reVisitCard, "visit")] = get(reVisitCard, "area")
			add(key{"visit.card", get(reVisitCard, "visit"), r.Chat}, r.At)
		case reVisitDone.MatchString(r.Text):
			add(key{"visit.confirmed", get(reVisitDone, "visit"), r.Chat}, r.At)
		case reVisitRem.MatchString(r.Text):
			// Which reminder it is is known once the visits' areas are (below).
			add(key{"visit.reminder:" + get(reVisitRem, "visit"), "", r.Chat}, r.At)
		default:
			c.other++
		}
	}
	// Visit reminders: the offset is the one whose due time is nearest before arrival.
	for k, ats := range c.arrivals {
		no, ok := strings.CutPrefix(k.Kind, "visit.reminder:")
		if !ok {
			continue
		}
		delete(c.arrivals, k)
		start, ok := visitStart(sc, c.visitArea[no])
		for _, at := range ats {
			off := "?"
			if ok {
				app := clock.app(at)
				best := time.Duration(-1)
				for _, o := range visitReminders {
					due := start.Add(-o)
					if !app.Before(due.Add(-time.Minute)) && (best < 0 || due.After(start.Add(-best))) {
						best = o
					}
				}
				if best >= 0 {
					off = durationYAML(best)
				}
			}
			nk := key{"visit.reminder", no + "@" + off, k.Chat}
			c.arrivals[nk] = append(c.arrivals[nk], at)
		}
	}
	return c
}

func visitStart(sc *scenario, area string) (time.Time, bool) {
	for _, v := range sc.Visits {
		if v.Area == area {
			return v.Start, true
		}
	}
	return time.Time{}, false
}

// nearest returns the offset in offs closest to d.
func nearest(offs []time.Duration, d time.Duration) time.Duration {
	best := offs[0]
	for _, o := range offs {
		if abs(o-d) < abs(best-d) {
			best = o
		}
	}
	return best
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// first is the earliest arrival of k, if any.
func (c *classified) first(k key) (time.Time, bool) {
	ats := c.arrivals[k]
	if len(ats) == 0 {
		return time.Time{}, false
	}
	return ats[0], true
}

// groupChat is the Telegram chat of an area's group.
func (m *municipality) groupChat(area string) string {
	for _, g := range m.groups {
		if g.Area == area {
			return fmt.Sprintf("tg:%d", g.Chat)
		}
	}
	return ""
}

// currentText returns what chat shows now for messages matching pred (after edits).
func currentTexts(tg *telegramtest.Server, sl *slackfake.Server, p *person) []string {
	var out []string
	if p.Slack {
		for _, m := range sl.DM(p.SU) {
			out = append(out, m.Plain())
		}
		return out
	}
	for _, m := range tg.Sent(p.TG) {
		out = append(out, m.Text)
	}
	return out
}

// dump writes the ledger and every refused call to the work directory, for reading after a run.
func dump(dir string, recs []record, tg *telegramtest.Server, sl *slackfake.Server, clock appClock) {
	var b strings.Builder
	for _, r := range recs {
		kind := "send"
		if r.Edit {
			kind = "edit"
		}
		text := strings.ReplaceAll(r.Text, "\n", " | ")
		if len([]rune(text)) > 160 {
			text = string([]rune(text)[:160])
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\n", r.At.Format("15:04:05.000"), clock.app(r.At).Format("15:04:05"), r.Chat, kind, text)
	}
	_ = os.WriteFile(dir+"/ledger.tsv", []byte(b.String()), 0o644)
	b.Reset()
	for _, c := range tg.Calls("") {
		if c.Code != 200 && c.Code != 0 {
			fmt.Fprintf(&b, "%s\ttelegram\t%s\t%v\t%d\t%s\n", c.Time.Format("15:04:05.000"), c.Method, c.Params["chat_id"], c.Code, c.Error)
		}
	}
	for _, c := range sl.Calls("") {
		if c.Status != 200 || c.Error != "" {
			fmt.Fprintf(&b, "%s\tslack\t%s\t%s\t%d\t%s\n", c.Time.Format("15:04:05.000"), c.Method, c.Channel, c.Status, c.Error)
		}
	}
	_ = os.WriteFile(dir+"/refused.tsv", []byte(b.String()), 0o644)
}
