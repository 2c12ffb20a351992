package bot

import (
	"context"
	"log/slog"
	"time"
)

// Host is what a flow is given: the ports it uses, and nothing of the stores beneath. A flow
// registers its commands, buttons, dialogs and timers on it, keeps its records in collections made
// from it (NewCollection, NewTable), and reaches the rest of the world through these methods. The
// engine is the one Host; the interface is sealed so that collections can be made from it.
type Host interface {
	// Registration, at Register time.
	Command(c Command)
	Action(name string, fn ActionFunc)
	Dialog(d *Dialog)
	OnTimer(kind string, fn TimerFunc)
	OnPurge(prefix string, fn func(ctx context.Context, key string) error)
	OnExport(name string, fn ExportFunc)
	OnErase(name string, fn EraseFunc)
	// OnAssignments registers what the flow has a person down for, listed when they are
	// deactivated so that it is handed over.
	OnAssignments(fn AssignmentsFunc)

	// The world as it is now.
	Now() time.Time
	Directory() *Directory
	Catalog() *Catalog
	Language(ctx context.Context, p *Person) string
	AddressOf(ctx context.Context, person string) (Address, error)
	ValidCaseCode(code string) bool
	Case(ctx context.Context, code string) (Case, error)

	// Acting.
	StartDialog(ctx context.Context, r *Request, name string, pre Answers) error
	Refused(ctx context.Context, actor, record, reason string)
	Record(ctx context.Context, ev AuditEvent)
	EnsureCase(ctx context.Context, code, by string) (Case, bool, error)
	Assign(ctx context.Context, code, person string, role Role, by string) error
	Unassign(ctx context.Context, code, person, by string) error
	Number(ctx context.Context, name string) (int64, error)
	PlanSeries(ctx context.Context, p SeriesPlan) error
	Retain(ctx context.Context, key string, until time.Time) error
	Unretain(ctx context.Context, key string) error

	// Messages outside a record's effects: a copy shown on request, and erasures.
	Copies(record string) *Copies
	Refs() MessageRefs
	Apply(ctx context.Context, fx Effects) error
	RemoveMessage(ctx context.Context, refKey, lang string) error
	DiscardQueued(ctx context.Context, pick func(refKey string) bool) ([]Outgoing, error)

	// Reporting.
	Logger() *slog.Logger
	Count(kind string)

	engine() *Engine
}

var _ Host = (*Engine)(nil)

func (e *Engine) engine() *Engine { return e }

// Catalog returns the texts in every language.
func (e *Engine) Catalog() *Catalog { return e.Texts }

// Logger returns the engine's logger.
func (e *Engine) Logger() *slog.Logger { return e.Log }

// ObservedKinds are the kinds of event the engine and its flows count (Engine.Observe), so that
// the metrics can show each at 0 from the start.
var ObservedKinds = []string{"escalation", "dialog.started", "dialog.done", "dialog.expired", "delivery.failed",
	"effects.applied", "effects.deferred", "reconcile.repaired", "alert.unreached"}

// Count counts an event for the metrics ("escalation", "dialog.expired").
func (e *Engine) Count(kind string) { e.Observe(kind) }
