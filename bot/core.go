package bot

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// registerCore adds what every deployment has: help, linking, cancelling, language, invites.
func (e *Engine) registerCore() {
	e.registerPeople()
	e.Command(Command{Name: "desk", Aliases: []string{"stalas"}, Help: "help.desk", Private: true, Shown: e.MayUseDesk, Run: e.deskCommand})
	e.Command(Command{Name: "help", Aliases: []string{"pagalba"}, Help: "help.help", Run: e.help})
	e.Command(Command{Name: "start", Help: "help.start", Run: func(ctx context.Context, r *Request) error {
		if len(r.Args) == 1 && r.Private() {
			return r.Say(ctx, "access.already_linked", "Name", r.Person.Name)
		}
		return e.help(ctx, r)
	}})
	e.Command(Command{Name: "link", Help: "help.link", Run: func(ctx context.Context, r *Request) error {
		return r.Say(ctx, "access.already_linked", "Name", r.Person.Name)
	}})
	e.Command(Command{Name: "cancel", Aliases: []string{"atsaukti"}, Help: "help.cancel", Run: func(ctx context.Context, r *Request) error {
		had, err := e.CancelDialog(ctx, r)
		if err != nil {
			return err
		}
		if !had {
			return r.Say(ctx, "dialog.nothing")
		}
		return r.Say(ctx, "dialog.cancelled")
	}})
	e.Command(Command{Name: "lang", Aliases: []string{"kalba"}, Help: "help.lang", Run: e.langCommand})
	e.Action("lang", func(ctx context.Context, r *Request, a Action) error {
		return e.setLang(ctx, r, a.Arg)
	})
	e.Command(Command{Name: "revoke", Help: "help.revoke", Roles: []Role{RoleCoordinator}, Private: true, Run: func(ctx context.Context, r *Request) error {
		if len(r.Args) != 1 || e.Directory().Person(r.Args[0]) == nil {
			return Tell("access.revoke_usage")
		}
		ok, err := e.Unlink(ctx, r.Args[0], r.Person.ID)
		if err != nil {
			return err
		}
		if !ok {
			return r.Say(ctx, "access.revoke_none")
		}
		return r.Say(ctx, "access.revoked", "Name", e.Directory().Person(r.Args[0]).Name)
	}})
	e.Action("dialog", func(ctx context.Context, r *Request, a Action) error {
		seq, value, _ := strings.Cut(a.Arg, "|")
		n, _ := strconv.Atoi(seq)
		key := a.Ref
		st, _, err := Load[dialogState](ctx, e.Records, key)
		if err != nil {
			return Tell("core.stale")
		}
		if st.Person != r.Person.ID {
			e.Refused(ctx, r.Person.ID, "dialog/"+st.Dialog, "not_own_dialog")
			return Tell("core.stale")
		}
		// Answer in the dialog's own chat, whichever message the button was on.
		r.Chat = st.Chat
		_, err = e.dialogInput(ctx, r, "", &dialogPress{seq: n, value: value})
		return err
	})
	e.OnTimer("dialog.expire", e.dialogTimer)
	e.registerCases()
	e.registerSubjects()
}

func (e *Engine) help(ctx context.Context, r *Request) error {
	m := Message{Title: r.T("help.title", "Name", r.Person.Name)}
	for _, c := range e.Commands() {
		if c.Help == "" || len(c.Roles) > 0 && !r.Person.HasAny(c.Roles...) || c.Shown != nil && !c.Shown(r.Person) {
			continue
		}
		m.Lines = append(m.Lines, "/"+c.Name+" — "+r.T(c.Help))
	}
	return r.Reply(ctx, m)
}

func (e *Engine) langCommand(ctx context.Context, r *Request) error {
	if len(r.Args) == 1 {
		return e.setLang(ctx, r, strings.ToLower(r.Args[0]))
	}
	var row []Button
	for _, l := range Languages {
		row = append(row, Btn(e.Texts.T(l, "lang.name"), "lang", "", l))
	}
	return r.Reply(ctx, Message{Lines: []string{r.T("lang.choose")}, Buttons: [][]Button{row}})
}

func (e *Engine) setLang(ctx context.Context, r *Request, lang string) error {
	if !slices.Contains(Languages, lang) {
		return Tell("lang.unknown")
	}
	if err := e.SetLanguage(ctx, r.Person.ID, lang); err != nil {
		return err
	}
	r.Lang = lang
	if r.Message != nil {
		r.Toast(r.T("lang.set"))
		return r.Edit(ctx, Message{Lines: []string{r.T("lang.set")}})
	}
	return r.Say(ctx, "lang.set")
}

// IsProblem reports whether err is meant for the user.
func IsProblem(err error) bool {
	var p *Problem
	return errors.As(err, &p)
}
