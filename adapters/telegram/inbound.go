package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot/models"

	"github.com/tiltas/tiltas/bot"
)

// Records keys the adapter keeps.
const (
	offsetKey    = "telegram/poll-offset"
	migratedKeyP = "telegram/migrated/"
)

// offsetRecord is the last update_id whose update is safely in the inbox (or was ignored).
type offsetRecord struct {
	UpdateID int64 `json:"update_id"`
}

// migration is where a group went when it became a supergroup.
type migration struct {
	To int64 `json:"to"`
}

// reBotCommand is a command at the start of a message, with the bot it names, if any.
var reBotCommand = regexp.MustCompile(`^/[A-Za-z0-9_]+(?:@([A-Za-z0-9_]+))?(?:\s|$)`)

// convert turns an update into what the engine handles; ok is false for updates Tiltas leaves
// alone: edits (an edit never re-runs a step), channel posts, messages from bots or without
// text, and in groups anything but commands addressed to this bot. A group's move to a
// supergroup is recorded on the way.
func (a *Adapter) convert(ctx context.Context, u *models.Update) (bot.Incoming, bool) {
	id := "tg:" + strconv.FormatInt(u.ID, 10)
	switch {
	case u.Message != nil:
		return a.message(ctx, id, u.Message)
	case u.CallbackQuery != nil:
		return a.callback(id, u.CallbackQuery)
	case u.MyChatMember != nil:
		return joined(id, u.MyChatMember)
	}
	return bot.Incoming{}, false
}

// joined turns "the bot became a member of a group" (my_chat_member) into bot.KindJoined, so
// that the coordinators learn the group's chat ID; other membership changes are left alone.
func joined(id string, m *models.ChatMemberUpdated) (bot.Incoming, bool) {
	in := func(t models.ChatMemberType) bool {
		return t == models.ChatMemberTypeMember || t == models.ChatMemberTypeAdministrator || t == models.ChatMemberTypeOwner
	}
	if m.Chat.Type == models.ChatTypePrivate || m.Chat.Type == models.ChatTypeChannel || !in(m.NewChatMember.Type) || in(m.OldChatMember.Type) {
		return bot.Incoming{}, false
	}
	return bot.Incoming{ID: id, Kind: bot.KindJoined, From: identity(&m.From), Chat: address(m.Chat, ""), Joined: m.Chat.Title}, true
}

func (a *Adapter) message(ctx context.Context, id string, m *models.Message) (bot.Incoming, bool) {
	switch {
	case m.MigrateToChatID != 0:
		a.recordMigration(ctx, m.Chat.ID, m.MigrateToChatID)
		return bot.Incoming{}, false
	case m.MigrateFromChatID != 0:
		a.recordMigration(ctx, m.MigrateFromChatID, m.Chat.ID)
		return bot.Incoming{}, false
	case m.From == nil || m.From.IsBot || m.Text == "" || m.Chat.Type == models.ChatTypeChannel:
		return bot.Incoming{}, false
	}
	group := m.Chat.Type != models.ChatTypePrivate
	kind := "message"
	if cmd := reBotCommand.FindStringSubmatch(m.Text); cmd != nil {
		kind = "command"
		if group && cmd[1] != "" && !strings.EqualFold(cmd[1], a.username) {
			return bot.Incoming{}, false // /cmd@otherbot
		}
	} else if group {
		return bot.Incoming{}, false // plain talk in a group is not for the bot
	}
	return bot.Incoming{
		ID:   id,
		From: identity(m.From),
		Chat: address(m.Chat, topic(m)),
		Text: m.Text,
		Kind: kind,
	}, true
}

func (a *Adapter) callback(id string, q *models.CallbackQuery) (bot.Incoming, bool) {
	if q.From.IsBot || q.Data == "" || q.ID == "" {
		return bot.Incoming{}, false
	}
	in := bot.Incoming{ID: id, From: identity(&q.From), Button: q.Data, Callback: q.ID, Kind: "callback"}
	var (
		chat  models.Chat
		msgID int
	)
	switch m := q.Message; {
	case m.Message != nil:
		chat, msgID = m.Message.Chat, m.Message.ID
		in.Chat = address(chat, topic(m.Message))
	case m.InaccessibleMessage != nil:
		chat, msgID = m.InaccessibleMessage.Chat, m.InaccessibleMessage.MessageID
		in.Chat = address(chat, "")
	default:
		// A button on an inline message: no chat of ours; answer in the presser's private chat.
		in.Chat = bot.Address{Platform: bot.Telegram, Chat: strconv.FormatInt(q.From.ID, 10)}
		return in, true
	}
	in.Message = &bot.MessageRef{Platform: bot.Telegram, Chat: strconv.FormatInt(chat.ID, 10), ID: strconv.Itoa(msgID)}
	return in, true
}

