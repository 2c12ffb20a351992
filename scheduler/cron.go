package scheduler

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/tiltas/tiltas/bot"
)

// Job is a recurring job: planning upcoming meeting occurrences, the daily retention purge.
type Job struct {
	Name     string
	Schedule cron.Schedule
	Run      func(ctx context.Context) error
}

// Cron runs recurring jobs on robfig/cron. Every replica runs the same crons; each run takes a
// per-run idempotency mark first (job name + scheduled time), so exactly one replica acts.
type Cron struct {
	Marks bot.Marks
	Log   *slog.Logger
	Loc   *time.Location

	mu   sync.Mutex
	jobs []Job
}

// Add registers a job. spec is a cron spec ("15 3 * * *") in the Cron's location.
func (c *Cron) Add(name, spec string, run func(ctx context.Context) error) error {
	s, err := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor).Parse(spec)
	if err != nil {
		return err
	}
	c.AddSchedule(name, s, run)
	return nil
}

// AddSchedule registers a job on any cron.Schedule, such as an RRule.
func (c *Cron) AddSchedule(name string, s cron.Schedule, run func(ctx context.Context) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.jobs = append(c.jobs, Job{Name: name, Schedule: s, Run: run})
}

// Run starts the jobs and blocks until ctx ends, then waits for running jobs.
func (c *Cron) Run(ctx context.Context) error {
	loc := c.Loc
	if loc == nil {
		loc = time.Local
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cr := cron.New(cron.WithLocation(loc))
	c.mu.Lock()
	for _, j := range c.jobs {
		cr.Schedule(j.Schedule, cron.FuncJob(func() {
			// The scheduled minute identifies the run, whichever replica's clock fired it.
			at := time.Now().In(loc).Truncate(time.Minute)
			if err := c.RunOnce(ctx, j, at); err != nil {
				log.Error("recurring job failed", "job", j.Name, "err", err)
			}
		}))
	}
	c.mu.Unlock()
	cr.Start()
	<-ctx.Done()
	<-cr.Stop().Done()
	return nil
}

// RunOnce runs j for the run scheduled at at, unless another replica already took that run.
func (c *Cron) RunOnce(ctx context.Context, j Job, at time.Time) error {
	first, err := c.Marks.Mark(ctx, "cron/"+j.Name+"/"+strconv.FormatInt(at.Unix(), 10), 48*time.Hour)
	if err != nil || !first {
		return err
	}
	return j.Run(ctx)
}

// Jobs returns the registered jobs.
func (c *Cron) Jobs() []Job {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Job(nil), c.jobs...)
}