func identity(u *models.User) bot.Identity {
	return bot.Identity{Platform: bot.Telegram, User: strconv.FormatInt(u.ID, 10)}
}

func address(c models.Chat, thread string) bot.Address {
	return bot.Address{Platform: bot.Telegram, Chat: strconv.FormatInt(c.ID, 10), Thread: thread, Group: c.Type != models.ChatTypePrivate}
}

// topic is the forum topic a message is in; replies in ordinary groups carry a thread ID too,
// but only forum topics are places to answer in.
func topic(m *models.Message) string {
	if m.IsTopicMessage && m.MessageThreadID != 0 {
		return strconv.Itoa(m.MessageThreadID)
	}
	return ""
}

// basicGroup reports whether id is a basic group's: only those become supergroups, whose IDs
// start at -1000000000000.
func basicGroup(id int64) bool { return id < 0 && id > -1000000000000 }

func (a *Adapter) recordMigration(ctx context.Context, from, to int64) {
	if !basicGroup(from) || to == 0 {
		return
	}
	if _, err := bot.Save(ctx, a.deps.Records, migratedKeyP+strconv.FormatInt(from, 10), migration{To: to}, bot.Any); err != nil {
		a.log.Error("group migration not recorded", "chat", from, "to", to, "err", err)
		return
	}
	a.log.Info("group became a supergroup", "chat", from, "to", to)
}

func (a *Adapter) migrated(ctx context.Context, from int64) (int64, bool) {
	m, _, err := bot.Load[migration](ctx, a.deps.Records, migratedKeyP+strconv.FormatInt(from, 10))
	if err != nil {
		if !errors.Is(err, bot.ErrNotFound) {
			a.log.Warn("group migration lookup failed", "chat", from, "err", err)
		}
		return 0, false
	}
	return m.To, m.To != 0
}

// RunPolling receives updates by long polling until ctx ends, on whichever replica holds the
// "telegram-poll" lease (the others wait and take over within a lease when it dies). Each update
// is pushed to the inbox before its update_id is saved as the offset, and polling asks Telegram
// for what follows the saved offset, which confirms everything up to it: a crash loses nothing,
// and an update pushed twice is dropped by the inbox. Call Start first.
func (a *Adapter) RunPolling(ctx context.Context) error {
	if a.cfg.Mode != ModePolling {
		return fmt.Errorf("telegram: RunPolling in %s mode", a.cfg.Mode)
	}
	log := a.log.With("owner", a.deps.Owner)
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = a.deps.Locker.Unlock(ctx, PollLease, a.deps.Owner)
	}()
	standby := max(a.cfg.Lease/4, 100*time.Millisecond)
	leader := false
	failures := 0
	for ctx.Err() == nil {
		ok, err := a.deps.Locker.Lock(ctx, PollLease, a.deps.Owner, a.cfg.Lease)
		if err != nil || !ok {
			if err != nil && ctx.Err() == nil {
				log.Error("poll lease failed", "err", err)
			}
			if leader && err == nil {
				log.Info("poll lease went to another replica")
			}
			leader = false
			sleep(ctx, standby)
			continue
		}
		if !leader {
			log.Info("polling: this replica holds the lease")
			leader = true
		}
		err = a.pollOnce(ctx)
		if err == nil || ctx.Err() != nil {
			failures = 0
			continue
		}
		failures++
		wait := min(time.Duration(1<<min(failures-1, 5))*time.Second, 30*time.Second)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.Code == http.StatusConflict:
			log.Warn("getUpdates conflict: another poller or a webhook is active", "err", err)
			wait = standby
		case errors.As(err, &ae) && ae.RetryAfter > 0:
			wait = time.Duration(ae.RetryAfter) * time.Second
		case errors.As(err, &ae) && (ae.Code == http.StatusUnauthorized || ae.Code == http.StatusNotFound):
			log.Error("getUpdates refused: check the bot token", "err", err)
			wait = 30 * time.Second
		default:
			log.Warn("polling failed; retrying", "err", err, "wait", wait)
		}
		sleep(ctx, wait)
	}
	return nil
}

// pollOnce takes one batch of updates into the inbox and moves the offset past it.
func (a *Adapter) pollOnce(ctx context.Context) error {
	off, _, err := bot.Load[offsetRecord](ctx, a.deps.Records, offsetKey)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return fmt.Errorf("load poll offset: %w", err)
	}
	ups, err := a.getUpdates(ctx, off.UpdateID+1)
	if err != nil {
		return err
	}
	last := off.UpdateID
	var ins []bot.Incoming
	for _, u := range ups {
		if u.update != nil {
			if in, ok := a.convert(ctx, u.update); ok {
				ins = append(ins, in)
			}
		}
		last = u.id
	}
	// The whole batch in one round trip; the offset moves only once it is durable.
	if err := a.deps.Inbox.PushAll(ctx, ins); err != nil {
		return fmt.Errorf("push updates up to %d: %w", last, err)
	}
	if last > off.UpdateID {
		if err := a.saveOffset(ctx, last); err != nil {
			return err
		}
	}
	return nil
}

var errNoChange = errors.New("no change")

// saveOffset moves the stored offset forward only: a replica that lost the lease mid-batch
// cannot move it back.
func (a *Adapter) saveOffset(ctx context.Context, id int64) error {
	_, err := bot.Update(ctx, a.deps.Records, offsetKey, func(o *offsetRecord, _ bool) ([]bot.IndexOp, error) {
		if o.UpdateID >= id {
			return nil, errNoChange
		}
		o.UpdateID = id
		return nil, nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return fmt.Errorf("save poll offset: %w", err)
	}
	return nil
}

// polled is one update from getUpdates; update is nil when it could not be decoded (it is
// skipped, so that one odd update cannot stop polling).
type polled struct {
	id     int64
	update *models.Update
}

// apiError is a Bot API error answer to getUpdates.
type apiError struct {
	Code        int
	Description string
	RetryAfter  int
}

func (e *apiError) Error() string {
	return fmt.Sprintf("telegram getUpdates: %d %s", e.Code, e.Description)
}

// getUpdates asks for the updates from offset on. The library keeps getUpdates to its own loop,
// which confirms updates before they are handled, so the adapter makes this one call itself.
func (a *Adapter) getUpdates(ctx context.Context, offset int64) ([]polled, error) {
	body, err := json.Marshal(map[string]any{
		"offset": offset, "limit": 100, "timeout": int(a.cfg.PollTimeout / time.Second), "allowed_updates": allowedUpdates,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.PollTimeout+a.cfg.SendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.APIURL+"/bot"+a.cfg.Token+"/getUpdates", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("telegram getUpdates: %w", redact(err, a.cfg.Token))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.poll.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = strings.ReplaceAll(ue.URL, a.cfg.Token, "<token>")
		}
		return nil, fmt.Errorf("telegram getUpdates: %w", redact(err, a.cfg.Token))
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("telegram getUpdates: read answer: %w", err)
	}
	var r struct {
		OK          bool              `json:"ok"`
		Result      []json.RawMessage `json:"result"`
		ErrorCode   int               `json:"error_code"`
		Description string            `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("telegram getUpdates: HTTP %d, undecodable answer: %w", resp.StatusCode, err)
	}
	if !r.OK {
		return nil, &apiError{Code: r.ErrorCode, Description: r.Description, RetryAfter: r.Parameters.RetryAfter}
	}
	out := make([]polled, 0, len(r.Result))
	for _, raw := range r.Result {
		var u models.Update
		if err := json.Unmarshal(raw, &u); err != nil {
			var head struct {
				ID int64 `json:"update_id"`
			}
			if json.Unmarshal(raw, &head) != nil || head.ID == 0 {
				return nil, fmt.Errorf("telegram getUpdates: update without an id: %w", err)
			}
			a.log.Warn("undecodable update skipped", "update", head.ID, "err", err)
			out = append(out, polled{id: head.ID})
			continue
		}
		out = append(out, polled{id: u.ID, update: &u})
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
